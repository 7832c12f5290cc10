import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeCanonical, decodeCanonical } from '../../../src/crypto/index.js';
import { HEADER_KEY, Vault, openLevelDbStorage, type Storage } from '../../../src/store/index.js';
import { writeSchema1Vault } from '../../../src/store/migrations/schema-1-writer.js';
import { main } from '../main.js';

const PASS = 'status test passphrase';
const FLOOR_COST = { memoryKiB: 19456, iterations: 2, parallelism: 1 };

async function pvault(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pv-status-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  vi.unstubAllEnvs();
});
function noPassphrase() {
  vi.stubEnv('PVAULT_PASSPHRASE', undefined);
  delete process.env.PVAULT_PASSPHRASE;
}

let counter = 0;
/** A vault made through the library (what `init` writes), with `records` sealed records. */
async function makeVault(records: number): Promise<string> {
  const dir = join(root, `v${counter++}`);
  const storage = await openLevelDbStorage(dir, { create: true });
  const vault = await Vault.create(storage, PASS, { kdfCost: FLOOR_COST, autoLockMs: 10 * 60_000 });
  await vault.batchSealed(Array.from({ length: records }, (_, i) => ({ type: 'put' as const, key: `r${i}`, value: new Uint8Array([i]) })));
  await storage.close();
  return dir;
}

async function withStorage<T>(dir: string, fn: (s: Storage) => Promise<T>): Promise<T> {
  const storage = await openLevelDbStorage(dir);
  try {
    return await fn(storage);
  } finally {
    await storage.close();
  }
}

async function dump(dir: string): Promise<[string, string][]> {
  return withStorage(dir, async (s) => {
    const out: [string, string][] = [];
    for await (const { key, value } of s.range('')) out.push([key, Buffer.from(value).toString('hex')]);
    return out;
  });
}

describe('pvault status', () => {
  it('shows schema, creation time, KDF, auto-lock, record count and locked, without a passphrase', async () => {
    const dir = await makeVault(3);
    noPassphrase();
    const result = await pvault('status', '--vault', dir);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^vault\s+.+$/m);
    expect(result.stdout).toMatch(/^schema\s+2$/m);
    expect(result.stdout).toMatch(/^created\s+\d{4}-\d\d-\d\dT/m);
    expect(result.stdout).toMatch(/^kdf\s+argon2id, 19456 KiB, 2 passes, parallelism 1$/m);
    expect(result.stdout).toMatch(/^auto-lock\s+10 min idle$/m);
    expect(result.stdout).toMatch(/^sealed items 3 \(storage entries, not health records; 'pvault records' lists those\)$/m);
    expect(result.stdout).toMatch(/^state\s+locked$/m);
    expect(result.stdout).toMatch(/^passphrase\s+not checked/m);
    expect(result.stdout).toMatch(/^next unlock\s+KDF upgrade/m);
  });

  it('says the passphrase opens the vault, as JSON, and writes nothing', async () => {
    const dir = await makeVault(2);
    const before = await dump(dir);
    vi.stubEnv('PVAULT_PASSPHRASE', PASS);
    const result = await pvault('status', '--vault', dir, '--json');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({ vault: dir, schemaVersion: 2, currentSchemaVersion: 2, records: 2, locked: false, passphrase: 'opens', autoLockMinutes: 10 });
    expect(report.kdf).toEqual({ algorithm: 'argon2id', ...FLOOR_COST });
    expect(result.stdout).not.toContain(PASS);
    expect(await dump(dir)).toEqual(before);
  });

  it('exits 1 when the given passphrase is wrong, naming the vault and never the passphrase', async () => {
    const dir = await makeVault(0);
    vi.stubEnv('PVAULT_PASSPHRASE', 'definitely-not-it');
    const result = await pvault('status', '--vault', dir);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^passphrase\s+does NOT open this vault$/m);
    expect(result.stderr).toContain(dir);
    expect(result.stderr).toContain('[WRONG_PASSPHRASE]');
    expect(result.stdout + result.stderr).not.toContain('definitely-not-it');
  });

  it('shows a schema-1 vault as schema 1 with its migration pending, and does not migrate it', async () => {
    const dir = join(root, 'schema1');
    await withStorage2(dir, (s) => writeSchema1Vault(s, PASS, FLOOR_COST, { a: new Uint8Array([1]) }));
    const before = await dump(dir);
    vi.stubEnv('PVAULT_PASSPHRASE', PASS);
    const result = await pvault('status', '--vault', dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^schema\s+1 \(this version writes 2\)$/m);
    expect(result.stdout).toMatch(/^next unlock\s+schema 1 → 2 migration/m);
    expect(result.stdout).toMatch(/^sealed items 1 \(storage entries, not health records; 'pvault records' lists those\)$/m);
    expect(await dump(dir)).toEqual(before);
  });

  it('exits 1 with what and where for a missing, foreign, damaged, newer or busy vault', async () => {
    noPassphrase();
    const missing = await pvault('status', '--vault', join(root, 'does-not-exist'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/does-not-exist.*\[NOT_A_VAULT\]/);

    const foreign = join(root, 'foreign');
    await withStorage2(foreign, (s) => s.put('their/key', new Uint8Array([1])));
    expect((await pvault('status', '--vault', foreign)).stderr).toMatch(/foreign.*\[NOT_A_VAULT\]/);

    const damaged = await makeVault(1);
    await withStorage(damaged, (s) => s.put(HEADER_KEY, crypto.getRandomValues(new Uint8Array(64))));
    const corrupt = await pvault('status', '--vault', damaged);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toContain(damaged);
    expect(corrupt.stderr).toContain('[CORRUPT_HEADER]');

    const newer = await makeVault(1);
    await withStorage(newer, async (s) => {
      const header = decodeCanonical((await s.get(HEADER_KEY))!) as Record<string, unknown>;
      await s.put(HEADER_KEY, encodeCanonical({ ...header, schemaVersion: 3 }));
    });
    const before = await dump(newer);
    const refused = await pvault('status', '--vault', newer);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/newer version of Patient Vault.*\[NEWER_SCHEMA\]/);
    expect(await dump(newer)).toEqual(before);

    const busy = await makeVault(0);
    const held = await openLevelDbStorage(busy);
    const inUse = await pvault('status', '--vault', busy);
    await held.close();
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toMatch(/in use by another process \[BACKEND_FAILED\]/);
  });

  it('treats a missing --vault or an unknown flag as usage (exit 2)', async () => {
    expect((await pvault('status')).code).toBe(2);
    expect((await pvault('status', '--vault', root, '--verbose')).code).toBe(2);
    expect((await pvault('status', '--help')).code).toBe(0);
  });
});

async function withStorage2<T>(dir: string, fn: (s: Storage) => Promise<T>): Promise<T> {
  const storage = await openLevelDbStorage(dir, { create: true });
  try {
    return await fn(storage);
  } finally {
    await storage.close();
  }
}
