import fc from 'fast-check';
import { CID } from 'multiformats/cid';
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex } from './bytes.js';
import { decodeCanonical, encodeCanonical, MAX_CANONICAL_DEPTH } from './canonical.js';
import { CryptoError } from './errors.js';
import { thrown } from './test-support.js';

/** `n` copies of the byte string `unit`, then `tail`. */
function repeat(unit: string, n: number, tail: string): Uint8Array {
  const u = fromHex(unit);
  const out = new Uint8Array(u.length * n + tail.length / 2);
  for (let i = 0; i < n; i++) out.set(u, i * u.length);
  out.set(fromHex(tail), u.length * n);
  return out;
}

describe('encodeCanonical', () => {
  it('encodes a map with keys sorted length-first, then bytewise (RFC 7049 §3.9, DAG-CBOR)', () => {
    // {"b": 2, "aa": 1, "a": 1}: "a" < "b" < "aa" (shorter keys first).
    expect(toHex(encodeCanonical({ aa: 1, b: 2, a: 1 }))).toBe('a3616101616202626161' + '01');
  });

  it('gives the same bytes whatever the insertion order', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), fc.integer()), (dict) => {
        const reversed = Object.fromEntries(Object.entries(dict).reverse());
        return toHex(encodeCanonical(dict)) === toHex(encodeCanonical(reversed));
      }),
    );
  });

  it('encodes integers in their shortest form and bytes as bytes', () => {
    expect(toHex(encodeCanonical(23))).toBe('17');
    expect(toHex(encodeCanonical(24))).toBe('1818');
    expect(toHex(encodeCanonical(-1))).toBe('20');
    expect(toHex(encodeCanonical(65536))).toBe('1a00010000');
    expect(toHex(encodeCanonical(new Uint8Array([1, 2])))).toBe('420102');
  });

  it.each([
    ['undefined', undefined],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a Map with a number key', new Map([[1, 'x']])],
    ['an object holding undefined', { a: undefined }],
  ])('refuses %s with INVALID_INPUT', (_, value) => {
    expect(thrown(() => encodeCanonical(value)).code).toBe('INVALID_INPUT');
  });

  it(`accepts nesting of exactly ${MAX_CANONICAL_DEPTH} and refuses one more, as the decoder does`, () => {
    let value: unknown = 0;
    for (let i = 0; i < MAX_CANONICAL_DEPTH; i++) value = i % 2 ? [value] : { k: value };
    const bytes = encodeCanonical(value);
    expect(decodeCanonical(bytes)).toEqual(value);
    const error = thrown(() => encodeCanonical([value]));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toContain(`deeper than ${MAX_CANONICAL_DEPTH}`);
  });

  it('counts a CID (tag 42) as one level, as the decoder does', async () => {
    const cid = CID.createV1(0x71, await sha256Hasher.digest(new Uint8Array([1])));
    let value: unknown = cid;
    for (let i = 0; i < MAX_CANONICAL_DEPTH - 1; i++) value = [value];
    expect(String((decodeCanonical(encodeCanonical(value)) as unknown[]).flat(Infinity)[0])).toBe(cid.toString());
    expect(thrown(() => encodeCanonical([value])).code).toBe('INVALID_INPUT');
  });

  it('refuses a cycle and a 100,000-deep value without overflowing the stack', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(thrown(() => encodeCanonical(cyclic)).code).toBe('INVALID_INPUT');
    let deep: unknown = 0;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(thrown(() => encodeCanonical(deep)).code).toBe('INVALID_INPUT');
  });
});

describe('decodeCanonical', () => {
  /** Values DAG-CBOR can carry: safe integers, finite non-integral floats, strings, bytes, … */
  const leaf = fc.oneof(
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x)),
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.uint8Array({ maxLength: 12 }),
    fc.boolean(),
    fc.constant(null),
  );
  const value = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 6 }), tie('node'), { maxKeys: 4 })),
  })).node;

  it('round-trips any value encodeCanonical accepts, and its bytes are canonical', () => {
    fc.assert(
      fc.property(value, (v) => {
        const bytes = encodeCanonical(v);
        const back = decodeCanonical(bytes);
        expect(back).toEqual(v);
        expect(toHex(encodeCanonical(back))).toBe(toHex(bytes));
      }),
      { numRuns: 200 },
    );
  });

  it('on random bytes either throws NON_CANONICAL / INVALID_INPUT or returns a value that re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        let decoded: unknown;
        try {
          decoded = decodeCanonical(bytes);
        } catch (error) {
          return error instanceof CryptoError && (error.code === 'NON_CANONICAL' || error.code === 'INVALID_INPUT');
        }
        return toHex(encodeCanonical(decoded)) === toHex(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('on a canonical encoding with one byte changed, accepts only what is itself canonical', () => {
    fc.assert(
      fc.property(value, fc.nat(), fc.integer({ min: 1, max: 255 }), (v, at, xor) => {
        const bytes = encodeCanonical(v).slice();
        bytes[at % bytes.length]! ^= xor;
        try {
          return toHex(encodeCanonical(decodeCanonical(bytes))) === toHex(bytes);
        } catch (error) {
          return error instanceof CryptoError && error.code === 'NON_CANONICAL';
        }
      }),
      { numRuns: 300 },
    );
  });

  const NON_CANONICAL: [string, string][] = [
    ['unsorted map keys ("b" before "a")', 'a2616202616101'],
    ['map keys sorted bytewise instead of length-first ("aa" before "b")', 'a2626161016162' + '02'],
    ['duplicate map keys', 'a2616101616102'],
    ['a non-minimal integer (1 in a one-byte argument)', '1801'],
    ['a non-minimal integer (1 in two bytes)', '190001'],
    ['a non-minimal integer (1 in four bytes)', '1a00000001'],
    ['a non-minimal integer (1 in eight bytes)', '1b0000000000000001'],
    ['a non-minimal negative integer (-1 in a one-byte argument)', '3800'],
    ['a non-minimal string length', '786161'],
    ['a non-minimal array length', '980100'],
    ['an indefinite-length array', '9f01ff'],
    ['an indefinite-length map', 'bf616101ff'],
    ['an indefinite-length byte string', '5f4101ff'],
    ['an indefinite-length text string', '7f6161ff'],
    ['a half-precision float where an integer belongs (1.0)', 'f93c00'],
    ['a single-precision float where an integer belongs (1.0)', 'fa3f800000'],
    ['a double-precision float where an integer belongs (1.0)', 'fb3ff0000000000000'],
    ['a half-precision float (1.5; DAG-CBOR floats are 64-bit)', 'f93e00'],
    ['NaN', 'f97e00'],
    ['Infinity', 'f97c00'],
    ['undefined', 'f7'],
    ['a tag other than 42', 'c100'],
    ['an unassigned simple value', 'e0'],
    ['an integer map key', 'a10102'],
    ['trailing bytes after the item', '0100'],
    ['empty input', ''],
    ['a truncated string', '6261'],
    ['a byte string claiming 2^64 − 1 bytes', '5bffffffffffffffff'],
    ['a map claiming 2^32 − 1 entries', 'bbffffffff'],
    ['invalid UTF-8 in a text string', '62c328'],
  ];

  it.each(NON_CANONICAL)('refuses %s with NON_CANONICAL', (_, hex) => {
    expect(thrown(() => decodeCanonical(fromHex(hex))).code).toBe('NON_CANONICAL');
  });

  it('accepts the canonical forms of those values', () => {
    expect(decodeCanonical(fromHex('a2616101616202'))).toEqual({ a: 1, b: 2 });
    expect(decodeCanonical(fromHex('a2616202626161' + '01'))).toEqual({ aa: 1, b: 2 });
    expect(decodeCanonical(fromHex('01'))).toBe(1);
    expect(decodeCanonical(fromHex('fb3ff8000000000000'))).toBe(1.5);
    expect(decodeCanonical(fromHex('1bffffffffffffffff'))).toBe(2n ** 64n - 1n);
  });

  it(`accepts ${MAX_CANONICAL_DEPTH} nested arrays and refuses ${MAX_CANONICAL_DEPTH + 1} with NON_CANONICAL`, () => {
    expect(() => decodeCanonical(repeat('81', MAX_CANONICAL_DEPTH - 1, '80'))).not.toThrow();
    const error = thrown(() => decodeCanonical(repeat('81', MAX_CANONICAL_DEPTH, '80')));
    expect(error.code).toBe('NON_CANONICAL');
    expect(error.message).toContain('nesting deeper');
  });

  it.each([
    ['arrays', '81', '00'],
    ['maps', 'a16161', '00'],
    ['CID tags', 'd82a', '00'],
    ['indefinite-length arrays', '9f', ''],
    ['arrays claiming more items than there are bytes', '9a00010000', ''],
  ])('refuses 100,000 nested %s with NON_CANONICAL, without overflowing the stack', (_, unit, tail) => {
    const bytes = repeat(unit, 100_000, tail);
    expect(thrown(() => decodeCanonical(bytes)).code).toBe('NON_CANONICAL');
  });

  it('refuses input longer than the limit with INVALID_INPUT before decoding', () => {
    const bytes = encodeCanonical({ note: 'x'.repeat(100) });
    expect(thrown(() => decodeCanonical(bytes, 50)).code).toBe('INVALID_INPUT');
    expect(decodeCanonical(bytes, bytes.length)).toEqual({ note: 'x'.repeat(100) });
  });

  it.each([
    ['string', 'a1'],
    ['array', [0xa1]],
    ['null', null],
    ['number', 1],
    ['ArrayBuffer', new ArrayBuffer(1)],
  ])('refuses a %s with a labelled INVALID_INPUT', (_, bad) => {
    const error = thrown(() => decodeCanonical(bad as unknown as Uint8Array));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toContain('"bytes"');
  });

  it('decodes a signed header exactly as it was encoded (bytes, nested maps, big integers)', () => {
    const header = { v: 1, seq: 0, ts: 1_700_000_000_000, prev: null, deps: [new Uint8Array(32).fill(7)], type: 'grant', author: 'did:key:z6Mk…', n: 2n ** 63n };
    const bytes = encodeCanonical(header);
    expect(decodeCanonical(bytes)).toEqual(header);
    expect(toHex(encodeCanonical(decodeCanonical(concatBytes(bytes))))).toBe(toHex(bytes));
  });
});
