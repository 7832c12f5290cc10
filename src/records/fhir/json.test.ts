import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, decodeUtf8, jsonDepth, parseJsonSafely } from './json.js';
import { RecordsError } from '../errors.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof RecordsError) return e.code;
    throw e;
  }
  return undefined;
}

describe('safe JSON', () => {
  it('measures nesting outside strings only', () => {
    expect(jsonDepth('{"a":[1,{"b":[]}]}')).toBe(4);
    expect(jsonDepth('{"a":"[[[[{{{{"}')).toBe(1);
    expect(jsonDepth('{"a":"\\"[[["}')).toBe(1);
  });

  it('refuses a million nested arrays with TOO_DEEP instead of overflowing the stack', () => {
    const deep = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    expect(codeOf(() => parseJsonSafely(deep))).toBe('TOO_DEEP');
  });

  it('accepts nesting up to the limit', () => {
    const ok = '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH);
    expect(Array.isArray(parseJsonSafely(ok))).toBe(true);
    const over = '['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1);
    expect(codeOf(() => parseJsonSafely(over))).toBe('TOO_DEEP');
  });

  it('refuses malformed JSON without quoting it', () => {
    try {
      parseJsonSafely('{"resourceType":"Patient","name":SECRET-NAME}');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(RecordsError);
      expect((e as RecordsError).code).toBe('MALFORMED_JSON');
      expect((e as RecordsError).message).not.toContain('SECRET');
    }
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(codeOf(() => decodeUtf8(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])))).toBe('INVALID_ENCODING');
    expect(decodeUtf8(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]))).toBe('{}');
  });
});
