import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex } from './bytes.js';
import { MAX_CANONICAL_DEPTH, decodeCanonical, decodeCanonicalGeneral, decodeStrictSubset, encodeCanonical, isUndecided } from './canonical.js';
import { CryptoError } from './errors.js';

/*
 * The single-pass decoder may only ever say "canonical, and this is the value" where the general
 * path (decode, re-encode, compare) says the same; everything else it must leave undecided.
 */

/** The general path's answer: the value, or the error code. */
function general(bytes: Uint8Array): { value: unknown } | { code: string } {
  try {
    return { value: decodeCanonicalGeneral(bytes) };
  } catch (error) {
    if (error instanceof CryptoError) return { code: error.code };
    throw error;
  }
}

/** The single-pass decoder agrees with the general path on `bytes` (or leaves them to it). */
function agrees(bytes: Uint8Array): boolean {
  const fast = decodeStrictSubset(bytes);
  if (isUndecided(fast)) return false;
  const slow = general(bytes);
  expect(slow).toEqual({ value: fast });
  return true;
}

/** Values of the IPLD data model the log uses (and some it does not: floats, big ints, Unicode). */
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
    fc.constantFrom(0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, -24, -25, -256, -257),
    fc.uint8Array({ maxLength: 70 }),
    fc.string({ maxLength: 30 }),
    fc.string({ unit: 'grapheme', maxLength: 6 }),
    fc.boolean(),
    fc.constant(null),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
  ),
  node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 5 }), fc.dictionary(fc.string({ maxLength: 8 }), tie('node'), { maxKeys: 6 })),
})).node;

describe('single-pass canonical decoding against decode-and-re-encode', () => {
  it('decides the canonical encoding of log-like values and gives the same value', () => {
    let decided = 0;
    fc.assert(
      fc.property(value, (v) => {
        let bytes: Uint8Array;
        try {
          bytes = encodeCanonical(v);
        } catch {
          return; // not encodable (e.g. too deep): nothing to compare
        }
        if (agrees(bytes)) decided++;
      }),
      { numRuns: 1500 },
    );
    expect(decided).toBeGreaterThan(500);
  });

  it('never accepts what the general path refuses, nor differs from it, on random damage of encodings', () => {
    let decided = 0;
    fc.assert(
      fc.property(value, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete', 'truncate')), { minLength: 1, maxLength: 3 }), (v, edits) => {
        let bytes: Uint8Array;
        try {
          bytes = encodeCanonical(v);
        } catch {
          return;
        }
        let damaged = Array.from(bytes);
        for (const [at, byte, kind] of edits) {
          const i = damaged.length === 0 ? 0 : at % (damaged.length + (kind === 'insert' ? 1 : 0));
          if (kind === 'set' && damaged.length > 0) damaged[i] = byte;
          else if (kind === 'insert') damaged.splice(i, 0, byte);
          else if (kind === 'delete') damaged.splice(i, 1);
          else damaged = damaged.slice(0, i);
        }
        if (agrees(Uint8Array.from(damaged))) decided++;
      }),
      { numRuns: 4000 },
    );
    expect(decided).toBeGreaterThan(100); // damage that happens to leave a canonical encoding
  });

  it('never accepts what the general path refuses on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        agrees(bytes);
      }),
      { numRuns: 5000 },
    );
  });

  // Each: hex, and whether the single-pass decoder may decide it (the general path then agrees).
  const cases: [string, string, boolean][] = [
    ['uint in its shortest head', '1818', true],
    ['uint 23 in a one-byte argument (not shortest)', '1817', false],
    ['uint 255 in a two-byte argument', '1900ff', false],
    ['uint 65,535 in a four-byte argument', '1a0000ffff', false],
    ['uint 2^32 − 1 in an eight-byte argument', '1b00000000ffffffff', false],
    ['uint 2^32 in an eight-byte argument', '1b0000000100000000', true],
    ['uint 2^53 − 1', '1b001fffffffffffff', true],
    ['uint 2^53 (a BigInt: left to the general path)', '1b0020000000000000', false],
    ['negint −2^53 + 1', '3b001ffffffffffffe', true],
    ['negint −2^53', '3b001fffffffffffff', false],
    ['a float', 'fb3ff8000000000000', false],
    ['undefined (coerced to null by the library)', 'f7', false],
    ['a tag', 'd82a4100', false],
    ['indefinite-length bytes', '5f4101ff', false],
    ['a map with keys in order', 'a2616101616202', true],
    ['a map with keys out of order', 'a2616201616101', false],
    ['a map with a longer key first', 'a26261610161620', false],
    ['a map with a duplicate key', 'a2616101616102', false],
    ['a map with an empty key', 'a16001', false],
    ['a map with a non-text key', 'a10101', false],
    ['a map with a __proto__ key', `a169${Buffer.from('__proto__').toString('hex')}a0`, false],
    ['non-ASCII text', '62c3a9', false],
    ['text with a byte-order mark', '63efbbbf', false],
    ['bytes after the item', '0101', false],
    ['a truncated map', 'a2616101', false],
    ['an array claiming more items than bytes', '9a00010000', false],
  ];

  it.each(cases)('%s', (_label, hex, decides) => {
    const bytes = fromHex(hex.length % 2 === 0 ? hex : `${hex}0`);
    expect(agrees(bytes)).toBe(decides);
  });

  it(`nesting: decides ${MAX_CANONICAL_DEPTH} levels, leaves ${MAX_CANONICAL_DEPTH + 1} to the general path (which refuses it)`, () => {
    const nested = (levels: number): Uint8Array => concatBytes(new Uint8Array(levels).fill(0x81), Uint8Array.of(0x00));
    expect(agrees(nested(MAX_CANONICAL_DEPTH))).toBe(true);
    expect(agrees(nested(MAX_CANONICAL_DEPTH + 1))).toBe(false);
    expect(() => decodeCanonical(nested(MAX_CANONICAL_DEPTH + 1))).toThrow(CryptoError);
  });

  it('gives plain Uint8Arrays that own their bytes, also when reading a Node Buffer', () => {
    const bytes = encodeCanonical({ a: new Uint8Array([1, 2, 3]) });
    for (const input of [bytes, Buffer.from(bytes)]) {
      const decoded = decodeStrictSubset(input) as { a: Uint8Array };
      expect(decoded.a.constructor).toBe(Uint8Array);
      expect(decoded.a.buffer.byteLength).toBe(3);
      expect(Array.from(decoded.a)).toEqual([1, 2, 3]);
    }
  });

  it('decodeCanonical refuses the non-canonical cases with NON_CANONICAL as before', () => {
    for (const hex of ['1817', 'a2616201616101', 'a2616101616102', '0101', 'f7']) {
      expect(() => decodeCanonical(fromHex(hex))).toThrow(expect.objectContaining({ code: 'NON_CANONICAL' }) as Error);
    }
    expect(decodeCanonical(fromHex('a2616101616202'))).toEqual({ a: 1, b: 2 });
  });

  it('hands back remembered strings only for the same bytes (hash collisions: "Aa" and "BB")', () => {
    expect(decodeCanonical(encodeCanonical({ Aa: 1 }))).toEqual({ Aa: 1 });
    expect(decodeCanonical(encodeCanonical({ BB: 2 }))).toEqual({ BB: 2 });
    expect(decodeCanonical(encodeCanonical(['Aa', 'BB', 'Aa']))).toEqual(['Aa', 'BB', 'Aa']);
  });

  it('decides long ASCII strings (past the remembered length and the 1,024-character chunk) like the general path', () => {
    for (const length of [96, 97, 1024, 1025, 3000, 4096]) {
      const text = Array.from({ length }, (_, i) => String.fromCharCode(32 + ((i * 7) % 95))).join('');
      expect(agrees(encodeCanonical({ text }))).toBe(true);
    }
    expect(agrees(encodeCanonical({ text: 'x'.repeat(4097) }))).toBe(false); // longer: the general path reads it
  });
});

