import { describe, expect, it } from 'vitest';
import { decodeCanonical } from '../crypto/index.js';
import { HEADER_KEY, MemoryStorage, StoreError, Vault, WEAK_TEST_KDF_COST, type Storage } from './index.js';
import { ManualClock, WEAK, dumpStorage, rejection, text, utf8 } from './test-support.js';

const PASS = 'correct horse battery staple';

async function newVault(storage: Storage = new MemoryStorage(), options = {}) {
  const vault = await Vault.create(storage, PASS, { ...WEAK, ...options });
  return { storage, vault };
}

async function expectCode(promise: Promise<unknown>, code: string) {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(StoreError);
  expect(error.code).toBe(code);
  return error;
}

describe('Vault.create and open', () => {
  it('creates an unlocked vault whose header is public and whose records round-trip', async () => {
    const clock = new ManualClock(1_234_567_890_000);
    const { vault } = await newVault(new MemoryStorage(), { clock, autoLockMs: 60_000 });
    expect(vault.isLocked()).toBe(false);
    await vault.putSealed('doc/1', utf8('first'));
    expect(text(await vault.getSealed('doc/1'))).toBe('first');
    expect(await vault.getSealed('doc/none')).toBeUndefined();
    const { header } = vault;
    expect(header.schemaVersion).toBe(2);
    expect(header.createdAt).toBe(1_234_567_890_000);
    expect(header.kdf).toMatchObject({ algorithm: 'argon2id', ...WEAK_TEST_KDF_COST });
    expect(header.kdf.salt).toHaveLength(16);
    expect(header.wrappedKey).toHaveLength(60);
    expect(header.autoLockMs).toBe(60_000);
  });

  it('opens an existing vault locked, and unlocks it with the passphrase', async () => {
    const { storage, vault } = await newVault();
    await vault.putSealed('a', utf8('alpha'));
    const again = await Vault.open(storage, WEAK);
    expect(again.isLocked()).toBe(true);
    await again.unlock(PASS);
    expect(again.isLocked()).toBe(false);
    expect(text(await again.getSealed('a'))).toBe('alpha');
  });

  it('unlocks with the passphrase typed in another Unicode normal form', async () => {
    const storage = new MemoryStorage();
    await Vault.create(storage, 'caf\u00e9 au lait', WEAK);
    const again = await Vault.open(storage, WEAK);
    await again.unlock('cafe\u0301 au lait');
    expect(again.isLocked()).toBe(false);
  });

  it('refuses to create over an existing vault (VAULT_EXISTS) and changes nothing', async () => {
    const { storage, vault } = await newVault();
    await vault.putSealed('a', utf8('alpha'));
    const before = await dumpStorage(storage);
    await expectCode(Vault.create(storage, 'another passphrase', WEAK), 'VAULT_EXISTS');
    expect(await dumpStorage(storage)).toEqual(before);
  });

  it('refuses to create a vault in storage holding other data (NOT_A_VAULT)', async () => {
    const storage = new MemoryStorage();
    await storage.put('someone/else', utf8('theirs'));
    await expectCode(Vault.create(storage, PASS, WEAK), 'NOT_A_VAULT');
    expect(await dumpStorage(storage)).toEqual([['someone/else', Buffer.from('theirs').toString('hex')]]);
  });

  it('reports empty and foreign storage as NOT_A_VAULT on open', async () => {
    await expectCode(Vault.open(new MemoryStorage()), 'NOT_A_VAULT');
    const foreign = new MemoryStorage();
    await foreign.put('other', utf8('x'));
    const error = await expectCode(Vault.open(foreign), 'NOT_A_VAULT');
    expect(error.message).toMatch(/no vault header/);
  });

  it('refuses KDF costs below the floor unless weak costs are allowed explicitly', async () => {
    await expectCode(Vault.create(new MemoryStorage(), PASS, { kdfCost: WEAK_TEST_KDF_COST }), 'INVALID_INPUT');
    const { storage } = await newVault();
    const strict = await Vault.open(storage);
    await expectCode(strict.unlock(PASS), 'CORRUPT_HEADER');
    expect(strict.isLocked()).toBe(true);
  });

  it('refuses bad passphrases, storages and options at the door', async () => {
    await expectCode(Vault.create(new MemoryStorage(), '', WEAK), 'INVALID_INPUT');
    await expectCode(Vault.create(new MemoryStorage(), 42 as never, WEAK), 'INVALID_INPUT');
    await expectCode(Vault.create(new MemoryStorage(), 'x'.repeat(1025), WEAK), 'INVALID_INPUT');
    await expectCode(Vault.create({} as never, PASS, WEAK), 'INVALID_INPUT');
    await expectCode(Vault.create(new MemoryStorage(), PASS, { ...WEAK, autoLockMs: 5 }), 'INVALID_INPUT');
    await expectCode(Vault.create(new MemoryStorage(), PASS, { ...WEAK, clock: {} as never }), 'INVALID_INPUT');
    await expectCode(Vault.open(null as never), 'INVALID_INPUT');
  });
});

describe('Vault lock and passphrases', () => {
  it('rejects a wrong passphrase with WRONG_PASSPHRASE, stays locked and writes nothing', async () => {
    const { storage, vault } = await newVault();
    await vault.putSealed('a', utf8('alpha'));
    const before = await dumpStorage(storage);
    const again = await Vault.open(storage, WEAK);
    const error = await expectCode(again.unlock('wrong passphrase'), 'WRONG_PASSPHRASE');
    expect(error.message).not.toContain('wrong passphrase');
    expect(again.isLocked()).toBe(true);
    expect(await dumpStorage(storage)).toEqual(before);
    await again.unlock(PASS);
    expect(text(await again.getSealed('a'))).toBe('alpha');
  });

  it('throws LOCKED from every keyed operation while locked', async () => {
    const { vault } = await newVault();
    await vault.putSealed('a', utf8('alpha'));
    vault.lock();
    expect(vault.isLocked()).toBe(true);
    await expectCode(vault.getSealed('a'), 'LOCKED');
    await expectCode(vault.putSealed('b', utf8('beta')), 'LOCKED');
    await expectCode(vault.deleteSealed('a'), 'LOCKED');
    await expectCode(vault.batchSealed([{ type: 'put', key: 'c', value: utf8('c') }]), 'LOCKED');
    await expectCode(
      (async () => {
        for await (const _ of vault.rangeSealed('')) break;
      })(),
      'LOCKED',
    );
    await expectCode(vault.exportBackup(), 'LOCKED');
    await expectCode(vault.setAutoLockMs(60_000), 'LOCKED');
    expect(() => vault.keyedHash('record-id', utf8('x'))).toThrow(StoreError);
    expect(await vault.recordCount()).toBe(1);
    await vault.unlock(PASS);
    expect(text(await vault.getSealed('a'))).toBe('alpha');
  });

  it('fails a read with LOCKED when the vault is locked while the read waits on storage', async () => {
    const { vault } = await newVault();
    await vault.putSealed('a', utf8('alpha'));
    const pending = vault.getSealed('a');
    vault.lock();
    await expectCode(pending, 'LOCKED');
  });

  it('checks a passphrase without unlocking or writing (verifyPassphrase)', async () => {
    const { storage } = await newVault();
    const before = await dumpStorage(storage);
    const vault = await Vault.open(storage, { ...WEAK, kdfCost: { memoryKiB: 64, iterations: 2, parallelism: 1 } });
    expect(await vault.verifyPassphrase(PASS)).toBe(true);
    expect(await vault.verifyPassphrase('nope')).toBe(false);
    expect(vault.isLocked()).toBe(true);
    expect(await dumpStorage(storage)).toEqual(before);
  });

  it('changes the passphrase by re-wrapping the vault key, leaving every record byte-identical', async () => {
    const { storage, vault } = await newVault();
    await vault.batchSealed([
      { type: 'put', key: 'a', value: utf8('alpha') },
      { type: 'put', key: 'b', value: utf8('beta') },
    ]);
    const records = (await dumpStorage(storage)).filter(([k]) => k !== HEADER_KEY);
    const oldSalt = vault.header.kdf.salt;
    await vault.changePassphrase(PASS, 'a new long passphrase');
    expect((await dumpStorage(storage)).filter(([k]) => k !== HEADER_KEY)).toEqual(records);
    expect(vault.header.kdf.salt).not.toEqual(oldSalt);
    expect(vault.isLocked()).toBe(false);
    const reopened = await Vault.open(storage, WEAK);
    await expectCode(reopened.unlock(PASS), 'WRONG_PASSPHRASE');
    await reopened.unlock('a new long passphrase');
    expect(text(await reopened.getSealed('b'))).toBe('beta');
  });

  it('refuses to change the passphrase given the wrong old one, changing nothing', async () => {
    const { storage, vault } = await newVault();
    const before = await dumpStorage(storage);
    vault.lock();
    await expectCode(vault.changePassphrase('not it', 'a new long passphrase'), 'WRONG_PASSPHRASE');
    expect(await dumpStorage(storage)).toEqual(before);
    await vault.changePassphrase(PASS, 'a new long passphrase');
    expect(vault.isLocked()).toBe(true);
    await vault.unlock('a new long passphrase');
  });

  it('upgrades weaker KDF parameters at unlock by re-wrapping, and keeps the data', async () => {
    const { storage, vault } = await newVault();
    await vault.putSealed('a', utf8('alpha'));
    const stronger = { memoryKiB: 64, iterations: 2, parallelism: 1 };
    const reopened = await Vault.open(storage, { allowWeakKdf: true, kdfCost: stronger });
    await reopened.unlock(PASS);
    expect(reopened.header.kdf).toMatchObject(stronger);
    const stored = decodeCanonical((await storage.get(HEADER_KEY))!) as { kdf: { memoryKiB: number; iterations: number } };
    expect(stored.kdf).toMatchObject({ memoryKiB: 64, iterations: 2 });
    const third = await Vault.open(storage, { allowWeakKdf: true, kdfCost: stronger });
    await third.unlock(PASS);
    expect(text(await third.getSealed('a'))).toBe('alpha');
  });

  it('writes nothing at unlock when the KDF parameters already meet the target', async () => {
    const { storage } = await newVault();
    const before = await dumpStorage(storage);
    const again = await Vault.open(storage, WEAK);
    await again.unlock(PASS);
    expect(await dumpStorage(storage)).toEqual(before);
  });
});

describe('Vault auto-lock', () => {
  it('locks after the idle time, counted from unlock or the last touch', async () => {
    const clock = new ManualClock();
    const { vault } = await newVault(new MemoryStorage(), { clock, autoLockMs: 60_000 });
    clock.advance(59_999);
    expect(vault.checkIdle()).toBe(false);
    vault.touch();
    clock.advance(59_999);
    expect(vault.checkIdle()).toBe(false);
    expect(vault.isLocked()).toBe(false);
    clock.advance(1);
    expect(vault.checkIdle()).toBe(true);
    expect(vault.isLocked()).toBe(true);
    expect(vault.checkIdle()).toBe(false);
  });

  it('refuses keyed operations once idle even if nobody called checkIdle', async () => {
    const clock = new ManualClock();
    const { vault } = await newVault(new MemoryStorage(), { clock, autoLockMs: 60_000 });
    await vault.putSealed('a', utf8('alpha'));
    clock.advance(60_000);
    await expectCode(vault.getSealed('a'), 'LOCKED');
    expect(vault.isLocked()).toBe(true);
  });

  it('never locks by idleness when the setting is null, and a session may override the stored setting', async () => {
    const clock = new ManualClock();
    const { storage, vault } = await newVault(new MemoryStorage(), { clock, autoLockMs: null });
    clock.advance(365 * 24 * 3600 * 1000);
    expect(vault.checkIdle()).toBe(false);
    const strict = await Vault.open(storage, { ...WEAK, clock, autoLockMs: 1000 });
    await strict.unlock(PASS);
    clock.advance(1000);
    expect(strict.checkIdle()).toBe(true);
  });

  it('stores a new idle time with the vault (setAutoLockMs) and validates it', async () => {
    const clock = new ManualClock();
    const { storage, vault } = await newVault(new MemoryStorage(), { clock });
    expect(vault.autoLockMs).toBe(15 * 60 * 1000);
    await vault.setAutoLockMs(5 * 60 * 1000);
    await expectCode(vault.setAutoLockMs(-1), 'INVALID_INPUT');
    await expectCode(vault.setAutoLockMs(1.5e3 + 0.5), 'INVALID_INPUT');
    const again = await Vault.open(storage, { ...WEAK, clock });
    expect(again.autoLockMs).toBe(5 * 60 * 1000);
    expect(again.header.autoLockMs).toBe(5 * 60 * 1000);
  });
});

describe('Vault sealed records', () => {
  it('never stores the plaintext, and stores records under their own prefix', async () => {
    const { storage, vault } = await newVault();
    await vault.putSealed('obs/1', utf8('MARKER-glucose-5.4'));
    const dump = await dumpStorage(storage);
    expect(dump.map(([k]) => k)).toEqual(['r/obs/1', HEADER_KEY]);
    for (const [, hex] of dump) expect(Buffer.from(hex, 'hex').includes('MARKER')).toBe(false);
  });

  it('reports a corrupted ciphertext as CORRUPT_RECORD naming the storage key, never the content', async () => {
    const { storage, vault } = await newVault();
    await vault.putSealed('obs/1', utf8('secret-content-123'));
    const sealed = (await storage.get('r/obs/1'))!;
    for (const index of [0, 1, 12, sealed.length - 1, Math.floor(sealed.length / 2)]) {
      const bad = sealed.slice();
      bad[index]! ^= 0x01;
      await storage.put('r/obs/1', bad);
      const error = await expectCode(vault.getSealed('obs/1'), 'CORRUPT_RECORD');
      expect(error.key).toBe('r/obs/1');
      expect(error.message).toContain('r/obs/1');
      expect(error.message).not.toContain('secret-content');
    }
    await storage.put('r/obs/1', sealed.subarray(0, 20));
    await expectCode(vault.getSealed('obs/1'), 'CORRUPT_RECORD');
    await storage.put('r/obs/1', sealed);
    expect(text(await vault.getSealed('obs/1'))).toBe('secret-content-123');
  });

  it('refuses a ciphertext moved to another key (associated data names the key)', async () => {
    const { storage, vault } = await newVault();
    await vault.putSealed('mine', utf8('alpha'));
    await storage.put('r/elsewhere', (await storage.get('r/mine'))!);
    await expectCode(vault.getSealed('elsewhere'), 'CORRUPT_RECORD');
  });

  it('refuses a record sealed by another vault', async () => {
    const a = await newVault();
    const b = await newVault();
    await a.vault.putSealed('x', utf8('from a'));
    await b.storage.put('r/x', (await a.storage.get('r/x'))!);
    await expectCode(b.vault.getSealed('x'), 'CORRUPT_RECORD');
  });

  it('ranges records by prefix in key order, opened, with the prefix of the store removed', async () => {
    const { vault } = await newVault();
    await vault.batchSealed(['labs/2', 'labs/10', 'notes/1', 'labs/1'].map((key) => ({ type: 'put' as const, key, value: utf8(`v:${key}`) })));
    const seen: [string, string | undefined][] = [];
    for await (const { key, value } of vault.rangeSealed('labs/')) seen.push([key, text(value)]);
    expect(seen).toEqual([
      ['labs/1', 'v:labs/1'],
      ['labs/10', 'v:labs/10'],
      ['labs/2', 'v:labs/2'],
    ]);
    expect(await vault.recordCount()).toBe(4);
  });

  it('applies a sealed batch of puts and deletes in one transaction', async () => {
    const { vault } = await newVault();
    await vault.putSealed('old', utf8('old'));
    await vault.batchSealed([
      { type: 'put', key: 'new', value: utf8('new') },
      { type: 'delete', key: 'old' },
    ]);
    expect(await vault.getSealed('old')).toBeUndefined();
    expect(text(await vault.getSealed('new'))).toBe('new');
    await vault.deleteSealed('new');
    expect(await vault.recordCount()).toBe(0);
  });

  it('writes nothing when one operation of a sealed batch is bad', async () => {
    const { storage, vault } = await newVault();
    await vault.putSealed('keep', utf8('keep'));
    const before = await dumpStorage(storage);
    await expectCode(vault.batchSealed([{ type: 'put', key: 'a', value: utf8('a') }, { type: 'put', key: 'b', value: 'text' as never }]), 'INVALID_INPUT');
    await expectCode(vault.batchSealed([{ type: 'put', key: 'a', value: utf8('a') }, { type: 'delete', key: 7 as never }]), 'INVALID_INPUT');
    await expectCode(vault.batchSealed([{ type: 'move', key: 'a' } as never]), 'INVALID_INPUT');
    await expectCode(vault.batchSealed('x' as never), 'INVALID_INPUT');
    expect(await dumpStorage(storage)).toEqual(before);
  });

  it('refuses non-string keys and non-Uint8Array values with INVALID_INPUT', async () => {
    const { vault } = await newVault();
    for (const key of [undefined, null, 1, {}, utf8('k'), '', 'k'.repeat(1023)]) {
      await expectCode(vault.putSealed(key as never, utf8('v')), 'INVALID_INPUT');
      await expectCode(vault.getSealed(key as never), 'INVALID_INPUT');
      await expectCode(vault.deleteSealed(key as never), 'INVALID_INPUT');
    }
    for (const value of ['v', 1, null, [1], new ArrayBuffer(1), new Uint16Array(1), new DataView(new ArrayBuffer(1))]) {
      await expectCode(vault.putSealed('k', value as never), 'INVALID_INPUT');
    }
    expect(await vault.recordCount()).toBe(0);
  });

  it('gives keyed hashes that are stable per vault and purpose and differ across both', async () => {
    const a = await newVault();
    const b = await newVault();
    const h1 = a.vault.keyedHash('record-id', utf8('Observation/42'));
    expect(h1).toHaveLength(32);
    expect(a.vault.keyedHash('record-id', utf8('Observation/42'))).toEqual(h1);
    expect(a.vault.keyedHash('scope', utf8('Observation/42'))).not.toEqual(h1);
    expect(b.vault.keyedHash('record-id', utf8('Observation/42'))).not.toEqual(h1);
    expect(() => a.vault.keyedHash('', utf8('x'))).toThrow(StoreError);
  });

  it('returns a copy of the header: mutating it changes nothing', async () => {
    const { vault } = await newVault();
    const salt = vault.header.kdf.salt.slice();
    vault.header.kdf.salt.fill(0);
    expect(vault.header.kdf.salt).toEqual(salt);
  });
});
