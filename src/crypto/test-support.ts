import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { CryptoError } from './errors.js';

/* Helpers shared by the src/crypto tests (not shipped: only *.test.ts files import this). */

/** Reads a vector file of test/vectors/ (origins in test/vectors/README.md). */
export function loadVectors<T>(path: string): T {
  return JSON.parse(readFileSync(new URL(`../../test/vectors/${path}`, import.meta.url), 'utf8')) as T;
}

/** Runs `fn`, expects it to throw a CryptoError, and returns that error for its code and message. */
export function thrown(fn: () => unknown): CryptoError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CryptoError);
    return error as CryptoError;
  }
  throw new Error('expected a CryptoError, nothing was thrown');
}

/** A copy of `bytes` with one bit flipped. */
export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}
