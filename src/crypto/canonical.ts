import * as dagCbor from '@ipld/dag-cbor';
import { CID } from 'multiformats/cid';
import { assertBytes, equalBytes } from './bytes.js';
import { CryptoError } from './errors.js';

/**
 * The one canonical encoding of everything signed or hashed: DAG-CBOR (deterministic CBOR,
 * RFC 8949 §4.2 core rules plus DAG-CBOR's map-key order and no floats-for-integers ambiguity).
 * Chosen over RFC 8785 JSON because entries carry raw bytes (hashes, sealed keys) without base64.
 */
export function encodeCanonical(value: unknown): Uint8Array {
  // Refuse what decodeCanonical would refuse, before the recursive encoder sees it: bytes that
  // nobody can decode must never be signed. This also turns a cycle into a clear error.
  checkValueDepth(value);
  try {
    return dagCbor.encode(value);
  } catch (cause) {
    throw new CryptoError('INVALID_INPUT', 'value cannot be canonically encoded (undefined, NaN, Infinity, functions, non-string map keys?)', { cause });
  }
}

/**
 * Iterative walk of a value to be encoded, counting nesting as the decoder's depth check does:
 * each array, map or object is one level, and so is a CID (tag 42 around its bytes).
 */
function checkValueDepth(value: unknown): void {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: v, depth } = stack.pop()!;
    if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v) || v instanceof ArrayBuffer) continue;
    if (depth + 1 > MAX_CANONICAL_DEPTH) {
      throw new CryptoError('INVALID_INPUT', `value nests deeper than ${MAX_CANONICAL_DEPTH} levels (or is cyclic)`);
    }
    if (CID.asCID(v)) continue;
    const children: unknown[] = Array.isArray(v) ? v : v instanceof Map ? [...(v as Map<unknown, unknown>).values()] : Object.values(v);
    for (const child of children) stack.push({ value: child, depth: depth + 1 });
  }
}

/** Largest canonical document we decode at once. */
export const MAX_CANONICAL_BYTES = 16 * 1024 * 1024;
/** Deepest nesting we accept: real entries nest 4 levels; this bounds recursion on hostile input. */
export const MAX_CANONICAL_DEPTH = 32;

/**
 * Decodes DAG-CBOR and insists the bytes were the canonical encoding: a value with another
 * encoding (long-form integers, unsorted keys, indefinite lengths…) is `NON_CANONICAL`, never
 * silently normalised, because a signature covers bytes, not values.
 */
export function decodeCanonical(bytes: Uint8Array, maxBytes = MAX_CANONICAL_BYTES): unknown {
  assertBytes(bytes, 'bytes');
  if (bytes.length > maxBytes) throw new CryptoError('INVALID_INPUT', `"bytes" longer than ${maxBytes}`);
  checkDepth(bytes);
  let value: unknown;
  try {
    value = dagCbor.decode(bytes);
  } catch (cause) {
    throw new CryptoError('NON_CANONICAL', 'bytes are not valid DAG-CBOR', { cause });
  }
  if (!equalBytes(dagCbor.encode(value), bytes)) {
    throw new CryptoError('NON_CANONICAL', 'bytes are valid CBOR but not the canonical encoding');
  }
  return value;
}

/**
 * Walks CBOR heads without building values, to refuse deep nesting before the recursive decoder
 * sees it (RFC 8949 §3: major types 4 and 5 open containers; 6 is a tag that wraps one item).
 */
function checkDepth(bytes: Uint8Array): void {
  const pending: number[] = []; // items still to read in each open container
  let i = 0;
  let items = 1;
  while (items > 0 || pending.length > 0) {
    if (items === 0) {
      items = pending.pop()!;
      continue;
    }
    if (i >= bytes.length) return; // truncated: the decoder reports it
    const head = bytes[i++]!;
    const major = head >> 5;
    const info = head & 31;
    let arg: number;
    if (info < 24) arg = info;
    else if (info === 24) arg = bytes[i++] ?? 0;
    else if (info === 25) { arg = ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0); i += 2; }
    else if (info === 26) { arg = ((bytes[i] ?? 0) * 2 ** 24) + (((bytes[i + 1] ?? 0) << 16) | ((bytes[i + 2] ?? 0) << 8) | (bytes[i + 3] ?? 0)); i += 4; }
    else if (info === 27) { arg = Number.MAX_SAFE_INTEGER; i += 8; }
    else return; // indefinite lengths and reserved values: the decoder refuses them
    items--;
    if (major === 2 || major === 3) {
      i += arg;
    } else if (major === 4 || major === 5 || major === 6) {
      const inner = major === 4 ? arg : major === 5 ? arg * 2 : 1;
      if (inner > bytes.length) return; // claims more items than bytes: the decoder refuses it
      pending.push(items);
      if (pending.length > MAX_CANONICAL_DEPTH) {
        throw new CryptoError('NON_CANONICAL', `nesting deeper than ${MAX_CANONICAL_DEPTH}`);
      }
      items = inner;
    }
  }
}
