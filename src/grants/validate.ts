import { fromBase64Url, parseDid, toBase64Url, type Did } from '../crypto/index.js';
import { MAX_LIST_ITEMS, MAX_TEXT_LENGTH } from './constants.js';
import { isScopeName, type ScopeName } from './scopes.js';
import type { EntryId } from './types.js';

/**
 * Hand-written guards for decoded DAG-CBOR (CONVENTIONS.md §7: validate at the door). Each throws
 * {@link Invalid} naming the field, never its value.
 */
export class Invalid extends Error {
  override readonly name = 'Invalid';
}

/** A plain object with exactly `keys` (no more, no fewer). */
export function exactObject(value: unknown, keys: readonly string[], label: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new Invalid(`${label} is not a map`);
  }
  const record = value as Record<string, unknown>;
  const present = Object.keys(record);
  if (present.length !== keys.length || !keys.every((k) => Object.hasOwn(record, k))) {
    throw new Invalid(`${label} must have exactly the fields ${keys.join(', ')}`);
  }
  return record;
}

/**
 * Dids already checked: a log names the same few parties thousands of times, and the check
 * (base58 decode and re-encode) is the costliest part of reading a header. Bounded; cleared when full.
 */
const checkedDids = new Set<string>();
const MAX_CHECKED_DIDS = 8192;

/** A canonical did:key. */
export function didField(value: unknown, label: string): Did {
  if (typeof value === 'string' && checkedDids.has(value)) return value as Did;
  let did: Did;
  try {
    did = parseDid(value);
  } catch {
    throw new Invalid(`${label} is not a canonical did:key`);
  }
  if (checkedDids.size >= MAX_CHECKED_DIDS) checkedDids.clear();
  checkedDids.add(did);
  return did;
}

/** 32 raw bytes naming an entry, as its base64url id. */
export function idField(value: unknown, label: string): EntryId {
  if (!(value instanceof Uint8Array) || value.length !== 32) throw new Invalid(`${label} is not a 32-byte entry id`);
  return toBase64Url(value) as EntryId;
}

/**
 * A plain Uint8Array of `bytes`: the canonical encoder may hand back a Node Buffer (it does under
 * vitest), whose `slice()` is a view, not a copy; bytes we give out must behave like Uint8Array.
 */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes);
}

/** The 32 bytes of an entry id (ids are made by this module, so they always decode). */
export function idBytes(id: EntryId | string): Uint8Array {
  return fromBase64Url(id, 'entry id');
}

/** An integer in [min, max]. */
export function intField(value: unknown, label: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new Invalid(`${label} is not an integer in ${min}..${max}`);
  }
  return value;
}

/** A timestamp (ms since the epoch) or null. */
export function optionalTime(value: unknown, label: string): number | null {
  return value === null ? null : intField(value, label, 0, Number.MAX_SAFE_INTEGER);
}

/** A non-empty string of at most `max` characters. */
export function textField(value: unknown, label: string, max = MAX_TEXT_LENGTH): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw new Invalid(`${label} is not a string of 1..${max} characters`);
  return value;
}

/** Text or null. */
export function optionalText(value: unknown, label: string): string | null {
  return value === null ? null : textField(value, label);
}

/** One of `options`. */
export function oneOf<T extends string>(value: unknown, options: readonly T[], label: string): T {
  if (typeof value !== 'string' || !(options as readonly string[]).includes(value)) throw new Invalid(`${label} must be one of ${options.join(', ')}`);
  return value as T;
}

/** A list of at most `max` items, each checked by `item`. */
export function listField<T>(value: unknown, label: string, item: (v: unknown, label: string) => T, max = MAX_LIST_ITEMS): T[] {
  if (!Array.isArray(value)) throw new Invalid(`${label} is not a list`);
  if (value.length > max) throw new Invalid(`${label} has more than ${max} items`);
  return value.map((v, i) => item(v, `${label}[${i}]`));
}

/** Throws unless `items` are strictly ascending by `key` (so each list has exactly one encoding). */
export function strictlyAscending<T>(items: readonly T[], label: string, key: (t: T) => string = String): void {
  for (let i = 1; i < items.length; i++) {
    if (!(key(items[i - 1]!) < key(items[i]!))) throw new Invalid(`${label} must be sorted and without duplicates`);
  }
}

/** A scope name. */
export function scopeField(value: unknown, label: string): ScopeName {
  if (!isScopeName(value)) throw new Invalid(`${label} is not a scope name`);
  return value;
}
