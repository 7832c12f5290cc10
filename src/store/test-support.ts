/**
 * Helpers for the store's own tests (not exported from src/store/index.ts, never shipped). Tests
 * in subfolders reach src/crypto through here, since the layer rule lets only this level import it.
 */
import { WEAK_TEST_KDF_COST } from './index.js';
import type { Clock, Storage } from './index.js';

export {
  concatBytes,
  decodeCanonical,
  deriveKeyFromPassphrase,
  encodeCanonical,
  generateKey,
  hkdfSha256,
  newKdfParams,
  seal,
  type SymmetricKey,
} from '../crypto/index.js';

/** Options that make Argon2id cheap, for tests of everything but the KDF cost itself. */
export const WEAK = { kdfCost: WEAK_TEST_KDF_COST, allowWeakKdf: true } as const;

/** A clock that moves only when told. */
export class ManualClock implements Clock {
  constructor(public time = 1_700_000_000_000) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

/** Every key and value the storage holds, values as hex: compare two dumps for byte identity. */
export async function dumpStorage(storage: Storage): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const { key, value } of storage.range('')) out.push([key, Buffer.from(value).toString('hex')]);
  return out;
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
export const text = (bytes: Uint8Array | undefined): string | undefined => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));

/** The rejection of `promise` (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; key?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string; key?: string };
  }
  throw new Error('expected a rejection, but the promise resolved');
}
