import {
  MAX_KEY_CHARS,
  MAX_OBJECT_KEYS,
  MAX_PARAMS_DEPTH,
  MAX_REQUEST_CHARS,
} from './constants.js';
import { rpcErrors } from './errors.js';

/**
 * Property names that must never reach code that merges or indexes objects. `JSON.parse` makes
 * `__proto__` an own property, harmless until someone spreads or assigns it; we refuse it outright.
 */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** A value that is plain JSON: null, boolean, finite number, string, array, plain object. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Checks that `value` is plain JSON within the limits and returns an estimate of its size in
 * characters. Throws -32602 naming the path of the first problem. Iterative, so a deep value
 * cannot overflow the stack.
 */
export function assertSafeJson(value: unknown, limitChars = MAX_REQUEST_CHARS): number {
  let size = 0;
  const stack: { value: unknown; depth: number; path: string }[] = [{ value, depth: 0, path: '' }];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const item = stack.pop()!;
    const v = item.value;
    if (item.depth > MAX_PARAMS_DEPTH) throw rpcErrors.invalidParams('params are nested too deeply', item.path);
    if (v === null || typeof v === 'boolean') size += 5;
    else if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw rpcErrors.invalidParams('numbers must be finite', item.path);
      size += 24;
    } else if (typeof v === 'string') size += v.length + 2;
    else if (typeof v === 'object') {
      if (seen.has(v)) throw rpcErrors.invalidParams('params must not contain cycles or shared objects', item.path);
      seen.add(v);
      if (Array.isArray(v)) {
        size += 2 + v.length;
        for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth: item.depth + 1, path: join(item.path, String(i)) });
      } else {
        const proto: unknown = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) throw rpcErrors.invalidParams('params must be plain JSON', item.path);
        const keys = Object.keys(v);
        if (keys.length > MAX_OBJECT_KEYS) throw rpcErrors.invalidParams('an object in params has too many keys', item.path);
        // Symbol keys and accessors cannot come from JSON; refuse them if a caller builds them.
        if (Object.getOwnPropertySymbols(v).length > 0) throw rpcErrors.invalidParams('params must be plain JSON', item.path);
        size += 2;
        for (const key of keys) {
          if (FORBIDDEN_KEYS.has(key)) throw rpcErrors.invalidParams(`forbidden property name "${key}"`, item.path);
          if (key.length > MAX_KEY_CHARS) throw rpcErrors.invalidParams('a property name is too long', item.path);
          const desc = Object.getOwnPropertyDescriptor(v, key);
          if (desc === undefined || !('value' in desc)) throw rpcErrors.invalidParams('params must be plain JSON', item.path);
          size += key.length + 4;
          stack.push({ value: desc.value, depth: item.depth + 1, path: join(item.path, key) });
        }
      }
    } else {
      throw rpcErrors.invalidParams('params must be plain JSON', item.path);
    }
    if (size > limitChars) throw rpcErrors.invalidParams('params are too large', item.path);
  }
  return size;
}

/**
 * Parses request text from a page: length-checked before parsing, then {@link assertSafeJson}.
 */
export function parseRequestText(text: string, limitChars = MAX_REQUEST_CHARS): unknown {
  if (text.length > limitChars) throw rpcErrors.invalidRequest('request is too large');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw rpcErrors.invalidRequest('request is not valid JSON');
  }
  assertSafeJson(value, limitChars);
  return value;
}

function join(path: string, key: string): string {
  const safe = key.length > 40 ? `${key.slice(0, 40)}…` : key;
  return path === '' ? safe : `${path}.${safe}`;
}
