/**
 * The one conformance suite every {@link Storage} implementation passes (the pattern of
 * automerge-repo's `runStorageAdapterTests`). Each backend's test file calls
 * {@link runStorageConformance} with a factory; nothing here knows which backend it is testing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError } from './errors.js';
import type { Storage, StorageEntry } from './storage.js';
import { MAX_STORAGE_KEY_LENGTH } from './storage-input.js';

/** What a backend's test provides: a fresh, empty store per test, and a way to reopen it. */
export interface StorageHarness {
  /** The store under test (fresh and empty). */
  readonly storage: Storage;
  /** Opens the same underlying store again after `storage.close()` (required when persistent). */
  readonly reopen?: () => Promise<Storage>;
  /** Removes what the harness created (directories, databases). */
  readonly destroy?: () => Promise<void>;
}

const bytes = (...values: number[]) => new Uint8Array(values);
const text = (s: string) => new TextEncoder().encode(s);

async function collect(iterable: AsyncIterable<StorageEntry>): Promise<StorageEntry[]> {
  const out: StorageEntry[] = [];
  for await (const entry of iterable) out.push(entry);
  return out;
}

async function keysOf(storage: Storage, prefix: string, limit?: number): Promise<string[]> {
  return (await collect(storage.range(prefix, limit === undefined ? undefined : { limit }))).map((e) => e.key);
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StoreError);
  expect((error as StoreError).code).toBe(code);
}

/** Registers the shared suite for one backend. `makeStorage` is called once per test. */
export function runStorageConformance(name: string, makeStorage: () => Promise<StorageHarness>, options: { persistent?: boolean } = {}): void {
  describe(`Storage conformance: ${name}`, () => {
    let harness: StorageHarness | undefined;
    const open = async (): Promise<Storage> => {
      harness = await makeStorage();
      return harness.storage;
    };
    afterEach(async () => {
      if (!harness) return;
      await harness.storage.close();
      await harness.destroy?.();
      harness = undefined;
    });

    it('returns undefined for a key never written', async () => {
      const s = await open();
      expect(await s.get('missing')).toBeUndefined();
    });

    it('returns the bytes that were put, as a Uint8Array', async () => {
      const s = await open();
      await s.put('a', bytes(1, 2, 3));
      const value = await s.get('a');
      expect(value).toBeInstanceOf(Uint8Array);
      expect(value).toEqual(bytes(1, 2, 3));
    });

    it('stores an empty value as an empty value, not as absent', async () => {
      const s = await open();
      await s.put('empty', new Uint8Array(0));
      expect(await s.get('empty')).toEqual(new Uint8Array(0));
    });

    it('overwrites a value on a second put', async () => {
      const s = await open();
      await s.put('a', bytes(1));
      await s.put('a', bytes(2, 2));
      expect(await s.get('a')).toEqual(bytes(2, 2));
    });

    it('deletes a key, and deleting a missing key is not an error', async () => {
      const s = await open();
      await s.put('a', bytes(1));
      await s.delete('a');
      expect(await s.get('a')).toBeUndefined();
      await s.delete('never-there');
      expect(await keysOf(s, '')).toEqual([]);
    });

    it('ranges exactly the keys that start with the prefix, in key order', async () => {
      const s = await open();
      const keys = ['b/2', 'a', 'b/10', 'b', 'b/1', 'c/1', 'b0', 'b/', 'ab', 'b/1/x'];
      for (const k of keys) await s.put(k, text(k));
      expect(await keysOf(s, 'b/')).toEqual(['b/', 'b/1', 'b/1/x', 'b/10', 'b/2']);
      expect(await keysOf(s, 'b')).toEqual(['b', 'b/', 'b/1', 'b/1/x', 'b/10', 'b/2', 'b0']);
      expect(await keysOf(s, 'z')).toEqual([]);
      const entries = await collect(s.range('c/'));
      expect(entries).toEqual([{ key: 'c/1', value: text('c/1') }]);
    });

    it('ranges every key for the empty prefix', async () => {
      const s = await open();
      for (const k of ['m', 'a', 'z', '\u0000', '\uffff']) await s.put(k, bytes(1));
      expect(await keysOf(s, '')).toEqual(['\u0000', 'a', 'm', 'z', '\uffff']);
    });

    it('orders keys by UTF-16 code unit, as IndexedDB and JavaScript do', async () => {
      const s = await open();
      // U+1F600 is the surrogate pair D83D DE00, which sorts before U+E000 in UTF-16 code units
      // although its UTF-8 encoding (F0…) sorts after U+E000's (EE…).
      const keys = ['k\ue000', 'k\u{1F600}', 'k\u00e9', 'ke\u0301', 'k\uffff', 'k\u0000', 'kZ'];
      for (const k of keys) await s.put(k, text(k));
      expect(await keysOf(s, 'k')).toEqual([...keys].sort());
      expect(await keysOf(s, 'k')).toEqual(['k\u0000', 'kZ', 'ke\u0301', 'k\u00e9', 'k\u{1F600}', 'k\ue000', 'k\uffff']);
    });

    it('ranges a prefix that ends in U+FFFF', async () => {
      const s = await open();
      for (const k of ['p\uffff', 'p\uffffa', 'p\uffff\uffff', 'q', 'p\ufffe']) await s.put(k, bytes(1));
      expect(await keysOf(s, 'p\uffff')).toEqual(['p\uffff', 'p\uffff\uffff', 'p\uffffa'].sort());
    });

    it('keeps unicode keys distinct and round-trips them exactly', async () => {
      const s = await open();
      const keys = ['caf\u00e9', 'cafe\u0301', '\u05e9\u05dc\u05d5\u05dd', '\u{1F9EC}/gene', 'nul\u0000byte', 'lone\ud800surrogate', 'lone\udc00low'];
      for (const [i, k] of keys.entries()) await s.put(k, bytes(i));
      for (const [i, k] of keys.entries()) expect(await s.get(k)).toEqual(bytes(i));
      expect((await keysOf(s, '')).sort()).toEqual([...keys].sort());
    });

    it('stops after limit entries, and limit 0 yields nothing', async () => {
      const s = await open();
      for (let i = 0; i < 600; i++) await s.batch([{ type: 'put', key: `n/${String(i).padStart(4, '0')}`, value: bytes(i & 255) }]);
      expect(await keysOf(s, 'n/', 3)).toEqual(['n/0000', 'n/0001', 'n/0002']);
      expect(await keysOf(s, 'n/', 0)).toEqual([]);
      expect(await keysOf(s, 'n/', 1000)).toHaveLength(600);
      // Crosses any internal page size (256 for IndexedDB) without skipping or repeating a key.
      const all = await keysOf(s, 'n/');
      expect(all).toHaveLength(600);
      expect(new Set(all).size).toBe(600);
      expect(all).toEqual([...all].sort());
      expect(await keysOf(s, 'n/', 300)).toEqual(all.slice(0, 300));
    });

    it('can stop ranging early and keep using the store', async () => {
      const s = await open();
      for (let i = 0; i < 10; i++) await s.put(`r/${i}`, bytes(i));
      for await (const entry of s.range('r/')) {
        expect(entry.key).toBe('r/0');
        break;
      }
      await s.put('r/x', bytes(9));
      expect(await keysOf(s, 'r/')).toHaveLength(11);
    });

    it('applies a batch of puts and deletes in order, all together', async () => {
      const s = await open();
      await s.put('keep', bytes(1));
      await s.put('gone', bytes(2));
      await s.batch([
        { type: 'put', key: 'x', value: bytes(1) },
        { type: 'delete', key: 'gone' },
        { type: 'put', key: 'y', value: bytes(2) },
        { type: 'delete', key: 'y' },
        { type: 'delete', key: 'z' },
        { type: 'put', key: 'z', value: bytes(3) },
        { type: 'put', key: 'x', value: bytes(4) },
      ]);
      expect(await keysOf(s, '')).toEqual(['keep', 'x', 'z']);
      expect(await s.get('x')).toEqual(bytes(4));
      expect(await s.get('z')).toEqual(bytes(3));
    });

    it('accepts an empty batch', async () => {
      const s = await open();
      await s.batch([]);
      expect(await keysOf(s, '')).toEqual([]);
    });

    it('writes nothing when one operation of a batch is bad', async () => {
      const s = await open();
      await s.put('before', bytes(7));
      const bad = [
        { type: 'put', key: 'first', value: bytes(1) },
        { type: 'delete', key: 'before' },
        { type: 'put', key: 'second', value: 'not bytes' },
      ] as never;
      await expectCode(s.batch(bad), 'INVALID_INPUT');
      await expectCode(s.batch([{ type: 'put', key: 'a', value: bytes(1) }, { type: 'upsert', key: 'b' }] as never), 'INVALID_INPUT');
      await expectCode(s.batch([{ type: 'put', key: 'a', value: bytes(1) }, { type: 'delete', key: 42 }] as never), 'INVALID_INPUT');
      await expectCode(s.batch([{ type: 'put', key: 'a', value: bytes(1) }, null] as never), 'INVALID_INPUT');
      await expectCode(s.batch('not an array' as never), 'INVALID_INPUT');
      expect(await keysOf(s, '')).toEqual(['before']);
      expect(await s.get('before')).toEqual(bytes(7));
    });

    it('keeps its own copy of a value that the caller mutates after put', async () => {
      const s = await open();
      const value = bytes(1, 2, 3);
      await s.put('a', value);
      value[0] = 99;
      const batched = bytes(4, 5);
      await s.batch([{ type: 'put', key: 'b', value: batched }]);
      batched[0] = 99;
      expect(await s.get('a')).toEqual(bytes(1, 2, 3));
      expect(await s.get('b')).toEqual(bytes(4, 5));
    });

    it('returns copies: mutating a returned value changes nothing stored', async () => {
      const s = await open();
      await s.put('a', bytes(1, 2, 3));
      const got = (await s.get('a'))!;
      got[0] = 99;
      const [ranged] = await collect(s.range('a'));
      ranged!.value[1] = 99;
      expect(await s.get('a')).toEqual(bytes(1, 2, 3));
    });

    it('stores only the bytes of a view, not the buffer around it', async () => {
      const s = await open();
      const big = new Uint8Array(1024).map((_, i) => i & 255);
      await s.put('view', big.subarray(10, 14));
      const got = (await s.get('view'))!;
      expect(got).toEqual(bytes(10, 11, 12, 13));
      expect(got.byteLength).toBe(4);
      expect(got.buffer.byteLength).toBe(4);
    });

    it('accepts a Node Buffer as a value', async () => {
      const s = await open();
      await s.put('buf', Buffer.from([5, 6, 7]));
      expect(await s.get('buf')).toEqual(bytes(5, 6, 7));
    });

    it('round-trips a big value (8 MiB) byte for byte', async () => {
      const s = await open();
      const big = new Uint8Array(8 * 1024 * 1024);
      for (let i = 0; i < big.length; i += 65536) crypto.getRandomValues(big.subarray(i, i + 65536));
      await s.put('big', big);
      const got = (await s.get('big'))!;
      expect(got.length).toBe(big.length);
      expect(Buffer.compare(got, big)).toBe(0);
    });

    it('refuses non-string, empty and overlong keys with INVALID_INPUT', async () => {
      const s = await open();
      for (const key of [42, undefined, null, {}, ['a'], bytes(1), Symbol('k')]) {
        await expectCode(s.get(key as never), 'INVALID_INPUT');
        await expectCode(s.put(key as never, bytes(1)), 'INVALID_INPUT');
        await expectCode(s.delete(key as never), 'INVALID_INPUT');
      }
      await expectCode(s.put('', bytes(1)), 'INVALID_INPUT');
      await expectCode(s.put('k'.repeat(MAX_STORAGE_KEY_LENGTH + 1), bytes(1)), 'INVALID_INPUT');
      await s.put('k'.repeat(MAX_STORAGE_KEY_LENGTH), bytes(1));
      await expectCode(collect(s.range(7 as never)), 'INVALID_INPUT');
      await expectCode(collect(s.range('', { limit: -1 })), 'INVALID_INPUT');
      await expectCode(collect(s.range('', { limit: 1.5 })), 'INVALID_INPUT');
      expect(await keysOf(s, '')).toEqual(['k'.repeat(MAX_STORAGE_KEY_LENGTH)]);
    });

    it('refuses values that are not Uint8Array with INVALID_INPUT', async () => {
      const s = await open();
      const values = ['text', 42, null, undefined, [1, 2], new ArrayBuffer(2), new DataView(new ArrayBuffer(2)), new Int8Array(2), new Uint8ClampedArray(2), new Uint16Array(1), { length: 1, 0: 1 }];
      for (const value of values) await expectCode(s.put('k', value as never), 'INVALID_INPUT');
      expect(await s.get('k')).toBeUndefined();
    });

    it('fails every call after close with CLOSED, and closing twice is fine', async () => {
      const s = await open();
      await s.put('a', bytes(1));
      await s.close();
      await s.close();
      await expectCode(s.get('a'), 'CLOSED');
      await expectCode(s.put('a', bytes(1)), 'CLOSED');
      await expectCode(s.delete('a'), 'CLOSED');
      await expectCode(s.batch([]), 'CLOSED');
      await expectCode(collect(s.range('')), 'CLOSED');
    });

    // Registered only for persistent backends (memory has nothing to reopen).
    if (options.persistent === true) it('keeps what was written across close and reopen', async () => {
      const s = await open();
      if (!harness?.reopen) throw new Error('a persistent backend must give its harness a reopen()');
      await s.batch([
        { type: 'put', key: 'p/1', value: bytes(1) },
        { type: 'put', key: 'p/2', value: bytes(2) },
      ]);
      await s.delete('p/1');
      await s.close();
      const again = await harness.reopen();
      try {
        expect(await collect(again.range(''))).toEqual([{ key: 'p/2', value: bytes(2) }]);
      } finally {
        await again.close();
      }
    });
  });
}
