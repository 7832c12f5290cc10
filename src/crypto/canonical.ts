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
  const fast = decodeStrictSubset(bytes);
  if (fast !== UNDECIDED) return fast;
  return decodeCanonicalGeneral(bytes);
}

/**
 * The general path of {@link decodeCanonical}: decode with @ipld/dag-cbor, re-encode, compare.
 * Exported for the tests that check the single-pass path against it.
 */
export function decodeCanonicalGeneral(bytes: Uint8Array): unknown {
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

/*
 * Single-pass strict decoding of the common subset (log headers and bodies, tree heads). Decoding
 * with the library and re-encoding to compare was ~25% of full log verification; this reads the
 * bytes once and accepts only what the general path provably accepts, giving the same value:
 *   - integers in the shortest head (RFC 8949 §4.2.1) within ±(2^53 − 1), as numbers;
 *   - byte strings, as fresh plain Uint8Arrays (the library copies too);
 *   - ASCII text strings (no UTF-8 or BOM questions: every byte < 0x80);
 *   - arrays; maps whose keys are non-empty ASCII text in DAG-CBOR order (shorter first, then
 *     bytewise; strictly increasing, so no duplicates), never "__proto__";
 *   - false, true, null; nesting up to MAX_CANONICAL_DEPTH; no bytes after the item.
 * Such bytes are exactly the canonical encoding of the value read from them. Anything else (tags,
 * floats, undefined, non-ASCII text, big integers, non-shortest heads, unsorted keys, indefinite
 * lengths, truncation, trailing bytes) is left UNDECIDED for the general path, which accepts or
 * refuses it with its own error: this path never refuses anything itself.
 */

/** "Not decided here: ask the general path", as {@link decodeStrictSubset} returns it. */
const UNDECIDED: unique symbol = Symbol('undecided');

/** The same, thrown inside the recursive reader: one instance, made once (no stack per throw). */
class LeftToGeneralPath extends Error {
  override readonly name = 'LeftToGeneralPath';
}
const STOP = new LeftToGeneralPath('left to the general path');

/** Longest text string read here (longer ones go the general way; bodies cap text far below). */
const MAX_FAST_TEXT = 4096;

let input: Uint8Array = new Uint8Array(0);
let at = 0;

/** The single-pass decoder, or UNDECIDED. Exported for the tests that compare it with the general path. */
export function decodeStrictSubset(bytes: Uint8Array): unknown {
  input = bytes;
  at = 0;
  try {
    const value = readItem(0);
    return at === bytes.length ? value : UNDECIDED;
  } catch (error) {
    if (error === STOP) return UNDECIDED;
    throw error;
  } finally {
    input = EMPTY;
  }
}
const EMPTY = new Uint8Array(0);

/** Whether {@link decodeStrictSubset} left the bytes to the general path. */
export function isUndecided(value: unknown): boolean {
  return value === UNDECIDED;
}

/** The argument of a head with additional info `info`, insisting on the shortest form (§4.2.1). */
function readArgument(info: number): number {
  if (info < 24) return info;
  const b = input;
  const i = at;
  if (info === 24) {
    if (i + 1 > b.length) throw STOP;
    const v = b[i]!;
    if (v < 24) throw STOP;
    at = i + 1;
    return v;
  }
  if (info === 25) {
    if (i + 2 > b.length) throw STOP;
    const v = (b[i]! << 8) | b[i + 1]!;
    if (v < 0x100) throw STOP;
    at = i + 2;
    return v;
  }
  if (info === 26) {
    if (i + 4 > b.length) throw STOP;
    const v = b[i]! * 0x1000000 + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!);
    if (v < 0x10000) throw STOP;
    at = i + 4;
    return v;
  }
  if (info === 27) {
    if (i + 8 > b.length) throw STOP;
    const hi = b[i]! * 0x1000000 + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!);
    const lo = b[i + 4]! * 0x1000000 + ((b[i + 5]! << 16) | (b[i + 6]! << 8) | b[i + 7]!);
    if (hi === 0 || hi > 0x1fffff) throw STOP; // below 2^32 (not shortest) or above 2^53 − 1
    const v = hi * 0x100000000 + lo;
    if (v > Number.MAX_SAFE_INTEGER) throw STOP;
    at = i + 8;
    return v;
  }
  throw STOP; // 28–30 reserved, 31 indefinite length
}

/**
 * Strings read before, by a hash of their bytes: a log repeats the same keys, dids and type names
 * thousands of times, and handing back the same (flat, already hashed) string saves building it
 * and every Map or Set lookup of it later. A hit is compared in full; bounded, cleared when full.
 */
const seenStrings = new Map<number, string>();
const MAX_SEEN_STRINGS = 4096;
const MAX_SEEN_STRING_LENGTH = 96;
/** Reused buffer of character codes for String.fromCharCode (no garbage per string but the string). */
const charCodes: number[] = [];

/** An ASCII text string of `length` bytes at the cursor. */
function readAscii(length: number): string {
  const b = input;
  const start = at;
  const end = start + length;
  if (length > MAX_FAST_TEXT || end > b.length) throw STOP;
  let hash = length;
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (c >= 0x80) throw STOP;
    hash = (Math.imul(hash, 31) + c) | 0;
  }
  at = end;
  if (length <= MAX_SEEN_STRING_LENGTH) {
    const seen = seenStrings.get(hash);
    if (seen !== undefined && sameAscii(seen, b, start, length)) return seen;
  }
  let text: string;
  if (length <= 1024) {
    charCodes.length = length;
    for (let i = 0; i < length; i++) charCodes[i] = b[start + i]!;
    text = String.fromCharCode.apply(null, charCodes);
  } else {
    text = '';
    for (let i = start; i < end; i += 1024) text += String.fromCharCode.apply(null, Array.from(b.subarray(i, Math.min(end, i + 1024))));
  }
  if (length <= MAX_SEEN_STRING_LENGTH) {
    if (seenStrings.size >= MAX_SEEN_STRINGS) seenStrings.clear();
    seenStrings.set(hash, text);
  }
  return text;
}

function sameAscii(text: string, b: Uint8Array, start: number, length: number): boolean {
  if (text.length !== length) return false;
  for (let i = 0; i < length; i++) if (text.charCodeAt(i) !== b[start + i]) return false;
  return true;
}

/** A fresh plain Uint8Array holding `length` bytes from `start` (small ones copied by hand: no view object). */
function copyBytes(b: Uint8Array, start: number, length: number): Uint8Array {
  if (length > 64) return new Uint8Array(b.subarray(start, start + length));
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = b[start + i]!;
  return out;
}

function readItem(depth: number): unknown {
  const b = input;
  if (at >= b.length) throw STOP;
  const head = b[at++]!;
  const major = head >> 5;
  const info = head & 31;
  switch (major) {
    case 0:
      return readArgument(info);
    case 1: {
      const n = readArgument(info);
      if (n >= Number.MAX_SAFE_INTEGER) throw STOP;
      return -1 - n;
    }
    case 2: {
      const length = readArgument(info);
      const start = at;
      if (start + length > b.length) throw STOP;
      at = start + length;
      return copyBytes(b, start, length);
    }
    case 3:
      return readAscii(readArgument(info));
    case 4: {
      const length = readArgument(info);
      if (depth + 1 > MAX_CANONICAL_DEPTH || length > b.length - at) throw STOP;
      const list = new Array<unknown>(length);
      for (let i = 0; i < length; i++) list[i] = readItem(depth + 1);
      return list;
    }
    case 5: {
      const length = readArgument(info);
      if (depth + 1 > MAX_CANONICAL_DEPTH || length * 2 > b.length - at) throw STOP;
      const map: Record<string, unknown> = {};
      let previousStart = 0;
      let previousLength = -1;
      for (let i = 0; i < length; i++) {
        if (at >= b.length) throw STOP;
        const keyHead = b[at++]!;
        if (keyHead >> 5 !== 3) throw STOP;
        const keyLength = readArgument(keyHead & 31);
        const keyStart = at;
        if (keyLength === 0 || !keyAfter(previousStart, previousLength, keyStart, keyLength)) throw STOP;
        const key = readAscii(keyLength);
        if (key === '__proto__') throw STOP;
        map[key] = readItem(depth + 1);
        previousStart = keyStart;
        previousLength = keyLength;
      }
      return map;
    }
    default:
      if (major === 7) {
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
      }
      throw STOP; // tags (6), undefined, floats, other simple values
  }
}

/** DAG-CBOR key order: the key at (start, length) comes strictly after the previous one (shorter first, then bytewise). */
function keyAfter(previousStart: number, previousLength: number, start: number, length: number): boolean {
  if (previousLength < 0) return true;
  if (length !== previousLength) return length > previousLength;
  const b = input;
  if (start + length > b.length) return false;
  for (let i = 0; i < length; i++) {
    const x = b[start + i]!;
    const y = b[previousStart + i]!;
    if (x !== y) return x > y;
  }
  return false; // equal: a duplicate key
}
