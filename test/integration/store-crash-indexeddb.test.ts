// idb needs the IndexedDB classes as globals (instanceof checks); each test still gets its own
// IDBFactory, so no database is shared between tests.
import 'fake-indexeddb/auto';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { openIndexedDbStorage, StoreError, Vault, WEAK_TEST_KDF_COST } from '../../src/store/index.js';

const PASS = 'idb crash passphrase';
const WEAK = { kdfCost: WEAK_TEST_KDF_COST, allowWeakKdf: true, autoLockMs: null };
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/**
 * A storage whose next batch aborts its transaction once operation `abortAfter` has been applied
 * inside it (its request succeeded) while the later ones are still pending — what a browser does
 * to an open transaction when the tab or worker dies.
 */
async function openWithFault(factory: IDBFactory, fault: { abortAfter?: number | undefined; appliedBeforeAbort?: number }) {
  return openIndexedDbStorage({
    name: 'vault',
    factory,
    keyRange: IDBKeyRange,
    onWriteApplied: (tx, index) => {
      if (index !== fault.abortAfter) return;
      fault.abortAfter = undefined;
      fault.appliedBeforeAbort = index + 1;
      tx.abort();
    },
  });
}

async function contents(vault: Vault): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const { key, value } of vault.rangeSealed('')) out[key] = dec(value);
  return out;
}

describe('IndexedDB store when a transaction is aborted midway', () => {
  it('rolls an aborted sealed batch back entirely: the vault reopens to the state before it', async () => {
    const factory = new IDBFactory();
    const fault: { abortAfter?: number | undefined; appliedBeforeAbort?: number } = {};
    const storage = await openWithFault(factory, fault);
    const vault = await Vault.create(storage, PASS, WEAK);
    await vault.batchSealed(Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: `rec/${String(i).padStart(3, '0')}`, value: enc(`v0-${i}`) })));
    const before = await contents(vault);

    fault.abortAfter = 49;
    const second = [
      ...Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: `rec/${String(i).padStart(3, '0')}`, value: enc(`v1-${i}`) })),
      ...Array.from({ length: 50 }, (_, i) => ({ type: 'put' as const, key: `new/${i}`, value: enc(`n-${i}`) })),
      { type: 'delete' as const, key: 'rec/000' },
    ];
    const error = await vault.batchSealed(second).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('BACKEND_FAILED');
    expect(fault.appliedBeforeAbort).toBe(50); // half the overwrites were applied in the transaction
    await storage.close();

    const reopened = await openWithFault(factory, {});
    const again = await Vault.open(reopened, WEAK);
    await again.unlock(PASS);
    expect(await contents(again)).toEqual(before);
    await again.batchSealed(second);
    expect(Object.keys(await contents(again))).toHaveLength(149);
    await reopened.close();
  });

  it('over many batches with random abort points, every reopen shows exactly the committed batches', async () => {
    const factory = new IDBFactory();
    const fault: { abortAfter?: number | undefined } = {};
    let storage = await openWithFault(factory, fault);
    let vault = await Vault.create(storage, PASS, WEAK);
    const model = new Map<string, string>();
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let b = 0; b < 25; b++) {
      const ops: Parameters<Vault['batchSealed']>[0][number][] = [];
      const size = 1 + random(40);
      for (let i = 0; i < size; i++) {
        const key = `k/${random(60)}`;
        ops.push(random(4) === 0 ? { type: 'delete', key } : { type: 'put', key, value: enc(`b${b}-${i}`) });
      }
      const abort = random(3) !== 0;
      fault.abortAfter = abort ? random(size) : undefined;
      const result = await vault.batchSealed(ops).then(
        () => 'committed',
        (e: unknown) => (e as StoreError).code,
      );
      expect(result).toBe(abort ? 'BACKEND_FAILED' : 'committed');
      if (!abort) {
        for (const op of ops) {
          if (op.type === 'put') model.set(op.key, dec(op.value));
          else model.delete(op.key);
        }
      }
      // Reopen from scratch every few batches, as after a crash.
      if (b % 5 === 4) {
        await storage.close();
        storage = await openWithFault(factory, fault);
        vault = await Vault.open(storage, WEAK);
        await vault.unlock(PASS);
      }
      expect(await contents(vault)).toEqual(Object.fromEntries([...model].sort(([a], [c]) => (a < c ? -1 : 1))));
    }
    await storage.close();
  });
});
