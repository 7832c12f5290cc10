import { assertBytes, concatBytes, equalBytes, randomBytes } from './bytes.js';
import { CryptoError } from './errors.js';
import type { Ciphertext, SymmetricKey } from './types.js';

/** AES-256-GCM parameters (NIST SP 800-38D): 96-bit random nonces, 128-bit tags. */
export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 12;
export const AEAD_TAG_BYTES = 16;
/** Largest plaintext sealed in one call (attachments are chunked at 1 MiB). */
export const AEAD_MAX_PLAINTEXT = 64 * 1024 * 1024;

/**
 * Imported WebCrypto keys, by the key array they came from, with a copy of the bytes they were
 * imported from. The copy is compared on every use: a caller that overwrites a key array in place
 * (zeroing it on lock, or reusing a buffer for another key) must get the key the bytes now hold,
 * never the stale import. An entry lives as long as the caller's array; drop the array to drop it.
 */
const importedKeys = new WeakMap<Uint8Array, { readonly bytes: Uint8Array; readonly key: Promise<CryptoKey> }>();

function aesKey(key: Uint8Array): Promise<CryptoKey> {
  const cached = importedKeys.get(key);
  if (cached && equalBytes(cached.bytes, key)) return cached.key;
  const bytes = key.slice();
  const imported = globalThis.crypto.subtle.importKey('raw', bytes, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  importedKeys.set(key, { bytes, key: imported });
  return imported;
}

/** A fresh random 256-bit key. */
export function generateKey(): SymmetricKey {
  return randomBytes(AEAD_KEY_BYTES) as SymmetricKey;
}

/** Checks and brands 32 bytes as a key. */
export function asSymmetricKey(bytes: Uint8Array, label = 'key'): SymmetricKey {
  assertBytes(bytes, label, AEAD_KEY_BYTES);
  return bytes as SymmetricKey;
}

/**
 * Seals `plaintext` under `key`, binding it to `associatedData` (e.g. the encoding of vault, scope
 * and record id): a ciphertext moved to another place fails to open there. Output: nonce ‖ ct ‖ tag.
 */
export async function seal(key: SymmetricKey, plaintext: Uint8Array, associatedData: Uint8Array): Promise<Ciphertext> {
  assertBytes(key, 'key', AEAD_KEY_BYTES);
  assertBytes(plaintext, 'plaintext');
  assertBytes(associatedData, 'associatedData');
  if (plaintext.length > AEAD_MAX_PLAINTEXT) throw new CryptoError('INVALID_INPUT', `"plaintext" larger than ${AEAD_MAX_PLAINTEXT} bytes`);
  const nonce = randomBytes(AEAD_NONCE_BYTES);
  const sealed = await globalThis.crypto.subtle.encrypt(
    { name: 'AES-GCM', iv: nonce as Uint8Array<ArrayBuffer>, additionalData: associatedData as Uint8Array<ArrayBuffer>, tagLength: 128 },
    await aesKey(key),
    plaintext as Uint8Array<ArrayBuffer>,
  );
  return concatBytes(nonce, new Uint8Array(sealed)) as Ciphertext;
}

/** Opens what {@link seal} made. Any change to key, nonce, ciphertext, tag or associated data: `DECRYPT_FAILED`. */
export async function open(key: SymmetricKey, ciphertext: Uint8Array, associatedData: Uint8Array): Promise<Uint8Array> {
  assertBytes(key, 'key', AEAD_KEY_BYTES);
  assertBytes(ciphertext, 'ciphertext');
  assertBytes(associatedData, 'associatedData');
  if (ciphertext.length < AEAD_NONCE_BYTES + AEAD_TAG_BYTES) {
    throw new CryptoError('DECRYPT_FAILED', '"ciphertext" is shorter than nonce and tag');
  }
  try {
    const plain = await globalThis.crypto.subtle.decrypt(
      {
        name: 'AES-GCM',
        iv: ciphertext.subarray(0, AEAD_NONCE_BYTES) as Uint8Array<ArrayBuffer>,
        additionalData: associatedData as Uint8Array<ArrayBuffer>,
        tagLength: 128,
      },
      await aesKey(key),
      ciphertext.subarray(AEAD_NONCE_BYTES) as Uint8Array<ArrayBuffer>,
    );
    return new Uint8Array(plain);
  } catch (cause) {
    throw new CryptoError('DECRYPT_FAILED', 'ciphertext failed authentication (wrong key, or tampered, or moved)', { cause });
  }
}
