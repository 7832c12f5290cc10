/**
 * Benchmarks of src/store (issue 3): `store_put_10k`, as two entries, one per persistent backend.
 *
 * - `store_put_10k_leveldb`: 10,000 records of 2 KB sealed through `Vault.batchSealed` into the
 *   Node store (LevelDB, classic-level, fsync per write as in production), against putting the
 *   same 10,000 plaintext 2 KB values through the same store's `batch` — same keys, same batch
 *   size — timed alternately in the same run. ratio = sealed / plain; goal ≤ 1.5.
 * - `store_put_10k_idb`: the same into IndexedDB through idb over fake-indexeddb (in Node).
 *
 * Writes go in batches of {@link BATCH} records (one transaction each), as an import of a FHIR
 * bundle would write them. Every round starts from a fresh, empty store (set up and torn down
 * outside the timing), so neither side inherits the other's compactions. Median of the rounds.
 */
import 'fake-indexeddb/auto';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openIndexedDbStorage, openLevelDbStorage, Vault, WEAK_TEST_KDF_COST, type Storage } from '../src/store/index.js';
import { median, timeOnce, type Benchmark } from './harness.js';
import { BATCH, RECORDS, records } from './store-records.js';

const ROUNDS = 5;

interface Backend {
  open: () => Promise<{ storage: Storage; dispose: () => Promise<void> }>;
}

/** Times `sealed` and `plain` alternately, each on a fresh store; returns the median ms of each. */
async function compare(backend: Backend): Promise<{ value: number; baseline: number }> {
  const data = records();
  const sealedTimes: number[] = [];
  const plainTimes: number[] = [];
  const sealedRound = async (): Promise<number> => {
    const { storage, dispose } = await backend.open();
    // The KDF is not what is measured here (kdf_unlock is); a weak cost keeps setup short.
    const vault = await Vault.create(storage, 'synthetic bench passphrase', { kdfCost: WEAK_TEST_KDF_COST, allowWeakKdf: true, autoLockMs: null });
    const ms = await timeOnce(async () => {
      for (let i = 0; i < RECORDS; i += BATCH) await vault.batchSealed(data.slice(i, i + BATCH).map(({ key, value }) => ({ type: 'put', key, value })));
    });
    if ((await vault.recordCount()) !== RECORDS) throw new Error('sealed side did not store every record');
    await dispose();
    return ms;
  };
  const plainRound = async (): Promise<number> => {
    const { storage, dispose } = await backend.open();
    const ms = await timeOnce(async () => {
      for (let i = 0; i < RECORDS; i += BATCH) await storage.batch(data.slice(i, i + BATCH).map(({ key, value }) => ({ type: 'put', key: `r/${key}`, value })));
    });
    let count = 0;
    for await (const _ of storage.range('r/')) count++;
    if (count !== RECORDS) throw new Error('plain side did not store every record');
    await dispose();
    return ms;
  };
  await sealedRound(); // warm-up: JIT, imported keys, native module
  await plainRound();
  for (let i = 0; i < ROUNDS; i++) {
    // Swap who goes first each round so neither side always runs after the other's garbage.
    if (i % 2 === 0) {
      sealedTimes.push(await sealedRound());
      plainTimes.push(await plainRound());
    } else {
      plainTimes.push(await plainRound());
      sealedTimes.push(await sealedRound());
    }
  }
  return { value: median(sealedTimes), baseline: median(plainTimes) };
}

const leveldb: Backend = {
  async open() {
    const dir = await mkdtemp(join(tmpdir(), 'pv-bench-'));
    const storage = await openLevelDbStorage(join(dir, 'db'), { create: true });
    return {
      storage,
      dispose: async () => {
        await storage.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

const indexedDb: Backend = {
  async open() {
    const storage = await openIndexedDbStorage({ name: 'bench', factory: new IDBFactory(), keyRange: IDBKeyRange });
    return { storage, dispose: () => storage.close() };
  },
};

export const benchmarks: Benchmark[] = [
  {
    name: 'store_put_10k_leveldb',
    unit: 'ms',
    goal: 'ratio ≤ 1.5 (sealed vs plaintext puts, LevelDB, batches of 100)',
    run: () => compare(leveldb),
  },
  {
    name: 'store_put_10k_idb',
    unit: 'ms',
    goal: 'ratio ≤ 1.5 (sealed vs plaintext puts, fake-indexeddb, batches of 100)',
    run: () => compare(indexedDb),
  },
];
