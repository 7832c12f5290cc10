import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js';
import { assertBytes } from './bytes.js';
import { CryptoError } from './errors.js';
import { nodeBuiltin } from './platform.js';
import type { Digest } from './types.js';

/** The slice of node:crypto this file uses (typed here so the browser build needs no Node types). */
export interface NodeHash {
  hash(algorithm: 'sha256', data: Uint8Array, outputEncoding: 'buffer'): Uint8Array;
}

/**
 * Under Node, SHA-256 goes through node:crypto's one-shot `hash` (OpenSSL, Node ≥ 20.12): measured
 * 2–4× faster than noble for the few hundred bytes of a log entry, where hashing was ~10% of full
 * log verification. noble elsewhere, and as the reference the tests compare against.
 */
const nodeHash = ((): NodeHash | undefined => {
  const node = nodeBuiltin('node:crypto') as Partial<NodeHash> | undefined;
  return typeof node?.hash === 'function' ? (node as NodeHash) : undefined;
})();

/** Which backend {@link sha256} uses here. For tests and benchmarks. */
export const SHA256_BACKEND: 'node:crypto' | 'noble' = nodeHash ? 'node:crypto' : 'noble';

/** SHA-256 of `data` (FIPS 180-4). Synchronous; use {@link sha256Async} for large inputs. */
export function sha256(data: Uint8Array): Digest {
  assertBytes(data, 'data');
  return nodeHash ? sha256WithNode(nodeHash, data) : (nobleSha256(data) as Digest);
}

/** The node:crypto path of {@link sha256}, as a plain Uint8Array of 32 bytes (exported for the cross-backend tests). */
export function sha256WithNode(node: NodeHash, data: Uint8Array): Digest {
  const digest = node.hash('sha256', data, 'buffer');
  // A Buffer of its own 32-byte ArrayBuffer (never the shared pool): viewed, not copied.
  return (digest.byteOffset === 0 && digest.buffer.byteLength === 32 ? new Uint8Array(digest.buffer, 0, 32) : new Uint8Array(digest)) as Digest;
}

/** The noble path of {@link sha256} (the reference). */
export function sha256Reference(data: Uint8Array): Digest {
  assertBytes(data, 'data');
  return nobleSha256(data) as Digest;
}

/** SHA-256 through WebCrypto: much faster for large inputs (measured ~1.3 GB/s here). */
export async function sha256Async(data: Uint8Array): Promise<Digest> {
  assertBytes(data, 'data');
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>)) as Digest;
}

/** HMAC-SHA-256 (RFC 2104). Used as the keyed hash that hides record ids in documents. */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Digest {
  assertBytes(key, 'key');
  assertBytes(data, 'data');
  if (key.length < 16) throw new CryptoError('INVALID_INPUT', '"key" expected at least 16 bytes');
  return hmac(nobleSha256, key, data) as Digest;
}

/** HKDF-SHA-256 (RFC 5869): extract with `salt`, expand with `info` to `length` bytes. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  assertBytes(ikm, 'ikm');
  assertBytes(salt, 'salt');
  assertBytes(info, 'info');
  if (!Number.isSafeInteger(length) || length < 1 || length > 255 * 32) {
    throw new CryptoError('INVALID_INPUT', `"length" expected 1..${255 * 32}, got ${length}`);
  }
  return nobleHkdf(nobleSha256, ikm, salt, info, length);
}
