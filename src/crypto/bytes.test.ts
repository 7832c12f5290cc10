import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertBytes,
  assertString,
  concatBytes,
  equalBytes,
  fromBase58,
  fromBase64Url,
  fromHex,
  fromUtf8,
  randomBytes,
  toBase58,
  toBase64Url,
  toHex,
  utf8,
} from './bytes.js';
import { CryptoError } from './errors.js';
import { thrown } from './test-support.js';

/** Inputs that are not a Uint8Array, as a page, a peer or a bug could hand them over. */
const NOT_BYTES: readonly [string, unknown][] = [
  ['string', 'abc'],
  ['array', [1, 2, 3]],
  ['null', null],
  ['undefined', undefined],
  ['number', 42],
  ['ArrayBuffer', new ArrayBuffer(4)],
  ['DataView', new DataView(new ArrayBuffer(4))],
  ['plain object', { length: 3, 0: 1, 1: 2, 2: 3 }],
];

describe('assertBytes', () => {
  it.each(NOT_BYTES)('refuses a %s with INVALID_INPUT naming the label and the type', (type, value) => {
    const error = thrown(() => assertBytes(value, 'nonce'));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toContain('"nonce"');
    expect(error.message).toContain(type === 'plain object' ? 'object' : type);
  });

  it('refuses a wrong length, naming expected and actual length', () => {
    const error = thrown(() => assertBytes(new Uint8Array(31), 'key', 32));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toBe('"key" expected 32 bytes, got 31');
  });

  it('accepts a Uint8Array of the right length, and a Node Buffer (a Uint8Array)', () => {
    expect(() => assertBytes(new Uint8Array(32), 'key', 32)).not.toThrow();
    expect(() => assertBytes(Buffer.alloc(3), 'data')).not.toThrow();
  });
});

describe('assertString', () => {
  it('refuses non-strings and, unless allowed, the empty string', () => {
    expect(thrown(() => assertString(7, 'name')).message).toBe('"name" expected string, got number');
    expect(thrown(() => assertString('', 'name')).message).toBe('"name" must not be empty');
    expect(() => assertString('', 'name', true)).not.toThrow();
  });
});

describe('hex', () => {
  it('encodes known bytes in lower case and parses either case', () => {
    expect(toHex(new Uint8Array([0, 1, 0xab, 0xff]))).toBe('0001abff');
    expect(fromHex('0001ABff')).toEqual(new Uint8Array([0, 1, 0xab, 0xff]));
    expect(fromHex('')).toEqual(new Uint8Array(0));
  });

  it('round-trips any bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => equalBytes(fromHex(toHex(bytes)), bytes)));
  });

  it('writes what Node writes, for every byte value and for views into larger buffers', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(toHex(all)).toBe(Buffer.from(all).toString('hex'));
    expect(toHex(all.subarray(250, 254))).toBe('fafbfcfd');
  });

  it.each([['odd length', 'abc'], ['non-hex character', 'zz'], ['whitespace', 'ab cd'], ['0x prefix', '0xab'], ['sign', '-1']])(
    'refuses %s',
    (_, text) => {
      expect(thrown(() => fromHex(text)).code).toBe('INVALID_INPUT');
    },
  );

  it.each(NOT_BYTES)('toHex refuses a %s instead of encoding garbage', (_, value) => {
    expect(thrown(() => toHex(value as Uint8Array)).code).toBe('INVALID_INPUT');
  });

  it('fromHex refuses a non-string', () => {
    expect(thrown(() => fromHex(12 as unknown as string)).code).toBe('INVALID_INPUT');
  });
});

describe('base64url (RFC 4648 §5, unpadded, strict)', () => {
  it('matches the RFC 4648 §10 vectors (base64url alphabet, padding removed)', () => {
    const cases: [string, string][] = [
      ['', ''],
      ['f', 'Zg'],
      ['fo', 'Zm8'],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg'],
      ['fooba', 'Zm9vYmE'],
      ['foobar', 'Zm9vYmFy'],
    ];
    for (const [plain, encoded] of cases) {
      expect(toBase64Url(utf8(plain))).toBe(encoded);
      expect(fromUtf8(fromBase64Url(encoded))).toBe(plain);
    }
    // The two characters where base64url differs from base64: 62 → '-', 63 → '_'.
    expect(toBase64Url(new Uint8Array([0xfb, 0xff]))).toBe('-_8');
  });

  it('round-trips any bytes, and every output is accepted back', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => equalBytes(fromBase64Url(toBase64Url(bytes)), bytes)));
  });

  it('accepts exactly one encoding per byte string (non-zero unused bits are refused)', () => {
    // 'Zg' is "f"; 'Zh' decodes to the same byte if the unused bits were ignored.
    expect(thrown(() => fromBase64Url('Zh')).message).toContain('not canonical');
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), maxLength: 40 }), (text) => {
        let decoded: Uint8Array;
        try {
          decoded = fromBase64Url(text);
        } catch (error) {
          return error instanceof CryptoError && error.code === 'INVALID_INPUT';
        }
        return toBase64Url(decoded) === text;
      }),
    );
  });

  it.each([
    ['padding', 'Zg=='],
    ['standard base64 characters', 'a+b/'],
    ['whitespace', 'Zm9v Yg'],
    ['impossible length (4n + 1)', 'Zm9vY'],
    ['non-ASCII', 'Zm9v\u00e9'],
  ])('refuses %s with a labelled INVALID_INPUT', (_, text) => {
    const error = thrown(() => fromBase64Url(text, 'jwk.x'));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toContain('"jwk.x"');
  });

  it.each(NOT_BYTES)('toBase64Url refuses a %s', (_, value) => {
    expect(thrown(() => toBase64Url(value as Uint8Array)).code).toBe('INVALID_INPUT');
  });

  it('fromBase64Url refuses a non-string', () => {
    expect(thrown(() => fromBase64Url(null as unknown as string)).code).toBe('INVALID_INPUT');
  });
});

describe('base58btc', () => {
  it('matches the draft-msporny-base58 vectors', () => {
    // draft-msporny-base58-03 §5: "Hello World!" and the leading-zero case.
    expect(toBase58(utf8('Hello World!'))).toBe('2NEpo7TZRRrLZSi2U');
    expect(toBase58(fromHex('0000287fb4cd'))).toBe('11233QC4');
    expect(fromBase58('11233QC4')).toEqual(fromHex('0000287fb4cd'));
  });

  it('round-trips any bytes, leading zeros included', () => {
    fc.assert(
      fc.property(fc.nat({ max: 4 }), fc.uint8Array({ maxLength: 64 }), (zeros, tail) => {
        const bytes = concatBytes(new Uint8Array(zeros), tail);
        return equalBytes(fromBase58(toBase58(bytes)), bytes);
      }),
    );
  });

  it.each([
    ['0 (not in the alphabet)', '0abc'],
    ['O', 'Oabc'],
    ['I', 'Iabc'],
    ['l', 'labc'],
    ['whitespace', 'ab c'],
  ])('refuses %s with a labelled INVALID_INPUT', (_, text) => {
    const error = thrown(() => fromBase58(text, 'did'));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toContain('"did"');
  });

  it('refuses non-string and non-bytes inputs', () => {
    expect(thrown(() => fromBase58(5 as unknown as string)).code).toBe('INVALID_INPUT');
    expect(thrown(() => toBase58('abc' as unknown as Uint8Array)).code).toBe('INVALID_INPUT');
  });
});

describe('utf8', () => {
  it('round-trips any string of whole code points', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (text) => fromUtf8(utf8(text)) === text));
  });

  it('refuses invalid UTF-8 (a lone continuation byte, an overlong form, a surrogate)', () => {
    for (const bad of ['80', 'c0af', 'eda080']) expect(thrown(() => fromUtf8(fromHex(bad))).code).toBe('INVALID_INPUT');
  });

  it('refuses a non-string instead of encoding String(value)', () => {
    for (const value of [null, undefined, 42, {}]) {
      const error = thrown(() => utf8(value as string));
      expect(error.code).toBe('INVALID_INPUT');
      expect(error.message).toContain('"text"');
    }
    expect(thrown(() => fromUtf8('abc' as unknown as Uint8Array)).code).toBe('INVALID_INPUT');
  });
});

describe('concatBytes, equalBytes, randomBytes', () => {
  it('concatenates in order', () => {
    expect(concatBytes(new Uint8Array([1]), new Uint8Array(0), new Uint8Array([2, 3]))).toEqual(new Uint8Array([1, 2, 3]));
    expect(concatBytes()).toEqual(new Uint8Array(0));
  });

  it('names the bad part of a concatenation', () => {
    expect(thrown(() => concatBytes(new Uint8Array(1), 'x' as unknown as Uint8Array)).message).toContain('"parts[1]"');
  });

  it('compares by content and length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), (a, b) => {
        const same = a.length === b.length && a.every((x, i) => x === b[i]);
        return equalBytes(a, b) === same && equalBytes(a, a.slice());
      }),
    );
    expect(thrown(() => equalBytes(new Uint8Array(1), [0] as unknown as Uint8Array)).code).toBe('INVALID_INPUT');
  });

  it('gives fresh bytes of the asked length and refuses nonsense lengths', () => {
    expect(randomBytes(0)).toHaveLength(0);
    const a = randomBytes(32);
    const b = randomBytes(32);
    expect(a).toHaveLength(32);
    expect(equalBytes(a, b)).toBe(false);
    for (const bad of [-1, 1.5, Number.NaN, 65_537, '8' as unknown as number]) {
      expect(thrown(() => randomBytes(bad)).code).toBe('INVALID_INPUT');
    }
  });
});
