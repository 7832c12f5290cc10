import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deriveKeyFromPassphrase, encodeCanonical, newKdfParams, seal } from '../crypto/index.js';
import { assembleBackup, BACKUP_CHUNK_BYTES, chunkAssociatedData, encodeBackupHeader, encodeEntries, parseBackup } from './backup-format.js';
import { HEADER_KEY, MemoryStorage, StoreError, Vault, WEAK_TEST_KDF_COST } from './index.js';
import { WEAK, dumpStorage, rejection, text, utf8 } from './test-support.js';

const PASS = 'backup test passphrase';

async function vaultWith(records: Record<string, Uint8Array>) {
  const storage = new MemoryStorage();
  const vault = await Vault.create(storage, PASS, WEAK);
  await vault.batchSealed(Object.entries(records).map(([key, value]) => ({ type: 'put' as const, key, value })));
  return { storage, vault };
}

describe('encrypted backup', () => {
  it('restores every record and the header onto a fresh store, unlocked, byte for byte', async () => {
    const { storage, vault } = await vaultWith({ 'labs/1': utf8('synthetic lab'), 'notes/\u{1F4DD}': utf8('synthetic note'), 'empty': new Uint8Array(0) });
    const backup = await vault.exportBackup();
    const target = new MemoryStorage();
    const restored = await Vault.restoreBackup(target, backup, PASS, WEAK);
    expect(restored.isLocked()).toBe(false);
    expect(await dumpStorage(target)).toEqual(await dumpStorage(storage));
    expect(text(await restored.getSealed('notes/\u{1F4DD}'))).toBe('synthetic note');
    restored.lock();
    await restored.unlock(PASS);
    expect(text(await restored.getSealed('labs/1'))).toBe('synthetic lab');
  });

  it('holds no plaintext and no record key in the file', async () => {
    const { vault } = await vaultWith({ 'visible-key-name': utf8('MARKER-backup-plaintext') });
    const backup = Buffer.from(await vault.exportBackup());
    expect(backup.includes('MARKER')).toBe(false);
    expect(backup.includes('visible-key-name')).toBe(false);
    expect(backup.includes(Buffer.from('visible-key-name', 'utf16le').swap16())).toBe(false);
  });

  it('splits a vault larger than one chunk into several sealed chunks and restores it', async () => {
    const big = new Uint8Array(700 * 1024).map((_, i) => i * 7);
    const { vault } = await vaultWith({ a: big, b: big, c: big });
    const backup = await vault.exportBackup();
    const parsed = parseBackup(backup);
    expect(parsed.chunks.length).toBe(3); // ~2.1 MB of framed sealed records in 1 MiB chunks
    const restored = await Vault.restoreBackup(new MemoryStorage(), backup, PASS, WEAK);
    expect(Buffer.compare((await restored.getSealed('c'))!, big)).toBe(0);
  });

  it('rejects the wrong passphrase with WRONG_PASSPHRASE and writes nothing', async () => {
    const { vault } = await vaultWith({ a: utf8('a') });
    const backup = await vault.exportBackup();
    const target = new MemoryStorage();
    expect((await rejection(Vault.restoreBackup(target, backup, 'not the passphrase', WEAK))).code).toBe('WRONG_PASSPHRASE');
    expect(await dumpStorage(target)).toEqual([]);
  });

  it('refuses to restore onto a store that holds a vault (VAULT_EXISTS) and leaves it as it was', async () => {
    const { vault } = await vaultWith({ a: utf8('a') });
    const backup = await vault.exportBackup();
    const other = await vaultWith({ b: utf8('b') });
    const before = await dumpStorage(other.storage);
    expect((await rejection(Vault.restoreBackup(other.storage, backup, PASS, WEAK))).code).toBe('VAULT_EXISTS');
    expect(await dumpStorage(other.storage)).toEqual(before);
  });

  it('rejects files that are not backups, truncated, or extended with BAD_BACKUP', async () => {
    const { vault } = await vaultWith({ a: utf8('a'), b: new Uint8Array(BACKUP_CHUNK_BYTES + 10) });
    const backup = await vault.exportBackup();
    const cases = [
      new Uint8Array(0),
      utf8('PVBACKUP'),
      crypto.getRandomValues(new Uint8Array(512)),
      backup.subarray(0, backup.length - 1),
      backup.subarray(0, 40),
      backup.subarray(0, backup.length - parseBackup(backup).chunks.at(-1)!.length - 4),
      new Uint8Array([...backup, 0, 0, 0, 1, 7]),
      (() => {
        const b = backup.slice();
        b[8] = 2; // unknown file version
        return b;
      })(),
    ];
    for (const file of cases) {
      const target = new MemoryStorage();
      const error = await rejection(Vault.restoreBackup(target, file, PASS, WEAK));
      expect(error.code).toBe('BAD_BACKUP');
      expect(await dumpStorage(target)).toEqual([]);
    }
    expect((await rejection(Vault.restoreBackup(new MemoryStorage(), 'backup' as never, PASS, WEAK))).code).toBe('INVALID_INPUT');
  });

  it('rejects a backup with any one byte flipped, and writes nothing', async () => {
    const { vault } = await vaultWith({ a: utf8('a'), b: new Uint8Array(BACKUP_CHUNK_BYTES) });
    const backup = await vault.exportBackup();
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: backup.length - 1 }), fc.integer({ min: 1, max: 255 }), async (index, mask) => {
        const bad = backup.slice();
        bad[index]! ^= mask;
        const target = new MemoryStorage();
        const error = await rejection(Vault.restoreBackup(target, bad, PASS, WEAK));
        expect(error).toBeInstanceOf(StoreError);
        // A flip in the public header or the first chunk looks like a wrong passphrase (the key or
        // the associated data changed); anywhere else it is an altered backup.
        expect(['BAD_BACKUP', 'WRONG_PASSPHRASE']).toContain(error.code);
        expect(await dumpStorage(target)).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a backup of a vault from a newer schema with NEWER_SCHEMA', async () => {
    const kdf = newKdfParams(WEAK_TEST_KDF_COST);
    const key = await deriveKeyFromPassphrase(PASS, kdf, { allowWeak: true });
    const futureHeader = encodeCanonical({ format: 'patient-vault/store', schemaVersion: 99, anything: 'new' });
    const plaintext = encodeEntries([{ key: HEADER_KEY, value: futureHeader }]);
    const headerBytes = encodeBackupHeader({ createdAt: 0, kdf, chunkCount: 1 });
    const file = assembleBackup(headerBytes, [await seal(key, plaintext, chunkAssociatedData(headerBytes, 0, true))]);
    expect((await rejection(Vault.restoreBackup(new MemoryStorage(), file, PASS, WEAK))).code).toBe('NEWER_SCHEMA');
  });

  it('refuses a well-sealed backup whose contents are not a vault (BAD_BACKUP)', async () => {
    const kdf = newKdfParams(WEAK_TEST_KDF_COST);
    const key = await deriveKeyFromPassphrase(PASS, kdf, { allowWeak: true });
    const make = async (entries: { key: string; value: Uint8Array }[]) => {
      const headerBytes = encodeBackupHeader({ createdAt: 0, kdf, chunkCount: 1 });
      return assembleBackup(headerBytes, [await seal(key, encodeEntries(entries), chunkAssociatedData(headerBytes, 0, true))]);
    };
    const { vault, storage } = await vaultWith({ a: utf8('a') });
    const realHeader = (await storage.get(HEADER_KEY))!;
    for (const entries of [[], [{ key: 'r/a', value: utf8('x') }], [{ key: HEADER_KEY, value: utf8('junk') }]]) {
      expect((await rejection(Vault.restoreBackup(new MemoryStorage(), await make(entries), PASS, WEAK))).code).toBe('BAD_BACKUP');
    }
    // The real header, but its vault key is wrapped under another key than this backup's.
    expect((await rejection(Vault.restoreBackup(new MemoryStorage(), await make([{ key: HEADER_KEY, value: realHeader }]), PASS, WEAK))).code).toBe('BAD_BACKUP');
    void vault;
  });

  it('needs the vault unlocked to export', async () => {
    const { vault } = await vaultWith({});
    vault.lock();
    expect((await rejection(vault.exportBackup())).code).toBe('LOCKED');
  });
});
