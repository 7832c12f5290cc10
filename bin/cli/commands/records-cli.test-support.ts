/**
 * Shared by the import/export/records command tests: a vault made with `pvault init` at the KDF
 * floor, the passphrase in the environment, `main()` with collected output, raw storage dumps.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { openLevelDbStorage } from '../../../src/store/index.js';
import { main } from '../main.js';

export const PASS = 'records cli test passphrase';

export async function pvault(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

export async function tempRoot(prefix: string): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

let counter = 0;
/** A new vault directory under `root`, created by `pvault init` with the cheapest allowed KDF. */
export async function initVault(root: string): Promise<string> {
  vi.stubEnv('PVAULT_PASSPHRASE', PASS);
  const dir = join(root, `vault-${counter++}`);
  const r = await pvault('init', '--vault', dir, '--kdf-memory', '19456', '--kdf-iterations', '2');
  if (r.code !== 0) throw new Error(`init failed: ${r.stderr}`);
  return dir;
}

/** Every key and value of the vault's database (hex): equal dumps mean nothing changed. */
export async function dumpVault(dir: string): Promise<[string, string][]> {
  const storage = await openLevelDbStorage(dir);
  try {
    const out: [string, string][] = [];
    for await (const { key, value } of storage.range('')) out.push([key, Buffer.from(value).toString('hex')]);
    return out;
  } finally {
    await storage.close();
  }
}
