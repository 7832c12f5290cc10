/**
 * Runs `store_put_10k` inside a Chromium page (bench/e2e.bench.ts bundles and serves it): the same
 * 10,000 × 2 KB records, batches of 100, sealed through `Vault.batchSealed` (WebCrypto AES-GCM in
 * the browser) and as plaintext through the same IndexedDB storage's `batch`, each round into a
 * fresh database on the profile's disk, alternating which side goes first.
 */
import { openIndexedDbStorage, Vault, WEAK_TEST_KDF_COST, type Storage } from '../../src/store/index.js';
import { BATCH, RECORDS, records } from '../store-records.js';

let databases = 0;

async function fresh(): Promise<{ storage: Storage; dispose: () => Promise<void> }> {
  const name = `bench-${databases++}`;
  const storage = await openIndexedDbStorage({ name });
  return {
    storage,
    dispose: async () => {
      await storage.close();
      await new Promise<void>((done, fail) => {
        const request = indexedDB.deleteDatabase(name);
        request.onsuccess = () => done();
        request.onerror = () => fail(new Error('deleteDatabase failed'));
      });
    },
  };
}

async function sealedRound(data: ReturnType<typeof records>): Promise<number> {
  const { storage, dispose } = await fresh();
  const vault = await Vault.create(storage, 'synthetic bench passphrase', { kdfCost: WEAK_TEST_KDF_COST, allowWeakKdf: true, autoLockMs: null });
  const start = performance.now();
  for (let i = 0; i < RECORDS; i += BATCH) await vault.batchSealed(data.slice(i, i + BATCH).map(({ key, value }) => ({ type: 'put', key, value })));
  const ms = performance.now() - start;
  if ((await vault.recordCount()) !== RECORDS) throw new Error('sealed side did not store every record');
  await dispose();
  return ms;
}

async function plainRound(data: ReturnType<typeof records>): Promise<number> {
  const { storage, dispose } = await fresh();
  const start = performance.now();
  for (let i = 0; i < RECORDS; i += BATCH) await storage.batch(data.slice(i, i + BATCH).map(({ key, value }) => ({ type: 'put', key: `r/${key}`, value })));
  const ms = performance.now() - start;
  let count = 0;
  for await (const _ of storage.range('r/')) count++;
  if (count !== RECORDS) throw new Error('plain side did not store every record');
  await dispose();
  return ms;
}

/** What the benchmark calls through page.evaluate: the ms of each round of each side. */
export async function run(rounds: number): Promise<{ sealed: number[]; plain: number[] }> {
  const data = records();
  await sealedRound(data); // warm-up: JIT, imported keys
  await plainRound(data);
  const sealed: number[] = [];
  const plain: number[] = [];
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      sealed.push(await sealedRound(data));
      plain.push(await plainRound(data));
    } else {
      plain.push(await plainRound(data));
      sealed.push(await sealedRound(data));
    }
  }
  return { sealed, plain };
}

(globalThis as unknown as { pvBench: { run: typeof run } }).pvBench = { run };
