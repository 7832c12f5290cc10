/**
 * Child process of test/integration/store-crash-leveldb.test.ts (test support, never shipped):
 * opens the vault in $PV_CRASH_DIR and writes batches until it is killed. Batch b overwrites
 * every `rec/j` with a value naming b, puts `extra/b`, deletes `extra/(b-1)` and sets `progress`
 * to b — so any state between two batches would show mixed batch numbers. It prints `writing b`
 * before a batch and `committed b` once it has committed.
 */
import { openLevelDbStorage, Vault, WEAK_TEST_KDF_COST } from './index.js';

export const RECORDS_PER_BATCH = 1000;
export const RECORD_BYTES = 2048;

/** The value of record j in batch b: a small text head naming both, padded to RECORD_BYTES. */
export function crashRecordValue(batch: number, j: number): Uint8Array {
  const out = new Uint8Array(RECORD_BYTES).fill(0x2e);
  out.set(new TextEncoder().encode(`batch=${batch};j=${j};`));
  return out;
}

async function main(): Promise<void> {
  const dir = process.env.PV_CRASH_DIR;
  const passphrase = process.env.PV_CRASH_PASSPHRASE;
  if (!dir || !passphrase) throw new Error('PV_CRASH_DIR and PV_CRASH_PASSPHRASE are required');
  const storage = await openLevelDbStorage(dir);
  const vault = await Vault.open(storage, { kdfCost: WEAK_TEST_KDF_COST, allowWeakKdf: true, autoLockMs: null });
  await vault.unlock(passphrase);
  const progress = await vault.getSealed('progress');
  let batch = progress === undefined ? 0 : Number(new TextDecoder().decode(progress)) + 1;
  process.stdout.write(`ready ${batch}\n`);
  for (;;) {
    const ops: Parameters<Vault['batchSealed']>[0][number][] = [];
    for (let j = 0; j < RECORDS_PER_BATCH; j++) ops.push({ type: 'put', key: `rec/${j}`, value: crashRecordValue(batch, j) });
    ops.push({ type: 'put', key: `extra/${batch}`, value: crashRecordValue(batch, -1) });
    if (batch > 0) ops.push({ type: 'delete', key: `extra/${batch - 1}` });
    ops.push({ type: 'put', key: 'progress', value: new TextEncoder().encode(String(batch)) });
    process.stdout.write(`writing ${batch}\n`);
    await vault.batchSealed(ops);
    process.stdout.write(`committed ${batch}\n`);
    batch++;
  }
}

if (process.env.PV_CRASH_DIR !== undefined) {
  main().catch((error: unknown) => {
    process.stderr.write(`crash writer failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(3);
  });
}
