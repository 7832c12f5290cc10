import { assertBytes, concatBytes, equalBytes, randomBytes } from './bytes.js';
import { CryptoError } from './errors.js';
import { nodeBuiltin } from './platform.js';
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

/** The slice of node:crypto this file uses (typed here so the browser build needs no Node types). */
interface NodeGcm {
  createCipheriv(algorithm: 'aes-256-gcm', key: Uint8Array, iv: Uint8Array, options: { authTagLength: number }): {
    setAAD(aad: Uint8Array): unknown;
    update(data: Uint8Array): Uint8Array;
    final(): Uint8Array;
    getAuthTag(): Uint8Array;
  };
  createDecipheriv(algorithm: 'aes-256-gcm', key: Uint8Array, iv: Uint8Array, options: { authTagLength: number }): {
    setAAD(aad: Uint8Array): unknown;
    setAuthTag(tag: Uint8Array): unknown;
    update(data: Uint8Array): Uint8Array;
    final(): Uint8Array;
  };
}

/**
 * Under Node, AES-GCM goes through node:crypto (the same OpenSSL as Node's WebCrypto, without a
 * promise and a thread hop per call): measured ~2× faster for 2 KB records and faster than raw
 * WebCrypto for 1 MiB chunks (`seal_throughput`, `store_put_10k` in BENCHMARKS.md). Reached
 * through `process.getBuiltinModule` (Node ≥ 20.16) so bundlers never see a node: import; the
 * browser, where it is absent, uses WebCrypto. Both produce the same bytes (tests check both).
 */
const nodeModule = nodeBuiltin;
const nodeGcm = nodeModule('node:crypto') as NodeGcm | undefined;

/**
 * An output buffer for sealing: under Node without the zero-fill that every byte of is about to be
 * overwritten anyway (1 MiB chunks: ~12% of seal time), in its own ArrayBuffer (never the pool).
 */
const allocOutput: (length: number) => Uint8Array = (() => {
  const buffer = nodeModule('node:buffer') as { Buffer: { allocUnsafeSlow(n: number): Uint8Array } } | undefined;
  // Below 64 KiB a fresh zeroed Uint8Array is cheaper than a separate unpooled allocation.
  if (!buffer) return (length) => new Uint8Array(length);
  return (length) => (length < 65_536 ? new Uint8Array(length) : new Uint8Array(buffer.Buffer.allocUnsafeSlow(length).buffer, 0, length));
})();

/** Whether seal/open use node:crypto (true under Node) rather than WebCrypto. For tests and benchmarks. */
export const AEAD_BACKEND: 'node:crypto' | 'webcrypto' = nodeGcm ? 'node:crypto' : 'webcrypto';

/** A plain Uint8Array over a Buffer's bytes, without exposing a shared pool's other bytes. */
function plainBytes(buf: Uint8Array): Uint8Array {
  return buf.byteOffset === 0 && buf.buffer.byteLength === buf.length ? new Uint8Array(buf.buffer, 0, buf.length) : Uint8Array.prototype.slice.call(buf);
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
  return nodeGcm ? sealWithNode(nodeGcm, key, nonce, plaintext, associatedData) : sealWithWebCrypto(key, nonce, plaintext, associatedData);
}

/** The WebCrypto path of {@link seal} with a given nonce (exported for the cross-backend tests). */
export async function sealWithWebCrypto(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Promise<Ciphertext> {
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
    return nodeGcm ? openWithNode(nodeGcm, key, ciphertext, associatedData) : await openWithWebCrypto(key, ciphertext, associatedData);
  } catch (cause) {
    throw new CryptoError('DECRYPT_FAILED', 'ciphertext failed authentication (wrong key, or tampered, or moved)', { cause });
  }
}

/** The WebCrypto path of {@link open}; throws the platform's error on failure (exported for tests). */
export async function openWithWebCrypto(key: Uint8Array, ciphertext: Uint8Array, associatedData: Uint8Array): Promise<Uint8Array> {
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
}

/** The node:crypto path of {@link seal} (exported for the cross-backend tests). */
export function sealWithNode(gcm: NodeGcm, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Ciphertext {
  const cipher = gcm.createCipheriv('aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_BYTES });
  cipher.setAAD(associatedData);
  const out = allocOutput(AEAD_NONCE_BYTES + plaintext.length + AEAD_TAG_BYTES);
  out.set(nonce, 0);
  const body = cipher.update(plaintext);
  out.set(body, AEAD_NONCE_BYTES);
  out.set(cipher.final(), AEAD_NONCE_BYTES + body.length); // empty for GCM
  out.set(cipher.getAuthTag(), AEAD_NONCE_BYTES + plaintext.length);
  return out as Ciphertext;
}

/** The node:crypto path of {@link open}; throws on failure (exported for tests). */
export function openWithNode(gcm: NodeGcm, key: Uint8Array, ciphertext: Uint8Array, associatedData: Uint8Array): Uint8Array {
  const tagStart = ciphertext.length - AEAD_TAG_BYTES;
  const decipher = gcm.createDecipheriv('aes-256-gcm', key, ciphertext.subarray(0, AEAD_NONCE_BYTES), { authTagLength: AEAD_TAG_BYTES });
  decipher.setAAD(associatedData);
  decipher.setAuthTag(ciphertext.subarray(tagStart));
  const plain = decipher.update(ciphertext.subarray(AEAD_NONCE_BYTES, tagStart));
  decipher.final(); // throws when the tag does not authenticate
  return plainBytes(plain);
}
