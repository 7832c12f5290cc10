// idb needs the IndexedDB classes as globals; each backend instance still gets its own factory.
import 'fake-indexeddb/auto';
import { ClassicLevel } from 'classic-level';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CURRENT_SCHEMA_VERSION,
  HEADER_KEY,
  MemoryStorage,
  openIndexedDbStorage,
  openLevelDbStorage,
  StoreError,
  Vault,
  WEAK_TEST_KDF_COST,
  type Storage,
} from '../../src/store/index.js';
import { decodeCanonical, encodeCanonical } from '../../src/crypto/index.js';

const PASS = 'bad input test passphrase';
const WEAK = { kdfCost: WEAK_TEST_KDF_COST, allowWeakKdf: true };
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pv-bad-'));
  dirs.push(dir);
  return dir;
}

/** A backend under test: a fresh store, and a way to get at the same data again after close. */
interface Backend {
  fresh(): Promise<{ storage: Storage; reopen: () => Promise<Storage> }>;
}

const backends: [string, Backend][] = [
  [
    'memory',
    {
      // Memory forgets on close; "reopen" is a new store holding what the old one held at close.
      fresh: () => {
        let saved: { key: string; value: Uint8Array }[] = [];
        class Remembering extends MemoryStorage {
          override async close(): Promise<void> {
            saved = [];
            for await (const entry of this.range('')) saved.push(entry);
            await super.close();
          }
        }
        const reopen = async () => {
          const next = new Remembering();
          await next.batch(saved.map((e) => ({ type: 'put' as const, ...e })));
          return next;
        };
        return Promise.resolve({ storage: new Remembering(), reopen });
      },
    },
  ],
  [
    'IndexedDB',
    {
      fresh: async () => {
        const factory = new IDBFactory();
        const open = () => openIndexedDbStorage({ name: 'vault', factory, keyRange: IDBKeyRange });
        return { storage: await open(), reopen: open };
      },
    },
  ],
  [
    'LevelDB',
    {
      fresh: async () => {
        const dir = join(await tempDir(), 'vault');
        return { storage: await openLevelDbStorage(dir, { create: true }), reopen: () => openLevelDbStorage(dir) };
      },
    },
  ],
];

async function dump(storage: Storage): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const { key, value } of storage.range('')) out.push([key, Buffer.from(value).toString('hex')]);
  return out;
}

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(StoreError);
    return (error as StoreError).code;
  }
  throw new Error('expected a StoreError');
}

/** A vault with two records, closed and reopened (so a persistent backend really reads back). */
async function seeded(backend: Backend) {
  const { storage, reopen } = await backend.fresh();
  const vault = await Vault.create(storage, PASS, WEAK);
  await vault.batchSealed([
    { type: 'put', key: 'labs/1', value: enc('synthetic lab one') },
    { type: 'put', key: 'labs/2', value: enc('synthetic lab two') },
  ]);
  await storage.close();
  const again = await reopen();
  return { storage: again, reopen };
}

async function readsBack(storage: Storage): Promise<void> {
  const vault = await Vault.open(storage, WEAK);
  await vault.unlock(PASS);
  expect(dec(await vault.getSealed('labs/1'))).toBe('synthetic lab one');
  expect(dec(await vault.getSealed('labs/2'))).toBe('synthetic lab two');
}

describe.each(backends)('bad input on the %s store: typed errors, nothing lost', (_name, backend) => {
  it('wrong passphrase: WRONG_PASSPHRASE, storage unchanged, the right one still opens it', async () => {
    const { storage } = await seeded(backend);
    const before = await dump(storage);
    const vault = await Vault.open(storage, WEAK);
    expect(await code(vault.unlock('a wrong passphrase'))).toBe('WRONG_PASSPHRASE');
    expect(await dump(storage)).toEqual(before);
    await readsBack(storage);
    await storage.close();
  });

  it('corrupted ciphertext: CORRUPT_RECORD naming the storage key and not the content; other records intact', async () => {
    const { storage } = await seeded(backend);
    const sealed = (await storage.get('r/labs/1'))!;
    const bad = sealed.slice();
    bad[20]! ^= 0x40;
    await storage.put('r/labs/1', bad);
    const vault = await Vault.open(storage, WEAK);
    await vault.unlock(PASS);
    const error = await vault.getSealed('labs/1').catch((e: unknown) => e as StoreError);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('CORRUPT_RECORD');
    expect((error as StoreError).key).toBe('r/labs/1');
    expect((error as StoreError).message).not.toContain('synthetic');
    expect(dec(await vault.getSealed('labs/2'))).toBe('synthetic lab two');
    await storage.put('r/labs/1', sealed);
    await readsBack(storage);
    await storage.close();
  });

  it('random bytes as the header: CORRUPT_HEADER, records left as they were', async () => {
    const { storage } = await seeded(backend);
    const header = (await storage.get(HEADER_KEY))!;
    await storage.put(HEADER_KEY, crypto.getRandomValues(new Uint8Array(header.length)));
    const before = await dump(storage);
    expect(await code(Vault.open(storage, WEAK))).toBe('CORRUPT_HEADER');
    expect(await dump(storage)).toEqual(before);
    await storage.put(HEADER_KEY, header);
    await readsBack(storage);
    await storage.close();
  });

  it('unknown (newer) schema version: NEWER_SCHEMA, every key and value byte-identical', async () => {
    const { storage, reopen } = await seeded(backend);
    const header = decodeCanonical((await storage.get(HEADER_KEY))!) as Record<string, unknown>;
    await storage.put(HEADER_KEY, encodeCanonical({ ...header, schemaVersion: CURRENT_SCHEMA_VERSION + 1 }));
    const before = await dump(storage);
    expect(await code(Vault.open(storage, WEAK))).toBe('NEWER_SCHEMA');
    expect(await code(Vault.create(storage, PASS, WEAK))).toBe('VAULT_EXISTS');
    expect(await code(Vault.restoreBackup(storage, new Uint8Array(10), PASS, WEAK))).toBe('BAD_BACKUP');
    await storage.close();
    const again = await reopen();
    expect(await dump(again)).toEqual(before);
    await again.close();
  });

  it('non-string keys and non-Uint8Array values: INVALID_INPUT from vault and storage, nothing written', async () => {
    const { storage } = await seeded(backend);
    const before = await dump(storage);
    const vault = await Vault.open(storage, WEAK);
    await vault.unlock(PASS);
    for (const key of [1, null, undefined, {}, ['k'], enc('k'), Symbol('k')]) {
      expect(await code(vault.putSealed(key as never, enc('v')))).toBe('INVALID_INPUT');
      expect(await code(vault.getSealed(key as never))).toBe('INVALID_INPUT');
      expect(await code(storage.put(key as never, enc('v')))).toBe('INVALID_INPUT');
      expect(await code(storage.get(key as never))).toBe('INVALID_INPUT');
    }
    for (const value of ['text', 1, null, undefined, [1, 2], new ArrayBuffer(4), new Int8Array(4), { byteLength: 4 }]) {
      expect(await code(vault.putSealed('labs/3', value as never))).toBe('INVALID_INPUT');
      expect(await code(vault.batchSealed([{ type: 'put', key: 'labs/3', value: enc('ok') }, { type: 'put', key: 'labs/4', value: value as never }]))).toBe('INVALID_INPUT');
      expect(await code(storage.put('x', value as never))).toBe('INVALID_INPUT');
    }
    expect(await dump(storage)).toEqual(before);
    await readsBack(storage);
    await storage.close();
  });

  it('storage with someone else’s data: NOT_A_VAULT on open and create, their data untouched', async () => {
    const { storage } = await backend.fresh();
    await storage.batch([
      { type: 'put', key: 'settings/theme', value: enc('dark') },
      { type: 'put', key: 'cache/1', value: new Uint8Array([1, 2, 3]) },
    ]);
    const before = await dump(storage);
    expect(await code(Vault.open(storage, WEAK))).toBe('NOT_A_VAULT');
    expect(await code(Vault.create(storage, PASS, WEAK))).toBe('NOT_A_VAULT');
    expect(await dump(storage)).toEqual(before);
    await storage.close();
  });
});

/** Raw contents of a LevelDB directory through classic-level itself (not through our code). */
async function rawLevel(dir: string): Promise<[string, string][]> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view', createIfMissing: false });
  await db.open();
  const out: [string, string][] = [];
  for await (const [k, v] of db.iterator()) out.push([Buffer.from(k).toString('hex'), Buffer.from(v).toString('hex')]);
  await db.close();
  return out;
}

describe('bad input on disk: foreign and damaged LevelDB directories', () => {
  it('a LevelDB database of another program: NOT_A_VAULT, its contents unchanged', async () => {
    const dir = join(await tempDir(), 'other');
    const db = new ClassicLevel<string, string>(dir);
    await db.batch([
      { type: 'put', key: 'user:1', value: 'someone' },
      { type: 'put', key: 'odd', value: 'three-byte key' },
    ]);
    await db.close();
    const before = await rawLevel(dir);
    const storage = await openLevelDbStorage(dir, { create: true });
    expect(await code(Vault.open(storage, WEAK))).toBe('NOT_A_VAULT');
    expect(await code(Vault.create(storage, PASS, WEAK))).toBe('NOT_A_VAULT');
    await storage.close();
    expect(await rawLevel(dir)).toEqual(before);
  });

  it('a directory of other files: NOT_A_VAULT, nothing written into it', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'notes.txt'), 'not a database');
    expect(await code(openLevelDbStorage(dir, { create: true }))).toBe('NOT_A_VAULT');
    expect(await code(openLevelDbStorage(dir))).toBe('NOT_A_VAULT');
    expect(await readdir(dir)).toEqual(['notes.txt']);
    const file = join(dir, 'notes.txt');
    expect(await code(openLevelDbStorage(file, { create: true }))).toBe('NOT_A_VAULT');
    expect(await readFile(file, 'utf8')).toBe('not a database');
  });

  it('a missing directory: NOT_A_VAULT, and nothing is created', async () => {
    const dir = join(await tempDir(), 'nowhere');
    expect(await code(openLevelDbStorage(dir))).toBe('NOT_A_VAULT');
    await expect(stat(dir)).rejects.toThrow();
  });

  /** A vault with enough records that LevelDB moved them into a table file (.ldb). */
  async function compactedVault(): Promise<string> {
    const dir = join(await tempDir(), 'vault');
    const storage = await openLevelDbStorage(dir, { create: true });
    const vault = await Vault.create(storage, PASS, WEAK);
    await vault.batchSealed(Array.from({ length: 300 }, (_, i) => ({ type: 'put' as const, key: `k/${i}`, value: new Uint8Array(2048).fill(i) })));
    await storage.close();
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    await db.compactRange(new Uint8Array([0]), new Uint8Array([0xff, 0xff]));
    await db.close();
    return dir;
  }

  it('a truncated table file: CORRUPT_DATABASE when read, not a crash or a wrong answer', async () => {
    const dir = await compactedVault();
    const table = (await readdir(dir)).find((f) => f.endsWith('.ldb'))!;
    await truncate(join(dir, table), Math.floor((await stat(join(dir, table))).size / 2));
    const storage = await openLevelDbStorage(dir);
    expect(await code(Vault.open(storage, WEAK))).toBe('CORRUPT_DATABASE');
    await storage.close();
  });

  it('a truncated MANIFEST or an emptied CURRENT file: CORRUPT_DATABASE at open', async () => {
    for (const damage of ['manifest', 'current']) {
      const dir = await compactedVault();
      const name = damage === 'current' ? 'CURRENT' : (await readdir(dir)).find((f) => f.startsWith('MANIFEST'))!;
      await truncate(join(dir, name), damage === 'current' ? 0 : 10);
      expect(await code(openLevelDbStorage(dir))).toBe('CORRUPT_DATABASE');
      // Refused, not repaired or recreated: the damaged file is as we left it.
      expect((await stat(join(dir, name))).size).toBe(damage === 'current' ? 0 : 10);
    }
  });

  it('a database in use by another process (or handle): BACKEND_FAILED naming the directory', async () => {
    const dir = join(await tempDir(), 'vault');
    const first = await openLevelDbStorage(dir, { create: true });
    const error = await openLevelDbStorage(dir).catch((e: unknown) => e as StoreError);
    expect((error as StoreError).code).toBe('BACKEND_FAILED');
    expect((error as StoreError).message).toContain(dir);
    expect((error as StoreError).message).toMatch(/in use/);
    await first.close();
  });
});
