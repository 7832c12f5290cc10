import { describe, expect, it } from 'vitest';
import { HEADER_KEY, MemoryStorage, StoreError, Vault, WEAK_TEST_KDF_COST } from '../index.js';
import { WEAK, decodeCanonical, dumpStorage, encodeCanonical, rejection, text, utf8 } from '../test-support.js';
import { nestKdfAndIdleSetting, SCHEMA_1_AUTO_LOCK_MS } from './0001-nest-kdf-and-idle-setting.js';
import fixture from './fixtures/vault-schema-1.json';
import { writeSchema1Vault } from './schema-1-writer.js';

async function fixtureStorage(): Promise<MemoryStorage> {
  const storage = new MemoryStorage();
  await storage.batch(Object.entries(fixture.entries).map(([key, hex]) => ({ type: 'put' as const, key, value: Buffer.from(hex, 'hex') })));
  return storage;
}

describe('migration 0001: schema 1 → 2 (nested KDF parameters, stored idle-lock setting)', () => {
  it('opens the committed schema-1 fixture locked, shows it as schema 1, and writes nothing', async () => {
    const storage = await fixtureStorage();
    const before = await dumpStorage(storage);
    const vault = await Vault.open(storage, WEAK);
    expect(vault.isLocked()).toBe(true);
    expect(vault.header.schemaVersion).toBe(1);
    expect(vault.header.kdf).toMatchObject({ algorithm: 'argon2id', ...WEAK_TEST_KDF_COST });
    expect(vault.header.autoLockMs).toBe(SCHEMA_1_AUTO_LOCK_MS);
    expect(await vault.recordCount()).toBe(2);
    expect(await dumpStorage(storage)).toEqual(before);
  });

  it('migrates the fixture at unlock: header rewritten in schema 2, wrapped key and records unchanged', async () => {
    const storage = await fixtureStorage();
    const vault = await Vault.open(storage, WEAK);
    await vault.unlock(fixture.passphrase);
    for (const [key, plain] of Object.entries(fixture.records)) expect(text(await vault.getSealed(key))).toBe(plain);
    const stored = decodeCanonical((await storage.get(HEADER_KEY))!) as Record<string, unknown>;
    expect(stored.schemaVersion).toBe(2);
    expect(stored).not.toHaveProperty('kdfSalt');
    expect(stored.kdf).toMatchObject({ algorithm: 'argon2id', ...WEAK_TEST_KDF_COST });
    expect(stored.autoLockMs).toBe(SCHEMA_1_AUTO_LOCK_MS);
    const old = decodeCanonical(Buffer.from(fixture.entries[HEADER_KEY], 'hex')) as Record<string, unknown>;
    expect(stored.wrappedKey).toEqual(old.wrappedKey);
    expect(stored.createdAt).toBe(old.createdAt);
    expect((await dumpStorage(storage)).filter(([k]) => k !== HEADER_KEY)).toEqual(Object.entries(fixture.entries).filter(([k]) => k !== HEADER_KEY).sort());
    // And the migrated vault opens as a plain schema-2 vault.
    const again = await Vault.open(storage, WEAK);
    expect(again.header.schemaVersion).toBe(2);
    await again.unlock(fixture.passphrase);
    expect(text(await again.getSealed('labs/o1'))).toBe(fixture.records['labs/o1']);
  });

  it('migrates a fresh vault from the kept schema-1 writer, with a KDF upgrade in the same write', async () => {
    const storage = new MemoryStorage();
    await writeSchema1Vault(storage, 'p1 passphrase', WEAK_TEST_KDF_COST, { 'x/1': utf8('one') });
    const stronger = { memoryKiB: 32, iterations: 2, parallelism: 1 };
    const vault = await Vault.open(storage, { allowWeakKdf: true, kdfCost: stronger });
    await vault.unlock('p1 passphrase');
    const stored = decodeCanonical((await storage.get(HEADER_KEY))!) as { schemaVersion: number; kdf: object };
    expect(stored.schemaVersion).toBe(2);
    expect(stored.kdf).toMatchObject(stronger);
    const again = await Vault.open(storage, { allowWeakKdf: true, kdfCost: stronger });
    await again.unlock('p1 passphrase');
    expect(text(await again.getSealed('x/1'))).toBe('one');
  });

  it('leaves a schema-1 vault untouched when the passphrase is wrong', async () => {
    const storage = await fixtureStorage();
    const before = await dumpStorage(storage);
    const vault = await Vault.open(storage, WEAK);
    expect((await rejection(vault.unlock('not the passphrase'))).code).toBe('WRONG_PASSPHRASE');
    expect(await dumpStorage(storage)).toEqual(before);
  });

  it('refuses a schema-1 header missing its KDF fields as CORRUPT_HEADER', async () => {
    const record = decodeCanonical(Buffer.from(fixture.entries[HEADER_KEY], 'hex')) as Record<string, unknown>;
    for (const field of ['kdfSalt', 'kdfMemoryKiB', 'kdfIterations', 'kdfParallelism']) {
      const broken = { ...record };
      delete broken[field];
      expect(() => nestKdfAndIdleSetting.upgradeHeader(broken)).toThrow(StoreError);
      const storage = await fixtureStorage();
      await storage.put(HEADER_KEY, encodeCanonical(broken));
      const error = await rejection(Vault.open(storage, WEAK));
      expect(error.code).toBe('CORRUPT_HEADER');
    }
  });
});
