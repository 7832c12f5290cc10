import fc from 'fast-check';
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
    expect(jsonDepth('{"a":"\\\\"}[[')).toBe(2);
    expect(jsonDepth('{"a":"unterminated [[[')).toBe(1);
  });

  it('measures as a character-by-character scan does, on any text of quotes, backslashes and brackets', () => {
    // The plain definition: inside a string a backslash escapes the next character.
    const reference = (text: string): number => {
      let depth = 0;
      let max = 0;
      let inString = false;
      for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (inString) {
          if (c === '\\') i++;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === '{' || c === '[') max = Math.max(max, ++depth);
        else if (c === '}' || c === ']') depth--;
      }
      return max;
    };
    const text = fc.array(fc.constantFrom('"', '\\', '[', ']', '{', '}', 'a', ':', ','), { maxLength: 60 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(text, (t) => {
        expect(jsonDepth(t, 1000)).toBe(reference(t));
      }),
      { seed: 11, numRuns: 3000 },
    );
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
