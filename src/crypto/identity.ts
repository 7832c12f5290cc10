import { ed25519 } from '@noble/curves/ed25519.js';
import { assertBytes, concatBytes, toBase64Url } from './bytes.js';
import { didFromPublicKey, publicKeyFromDid } from './did.js';
import { CryptoError } from './errors.js';
import type { Did, Signature } from './types.js';

/**
 * An Ed25519 identity. `secretKey` is the 32-byte RFC 8032 seed; it never leaves src/crypto and
 * src/store unencrypted and is never handed to a page.
 */
export interface Identity {
  readonly did: Did;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** A fresh random identity. */
export function generateIdentity(): Identity {
  return identityFromSecretKey(ed25519.utils.randomSecretKey());
}

/** The identity of a 32-byte Ed25519 seed (RFC 8032 §5.1.5). */
export function identityFromSecretKey(secretKey: Uint8Array): Identity {
  assertBytes(secretKey, 'secretKey', 32);
  const publicKey = ed25519.getPublicKey(secretKey);
  return Object.freeze({ did: didFromPublicKey(publicKey), publicKey, secretKey: secretKey.slice() });
}

type Subtle = SubtleCrypto;

function subtle(): Subtle | undefined {
  return globalThis.crypto?.subtle;
}

/** Whether this platform's WebCrypto does Ed25519 (Node ≥ 20, Chromium ≥ 113, Firefox ≥ 129). */
let webCryptoEd25519: Promise<boolean> | undefined;
function hasWebCryptoEd25519(): Promise<boolean> {
  webCryptoEd25519 ??= (async () => {
    try {
      const s = subtle();
      if (!s) return false;
      const pub = ed25519.getPublicKey(new Uint8Array(32));
      await s.importKey('raw', pub as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, ['verify']);
      return true;
    } catch {
      return false;
    }
  })();
  return webCryptoEd25519;
}

const signingKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();
/** Verifying keys by public key (hex of 32 bytes); bounded so a flood of strangers cannot grow it. */
const verifyingKeys = new Map<string, Promise<CryptoKey>>();
const MAX_CACHED_VERIFY_KEYS = 4096;

function signingKey(identity: Identity): Promise<CryptoKey> {
  let key = signingKeys.get(identity.secretKey);
  if (!key) {
    key = subtle()!.importKey(
      'jwk',
      { kty: 'OKP', crv: 'Ed25519', d: toBase64Url(identity.secretKey), x: toBase64Url(identity.publicKey) },
      { name: 'Ed25519' },
      false,
      ['sign'],
    );
    signingKeys.set(identity.secretKey, key);
  }
  return key;
}

function verifyingKey(publicKey: Uint8Array): Promise<CryptoKey> {
  const id = toBase64Url(publicKey);
  let key = verifyingKeys.get(id);
  if (!key) {
    if (verifyingKeys.size >= MAX_CACHED_VERIFY_KEYS) verifyingKeys.clear();
    key = subtle()!.importKey('raw', publicKey as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, ['verify']);
    verifyingKeys.set(id, key);
  }
  return key;
}

function checkIdentity(identity: Identity): void {
  if (typeof identity !== 'object' || identity === null) throw new CryptoError('INVALID_INPUT', '"identity" expected an Identity');
  assertBytes(identity.secretKey, 'identity.secretKey', 32);
  assertBytes(identity.publicKey, 'identity.publicKey', 32);
}

/** Ed25519 signature of `message` (RFC 8032, deterministic). WebCrypto where present, else noble. */
export async function sign(identity: Identity, message: Uint8Array): Promise<Signature> {
  checkIdentity(identity);
  assertBytes(message, 'message');
  if (await hasWebCryptoEd25519()) {
    const key = await signingKey(identity);
    return new Uint8Array(await subtle()!.sign({ name: 'Ed25519' }, key, message as Uint8Array<ArrayBuffer>)) as Signature;
  }
  return ed25519.sign(message, identity.secretKey) as Signature;
}

/**
 * Verifies an Ed25519 signature, strictly per RFC 8032 (no ZIP-215 leniency, so every peer, browser
 * or Node, gives the same answer). Malformed keys or signatures verify as false; a non-Uint8Array
 * input is an `INVALID_INPUT` error.
 */
export async function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  assertBytes(publicKey, 'publicKey');
  assertBytes(message, 'message');
  assertBytes(signature, 'signature');
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  if (await hasWebCryptoEd25519()) {
    try {
      const key = await verifyingKey(publicKey);
      return await subtle()!.verify({ name: 'Ed25519' }, key, signature as Uint8Array<ArrayBuffer>, message as Uint8Array<ArrayBuffer>);
    } catch {
      // An invalid point makes importKey reject: that key verifies nothing.
      verifyingKeys.delete(toBase64Url(publicKey));
      return false;
    }
  }
  return verifyReference(publicKey, message, signature);
}

/** The noble reference verifier (strict RFC 8032), used as fallback and as the tests' oracle. */
export function verifyReference(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  assertBytes(publicKey, 'publicKey');
  assertBytes(message, 'message');
  assertBytes(signature, 'signature');
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** The noble reference signer. */
export function signReference(identity: Identity, message: Uint8Array): Signature {
  checkIdentity(identity);
  assertBytes(message, 'message');
  return ed25519.sign(message, identity.secretKey) as Signature;
}

/** One item of a batch verification. */
export interface SignedMessage {
  readonly publicKey: Uint8Array;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
}

/** How many verifications are kept in flight at once (measured: 64 saturates WebCrypto here). */
const VERIFY_CONCURRENCY = 64;

/** Verifies many signatures, keeping up to 64 WebCrypto calls in flight; results in input order. */
export async function verifyBatch(items: readonly SignedMessage[]): Promise<boolean[]> {
  const results = new Array<boolean>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      const item = items[i]!;
      results[i] = await verify(item.publicKey, item.message, item.signature);
    }
  };
  await Promise.all(Array.from({ length: Math.min(VERIFY_CONCURRENCY, items.length) }, worker));
  return results;
}

/** Verifies a signature by the key a `did:key` names. A malformed did is a `BAD_DID` error. */
export function verifyByDid(did: string, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  return verify(publicKeyFromDid(did), message, signature);
}

/** The 64-byte secret‖public form libp2p's `privateKeyFromRaw` takes. */
export function libp2pRawPrivateKey(identity: Identity): Uint8Array {
  checkIdentity(identity);
  return concatBytes(identity.secretKey, identity.publicKey);
}
