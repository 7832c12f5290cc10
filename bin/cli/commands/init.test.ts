import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { HEADER_KEY, Vault, openLevelDbStorage } from '../../../src/store/index.js';
import { main } from '../main.js';

/** The KDF floor: real Argon2id (19 MiB, 2 passes), just cheaper than the default. */
const FLOOR = ['--kdf-memory', '19456', '--kdf-iterations', '2'];
const PASS = 'init test passphrase';

async function pvault(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const roots: string[] = [];
async function tempRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'pv-init-'));
  roots.push(root);
  return root;
}
afterAll(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  vi.unstubAllEnvs();
});

async function headerBytes(dir: string): Promise<string> {
  const storage = await openLevelDbStorage(dir);
  try {
    return Buffer.from((await storage.get(HEADER_KEY))!).toString('hex');
  } finally {
    await storage.close();
  }
}

describe('pvault init', () => {
  it('creates a vault that opens with the passphrase from PVAULT_PASSPHRASE', async () => {
    const dir = join(await tempRoot(), 'vault');
    vi.stubEnv('PVAULT_PASSPHRASE', PASS);
    const result = await pvault('init', '--vault', dir, ...FLOOR, '--auto-lock', '5');
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain(`Created a vault at ${dir}`);
    expect(result.stdout).toMatch(/argon2id, 19456 KiB, 2 passes, parallelism 1/);
    expect(result.stdout).not.toContain(PASS);
    const storage = await openLevelDbStorage(dir);
    const vault = await Vault.open(storage);
    expect(vault.header.autoLockMs).toBe(5 * 60_000);
    expect(await vault.verifyPassphrase(PASS)).toBe(true);
    await storage.close();
  });

  it('uses the default KDF cost unless told otherwise, and --auto-lock never', async () => {
    const dir = join(await tempRoot(), 'vault');
    vi.stubEnv('PVAULT_PASSPHRASE', PASS);
    const result = await pvault('init', '--vault', dir, '--auto-lock', 'never');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/65536 KiB, 2 passes/);
    expect(result.stdout).toMatch(/auto-lock\s+never/);
  });

  it('refuses to create over an existing vault with exit 1, leaving it byte-identical', async () => {
    const dir = join(await tempRoot(), 'vault');
    vi.stubEnv('PVAULT_PASSPHRASE', PASS);
    expect((await pvault('init', '--vault', dir, ...FLOOR)).code).toBe(0);
    const before = await headerBytes(dir);
    vi.stubEnv('PVAULT_PASSPHRASE', 'another passphrase entirely');
    const again = await pvault('init', '--vault', dir, ...FLOOR);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(dir);
    expect(again.stderr).toContain('[VAULT_EXISTS]');
    expect(await headerBytes(dir)).toBe(before);
  });

  it('refuses a directory holding other files with exit 1 and writes nothing into it', async () => {
    const dir = await tempRoot();
    await writeFile(join(dir, 'taxes.pdf'), 'not ours');
    vi.stubEnv('PVAULT_PASSPHRASE', PASS);
    const result = await pvault('init', '--vault', dir, ...FLOOR);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('[NOT_A_VAULT]');
    expect(await readdir(dir)).toEqual(['taxes.pdf']);
    expect(await readFile(join(dir, 'taxes.pdf'), 'utf8')).toBe('not ours');
    const file = join(dir, 'taxes.pdf');
    expect((await pvault('init', '--vault', file, ...FLOOR)).code).toBe(1);
  });

  it('creates the vault inside an existing empty directory', async () => {
    const dir = join(await tempRoot(), 'empty');
    await mkdir(dir);
    vi.stubEnv('PVAULT_PASSPHRASE', PASS);
    expect((await pvault('init', '--vault', dir, ...FLOOR)).code).toBe(0);
    expect(await readdir(dir)).toContain('CURRENT');
  });

  it('without PVAULT_PASSPHRASE and without a terminal: exit 2 with a clear message, nothing created', async () => {
    const dir = join(await tempRoot(), 'vault');
    vi.stubEnv('PVAULT_PASSPHRASE', undefined);
    delete process.env.PVAULT_PASSPHRASE;
    const result = await pvault('init', '--vault', dir, ...FLOOR);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no passphrase: set PVAULT_PASSPHRASE, or run in a terminal/);
    await expect(readdir(dir)).rejects.toThrow();
  });

  it('refuses a passphrase shorter than 8 characters with exit 1, nothing created', async () => {
    const root = await tempRoot();
    const dir = join(root, 'vault');
    vi.stubEnv('PVAULT_PASSPHRASE', 'short');
    const result = await pvault('init', '--vault', dir, ...FLOOR);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('[PASSPHRASE_TOO_SHORT]');
    expect(result.stderr).not.toContain('short ');
    expect(await readdir(root)).toEqual([]);
  });

  it('treats missing or malformed flags as usage errors (exit 2)', async () => {
    const dir = join(await tempRoot(), 'vault');
    vi.stubEnv('PVAULT_PASSPHRASE', PASS);
    for (const argv of [
      ['init'],
      ['init', '--vault'],
      ['init', '--vault', dir, '--kdf-memory', 'lots'],
      ['init', '--vault', dir, '--kdf-memory', '1024'],
      ['init', '--vault', dir, '--kdf-iterations', '1'],
      ['init', '--vault', dir, '--kdf-memory', '99999999999'],
      ['init', '--vault', dir, '--auto-lock', 'soon'],
      ['init', '--vault', dir, '--unknown-flag'],
      ['init', '--vault', dir, 'extra-positional'],
    ]) {
      const result = await pvault(...argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/pvault init: .+\nRun 'pvault init --help' for usage\./);
    }
    await expect(readdir(dir)).rejects.toThrow();
  });

  it('prints its help with exit 0', async () => {
    const result = await pvault('init', '--help');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: pvault init --vault DIR');
    expect(result.stdout).toContain('PVAULT_PASSPHRASE');
  });
});
