declare const brand: unique symbol;

/** A nominal type: `Brand<string, 'Did'>` cannot be passed where a plain string was made. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A `did:key` naming an Ed25519 public key. */
export type Did = Brand<string, 'Did'>;
/** Output of AEAD sealing: nonce ‖ ciphertext ‖ tag. */
export type Ciphertext = Brand<Uint8Array, 'Ciphertext'>;
/** A 256-bit symmetric key. */
export type SymmetricKey = Brand<Uint8Array, 'SymmetricKey'>;
/** A SHA-256 digest. */
export type Digest = Brand<Uint8Array, 'Digest'>;
/** An Ed25519 signature (64 bytes). */
export type Signature = Brand<Uint8Array, 'Signature'>;
