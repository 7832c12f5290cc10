import { describe, expect, it } from 'vitest';
import { decodeCanonical, encodeCanonical, randomBytes } from '../crypto/index.js';
import { CURRENT_SCHEMA_VERSION, HEADER_KEY, MemoryStorage, Vault } from './index.js';
import { WEAK, dumpStorage, rejection } from './test-support.js';

async function vaultWithHeader(mutate: (header: Record<string, unknown>) => unknown): Promise<MemoryStorage> {
  const storage = new MemoryStorage();
  const vault = await Vault.create(storage, 'header test passphrase', WEAK);
  await vault.putSealed('a', new Uint8Array([1]));
  const header = decodeCanonical((await storage.get(HEADER_KEY))!) as Record<string, unknown>;
  const next = mutate(header);
  await storage.put(HEADER_KEY, next instanceof Uint8Array ? next : encodeCanonical(next ?? header));
  return storage;
}

async function openCode(storage: MemoryStorage): Promise<string | undefined> {
  return (await rejection(Vault.open(storage, WEAK))).code;
}

describe('vault header', () => {
  it('refuses a vault from a newer schema with NEWER_SCHEMA and leaves the storage byte-identical', async () => {
    const storage = await vaultWithHeader((h) => ({ ...h, schemaVersion: CURRENT_SCHEMA_VERSION + 1, someNewField: 'x', kdf: 'changed shape' }));
    const before = await dumpStorage(storage);
    const error = await rejection(Vault.open(storage, WEAK));
    expect(error.code).toBe('NEWER_SCHEMA');
    expect(error.message).toMatch(/newer version/);
    expect(await dumpStorage(storage)).toEqual(before);
  });

  it('refuses random bytes as a header with CORRUPT_HEADER', async () => {
    for (let i = 0; i < 20; i++) {
      const storage = await vaultWithHeader(() => randomBytes(1 + (i * 37) % 300));
      expect(await openCode(storage)).toBe('CORRUPT_HEADER');
    }
  });

  it('refuses non-canonical, foreign and malformed headers with CORRUPT_HEADER', async () => {
    const cases: ((h: Record<string, unknown>) => unknown)[] = [
      () => new Uint8Array([0xa1, 0x61, 0x61, 0x18, 0x01]), // {a: 1} with a long-form integer: not canonical
      () => ({ format: 'some-other-app', schemaVersion: 2 }),
      () => 'just a string',
      () => [1, 2, 3],
      (h) => ({ ...h, schemaVersion: 0 }),
      (h) => ({ ...h, schemaVersion: -1 }),
      (h) => ({ ...h, schemaVersion: '2' }),
      (h) => ({ ...h, schemaVersion: 1.5 }),
      (h) => ({ ...h, unexpected: true }),
      (h) => ({ ...h, createdAt: -5 }),
      (h) => ({ ...h, wrappedKey: new Uint8Array(59) }),
      (h) => ({ ...h, autoLockMs: 10 }),
      (h) => ({ ...h, kdf: { ...(h.kdf as object), memoryKiB: 2 ** 40 } }),
      (h) => ({ ...h, kdf: { ...(h.kdf as object), algorithm: 'scrypt' } }),
      (h) => ({ ...h, kdf: { ...(h.kdf as object), salt: new Uint8Array(4) } }),
      (h) => ({ ...h, kdf: { ...(h.kdf as object), extra: 1 } }),
      (h) => {
        const { kdf: _, ...rest } = h;
        return rest;
      },
    ];
    for (const mutate of cases) expect(await openCode(await vaultWithHeader(mutate))).toBe('CORRUPT_HEADER');
  });

  it('reports a header whose KDF fields were altered as a wrong passphrase (the key no longer unwraps)', async () => {
    const storage = await vaultWithHeader((h) => ({ ...h, kdf: { ...(h.kdf as object), iterations: 2 } }));
    const vault = await Vault.open(storage, WEAK);
    expect((await rejection(vault.unlock('header test passphrase'))).code).toBe('WRONG_PASSPHRASE');
  });
});
