import { StoreError } from './errors.js';
import type { BatchOperation, RangeOptions } from './storage.js';

/**
 * Longest storage key, in UTF-16 code units. Keys are identifiers (prefixes and keyed hashes),
 * never content, so 1024 is generous; the bound keeps a hostile caller from making the backend
 * index megabyte-long keys.
 */
export const MAX_STORAGE_KEY_LENGTH = 1024;
/** Largest value: one sealed 64 MiB chunk (src/crypto AEAD_MAX_PLAINTEXT) plus framing. */
export const MAX_STORAGE_VALUE_BYTES = 64 * 1024 * 1024 + 1024;
/** Most operations in one atomic batch. */
export const MAX_BATCH_OPERATIONS = 100_000;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  if (value instanceof ArrayBuffer) return 'ArrayBuffer';
  return typeof value;
}

/** Checks a storage key at the door: a non-empty string of at most {@link MAX_STORAGE_KEY_LENGTH}. */
export function checkKey(key: unknown, label = 'key'): asserts key is string {
  if (typeof key !== 'string') throw new StoreError('INVALID_INPUT', `"${label}" expected string, got ${describe(key)}`);
  if (key.length === 0) throw new StoreError('INVALID_INPUT', `"${label}" must not be empty`);
  if (key.length > MAX_STORAGE_KEY_LENGTH) {
    throw new StoreError('INVALID_INPUT', `"${label}" longer than ${MAX_STORAGE_KEY_LENGTH} UTF-16 code units`);
  }
}

/** Checks a range prefix: a string (empty means every key) no longer than a key. */
export function checkPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string') throw new StoreError('INVALID_INPUT', `"prefix" expected string, got ${describe(prefix)}`);
  if (prefix.length > MAX_STORAGE_KEY_LENGTH) {
    throw new StoreError('INVALID_INPUT', `"prefix" longer than ${MAX_STORAGE_KEY_LENGTH} UTF-16 code units`);
  }
}

/** Checks a value: a Uint8Array (a Node Buffer is one) of at most {@link MAX_STORAGE_VALUE_BYTES}. */
export function checkValue(value: unknown, label = 'value'): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new StoreError('INVALID_INPUT', `"${label}" expected Uint8Array, got ${describe(value)}`);
  if (value.length > MAX_STORAGE_VALUE_BYTES) {
    throw new StoreError('INVALID_INPUT', `"${label}" larger than ${MAX_STORAGE_VALUE_BYTES} bytes`);
  }
}

/** Checks range options; returns the limit (undefined: no limit). */
export function checkRangeOptions(options: unknown): number | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) {
    throw new StoreError('INVALID_INPUT', `"options" expected object, got ${describe(options)}`);
  }
  const limit = (options as RangeOptions).limit;
  if (limit === undefined) return undefined;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0) {
    throw new StoreError('INVALID_INPUT', '"limit" expected an integer ≥ 0');
  }
  return limit;
}

/**
 * Checks every operation of a batch before any is applied, so a batch with one bad operation
 * writes nothing.
 */
export function checkBatch(operations: unknown): readonly BatchOperation[] {
  if (!Array.isArray(operations)) throw new StoreError('INVALID_INPUT', `"operations" expected array, got ${describe(operations)}`);
  if (operations.length > MAX_BATCH_OPERATIONS) {
    throw new StoreError('INVALID_INPUT', `"operations" holds more than ${MAX_BATCH_OPERATIONS} operations`);
  }
  operations.forEach((op: unknown, i) => {
    if (typeof op !== 'object' || op === null) throw new StoreError('INVALID_INPUT', `"operations[${i}]" expected object, got ${describe(op)}`);
    const { type, key, value } = op as { type?: unknown; key?: unknown; value?: unknown };
    checkKey(key, `operations[${i}].key`);
    if (type === 'put') checkValue(value, `operations[${i}].value`);
    else if (type !== 'delete') throw new StoreError('INVALID_INPUT', `"operations[${i}].type" must be 'put' or 'delete'`);
  });
  return operations as readonly BatchOperation[];
}

/**
 * An exact-size copy: the backend never keeps a caller's buffer (which the caller may mutate), and a
 * view into a larger buffer (a subarray, a pooled Node Buffer) is not stored with its neighbours.
 */
export function copyBytes(value: Uint8Array): Uint8Array {
  const copy = new Uint8Array(value.length);
  copy.set(value);
  return copy;
}

/**
 * The smallest string greater than every string that starts with `prefix` (UTF-16 code-unit
 * order), or undefined when no such bound exists (empty prefix, or only U+FFFF units). Strings in
 * [prefix, successor) are exactly those starting with prefix.
 */
export function prefixSuccessor(prefix: string): string | undefined {
  let end = prefix.length;
  while (end > 0 && prefix.charCodeAt(end - 1) === 0xffff) end--;
  if (end === 0) return undefined;
  return prefix.slice(0, end - 1) + String.fromCharCode(prefix.charCodeAt(end - 1) + 1);
}

/** Throws `CLOSED` for an operation on a closed storage. */
export function closedError(backend: string): StoreError {
  return new StoreError('CLOSED', `${backend} storage is closed`);
}
