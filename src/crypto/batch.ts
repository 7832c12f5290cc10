/**
 * Batch fast paths of two src/crypto operations, for writers that seal or hash thousands of small
 * values at once (the vault's `batchSealed`, the record store's import):
 *
 * - {@link sealMany}: AES-256-GCM over many values under one key. Each value is still its own
 *   ciphertext with its own fresh random 96-bit nonce and its own associated data, byte for byte
 *   what `seal` of src/crypto produces (nonce ‖ ct ‖ tag), behind an optional clear header. What a
 *   batch shares is set-up work that per-value `seal` calls repeat (profile of `store_put_10k`,
 *   10,000 × 2 KB): one `getRandomValues` call for all nonces (~5 µs per 12-byte call under Node,
 *   as much as the cipher itself); under Node the key imported once as a `KeyObject` (a raw key is
 *   re-imported by every `createCipheriv`) and no promise per value; outputs written in place
 *   (header, nonce, body, tag) into shared buffers instead of one allocation and a re-copy each.
 * - {@link keyedHasher}: HMAC-SHA-256 under one key for many messages: under Node through
 *   node:crypto with the key imported once (noble re-derives the padded key state for every call:
 *   ~30 µs of a record store import's per-record cost); noble via src/crypto in the browser.
 *
 * Tests check both against `open` and `hmacSha256` and the node:crypto and WebCrypto paths against
 * each other.
 */
import { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES } from './aead.js';
import { hmacSha256 } from './hash.js';
import type { Digest, SymmetricKey } from './types.js';
import { nodeBuiltin } from './platform.js';

/**
 * One value to seal and the associated data that binds it to its place. A string plaintext is
 * sealed as its UTF-8 bytes (under Node without a separate encoding pass and its garbage: the
 * record store seals ~8 MB of JSON text per 10k records).
 */
export interface SealItem {
  readonly plaintext: Uint8Array | string;
  readonly associatedData: Uint8Array;
}

/** The slice of node:crypto used here (typed locally so the browser build needs no Node types). */
export interface NodeCryptoSlice {
  createSecretKey(key: Uint8Array): unknown;
  createCipheriv(
    algorithm: 'aes-256-gcm',
    key: unknown,
    iv: Uint8Array,
    options: { authTagLength: number },
  ): { setAAD(aad: Uint8Array): unknown; update(data: Uint8Array | string, inputEncoding?: 'utf8'): Uint8Array; final(): Uint8Array; getAuthTag(): Uint8Array };
  createHmac(algorithm: 'sha256', key: unknown): { update(data: Uint8Array): { digest(): Uint8Array } };
}

/** node:crypto under Node (≥ 20.16, through getBuiltinModule so bundlers see no node: import), else undefined. */
const nodeCrypto = nodeBuiltin('node:crypto') as NodeCryptoSlice | undefined;

/** Whether {@link sealMany} and {@link keyedHasher} use node:crypto (true under Node). For tests. */
export const BATCH_CRYPTO_BACKEND: 'node:crypto' | 'webcrypto' = nodeCrypto ? 'node:crypto' : 'webcrypto';

/**
 * Outputs of a batch are written into shared buffers of this size (a larger one gets its own): one
 * allocation per ~100 values of 2 KB instead of one each, which the profile showed as
 * garbage-collector time. Callers hand them to `Storage.batch` (every backend copies what it keeps;
 * a conformance test checks it) or into an Automerge document (which copies too).
 */
const ARENA_BYTES = 256 * 1024;
/** `getRandomValues` fills at most 65,536 bytes per call (WebCrypto §10.1.1). */
const MAX_RANDOM_BYTES_PER_CALL = 65_536;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/**
 * Imported keys by the key array they came from, with a copy of its bytes compared on every use (a
 * caller that overwrites a key array in place gets the key the bytes now hold, as in src/crypto).
 */
const imported = new WeakMap<Uint8Array, { readonly bytes: Uint8Array; readonly node?: unknown; webcrypto?: Promise<CryptoKey> }>();

function keyEntry(key: Uint8Array): { readonly bytes: Uint8Array; readonly node?: unknown; webcrypto?: Promise<CryptoKey> } {
  const cached = imported.get(key);
  if (cached && sameBytes(cached.bytes, key)) return cached;
  const bytes = key.slice();
  const entry = nodeCrypto ? { bytes, node: nodeCrypto.createSecretKey(bytes) } : { bytes };
  imported.set(key, entry);
  return entry;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Fresh random nonces for `count` values, from as few `getRandomValues` calls as allowed. */
export function freshNonces(count: number): Uint8Array {
  const nonces = new Uint8Array(count * AEAD_NONCE_BYTES);
  for (let offset = 0; offset < nonces.length; offset += MAX_RANDOM_BYTES_PER_CALL) {
    globalThis.crypto.getRandomValues(nonces.subarray(offset, offset + MAX_RANDOM_BYTES_PER_CALL));
  }
  return nonces;
}

/**
 * Seals each item under `key` with a fresh random nonce: `header ‖ nonce ‖ ciphertext ‖ tag`, in
 * order. Throws `TypeError`/`RangeError` for a wrong key or input (callers check their inputs first).
 */
export function sealMany(key: SymmetricKey, items: readonly SealItem[], header: Uint8Array = EMPTY): Promise<Uint8Array[]> {
  if (!(key instanceof Uint8Array) || key.length !== AEAD_KEY_BYTES) throw new TypeError(`"key" expected ${AEAD_KEY_BYTES} bytes`);
  if (!(header instanceof Uint8Array)) throw new TypeError('"header" expected Uint8Array');
  for (const [i, item] of items.entries()) {
    if (!(item.plaintext instanceof Uint8Array || typeof item.plaintext === 'string') || !(item.associatedData instanceof Uint8Array)) {
      throw new TypeError(`"items[${i}]" expected { plaintext: Uint8Array | string, associatedData: Uint8Array }`);
    }
  }
  const entry = keyEntry(key);
  const nonces = freshNonces(items.length);
  if (nodeCrypto) return Promise.resolve(sealManyWithNode(nodeCrypto, entry.node, items, nonces, header));
  entry.webcrypto ??= globalThis.crypto.subtle.importKey('raw', entry.bytes as Uint8Array<ArrayBuffer>, { name: 'AES-GCM' }, false, ['encrypt']);
  return sealManyWithWebCrypto(entry.webcrypto, items, nonces, header);
}

/**
 * The node:crypto path of {@link sealMany}, nonce i taken from `nonces` at i × 12 (exported for the
 * cross-backend tests; callers use {@link sealMany}, which draws fresh nonces).
 */
export function sealManyWithNode(gcm: Pick<NodeCryptoSlice, 'createCipheriv'>, key: unknown, items: readonly SealItem[], nonces: Uint8Array, header: Uint8Array = EMPTY): Uint8Array[] {
  checkNonces(items, nonces);
  const overhead = header.length + AEAD_NONCE_BYTES + AEAD_TAG_BYTES;
  const out: Uint8Array[] = new Array<Uint8Array>(items.length);
  let arena = EMPTY;
  let used = 0;
  for (let i = 0; i < items.length; i++) {
    const { plaintext, associatedData } = items[i]!;
    const nonce = nonces.subarray(i * AEAD_NONCE_BYTES, (i + 1) * AEAD_NONCE_BYTES);
    const cipher = gcm.createCipheriv('aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_BYTES });
    cipher.setAAD(associatedData);
    // GCM is a stream mode: update returns exactly as many bytes as it was given, final none.
    const body = typeof plaintext === 'string' ? cipher.update(plaintext, 'utf8') : cipher.update(plaintext);
    const rest = cipher.final();
    const length = overhead + body.length + rest.length;
    let sealed: Uint8Array;
    if (length > ARENA_BYTES) {
      sealed = new Uint8Array(length);
    } else {
      if (used + length > arena.length) {
        arena = new Uint8Array(ARENA_BYTES);
        used = 0;
      }
      sealed = arena.subarray(used, used + length);
      used += length;
    }
    const bodyAt = header.length + AEAD_NONCE_BYTES;
    sealed.set(header, 0);
    sealed.set(nonce, header.length);
    sealed.set(body, bodyAt);
    sealed.set(rest, bodyAt + body.length);
    sealed.set(cipher.getAuthTag(), bodyAt + body.length + rest.length);
    out[i] = sealed;
  }
  return out;
}

/** The WebCrypto path of {@link sealMany}, nonce i taken from `nonces` at i × 12 (exported for the cross-backend tests). */
export async function sealManyWithWebCrypto(key: Promise<CryptoKey>, items: readonly SealItem[], nonces: Uint8Array, header: Uint8Array = EMPTY): Promise<Uint8Array[]> {
  checkNonces(items, nonces);
  const cryptoKey = await key;
  return Promise.all(
    items.map(async ({ plaintext, associatedData }, i) => {
      const nonce = nonces.subarray(i * AEAD_NONCE_BYTES, (i + 1) * AEAD_NONCE_BYTES);
      const body = await globalThis.crypto.subtle.encrypt(
        { name: 'AES-GCM', iv: nonce as Uint8Array<ArrayBuffer>, additionalData: associatedData as Uint8Array<ArrayBuffer>, tagLength: 128 },
        cryptoKey,
        (typeof plaintext === 'string' ? encoder.encode(plaintext) : plaintext) as Uint8Array<ArrayBuffer>,
      );
      const sealed = new Uint8Array(header.length + AEAD_NONCE_BYTES + body.byteLength);
      sealed.set(header, 0);
      sealed.set(nonce, header.length);
      sealed.set(new Uint8Array(body), header.length + AEAD_NONCE_BYTES);
      return sealed;
    }),
  );
}

function checkNonces(items: readonly SealItem[], nonces: Uint8Array): void {
  if (nonces.length !== items.length * AEAD_NONCE_BYTES) throw new RangeError(`expected ${items.length * AEAD_NONCE_BYTES} nonce bytes, got ${nonces.length}`);
}

/**
 * HMAC-SHA-256 under `key` (at least 16 bytes, as src/crypto `hmacSha256` requires), for many
 * messages: the same digests as `hmacSha256(key, data)`.
 */
export function keyedHasher(key: Uint8Array): (data: Uint8Array) => Digest {
  if (!(key instanceof Uint8Array) || key.length < 16) throw new TypeError('"key" expected at least 16 bytes');
  if (!nodeCrypto) {
    const bytes = key.slice();
    return (data) => hmacSha256(bytes, data);
  }
  const node = nodeCrypto;
  const keyObject = keyEntry(key).node;
  return (data) => {
    if (!(data instanceof Uint8Array)) throw new TypeError('"data" expected Uint8Array');
    const digest = node.createHmac('sha256', keyObject).update(data).digest();
    return (digest.byteOffset === 0 && digest.buffer.byteLength === 32 ? new Uint8Array(digest.buffer, 0, 32) : new Uint8Array(digest)) as Digest;
  };
}
