import { readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  DEFAULT_AUTO_LOCK_MS,
  StoreError,
  Vault,
  openLevelDbStorage,
  type KdfCost,
} from '../../../src/store/index.js';
import { DEFAULT_KDF_COST, MAX_KDF_COST, MIN_KDF_COST } from '../../../src/crypto/index.js';
import { parseCommandArgs } from '../args.js';
import { EXIT_BAD_INPUT, EXIT_OK, UsageError, type Command, type CommandIo } from '../io.js';
import { PASSPHRASE_ENV, PassphraseError, checkNewPassphrase, readPassphrase } from '../passphrase.js';

const HELP = `Usage: pvault init --vault DIR [options]

Creates an encrypted vault in DIR (a LevelDB database; DIR must be missing or empty).
The passphrase comes from ${PASSPHRASE_ENV}, else it is asked twice on the terminal without echo.

Options:
  --vault DIR              where to create the vault (required)
  --kdf-memory KIB         Argon2id memory in KiB (default ${DEFAULT_KDF_COST.memoryKiB}, at least ${MIN_KDF_COST.memoryKiB})
  --kdf-iterations N       Argon2id passes (default ${DEFAULT_KDF_COST.iterations}, at least ${MIN_KDF_COST.iterations})
  --kdf-parallelism N      Argon2id lanes (default ${DEFAULT_KDF_COST.parallelism})
  --auto-lock MINUTES      lock after this many idle minutes, or 'never' (default ${DEFAULT_AUTO_LOCK_MS / 60_000})
  -h, --help               show this help

The defaults take about a second to unlock on a laptop: the cost an attacker pays per guess.
Lower --kdf-* values (down to the floor) make unlocking faster and guessing cheaper.
Exit codes: 0 created, 1 bad input or data (e.g. a vault already exists there), 2 wrong usage.
`;

/** `pvault init --vault DIR`: creates a vault in a LevelDB directory. */
export const run: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, {
    vault: { type: 'string' },
    'kdf-memory': { type: 'string' },
    'kdf-iterations': { type: 'string' },
    'kdf-parallelism': { type: 'string' },
    'auto-lock': { type: 'string' },
  });
  if (values.help === true) {
    io.stdout(HELP);
    return EXIT_OK;
  }
  if (values.vault === undefined || values.vault.length === 0) throw new UsageError('--vault DIR is required');
  const dir = resolve(values.vault);
  const kdfCost: KdfCost = {
    memoryKiB: intFlag('--kdf-memory', values['kdf-memory'], DEFAULT_KDF_COST.memoryKiB, MIN_KDF_COST.memoryKiB, MAX_KDF_COST.memoryKiB),
    iterations: intFlag('--kdf-iterations', values['kdf-iterations'], DEFAULT_KDF_COST.iterations, MIN_KDF_COST.iterations, MAX_KDF_COST.iterations),
    parallelism: intFlag('--kdf-parallelism', values['kdf-parallelism'], DEFAULT_KDF_COST.parallelism, MIN_KDF_COST.parallelism, MAX_KDF_COST.parallelism),
  };
  const autoLockMs = autoLockFlag(values['auto-lock']);

  // Refuse an occupied directory before asking for a passphrase (no point typing it twice).
  const before = await directoryState(dir);
  try {
    if (before === 'occupied') await refuseOccupied(dir);
    const passphrase = await readPassphrase({ prompt: 'New vault passphrase: ', confirm: 'Repeat the passphrase: ' });
    checkNewPassphrase(passphrase);
    const storage = await openLevelDbStorage(dir, { create: true });
    try {
      const vault = await Vault.create(storage, passphrase, { kdfCost, autoLockMs });
      const { header } = vault;
      vault.lock();
      io.stdout(
        [
          `Created a vault at ${dir}`,
          `  schema      ${header.schemaVersion}`,
          `  kdf         ${header.kdf.algorithm}, ${header.kdf.memoryKiB} KiB, ${header.kdf.iterations} passes, parallelism ${header.kdf.parallelism}`,
          `  auto-lock   ${header.autoLockMs === null ? 'never' : `${header.autoLockMs / 60_000} min idle`}`,
        ].join('\n'),
      );
    } finally {
      await storage.close();
    }
    return EXIT_OK;
  } catch (error) {
    // Remove only what this command created: the directory if it was missing, its contents if it
    // was empty. An occupied directory is never touched.
    if (before === 'missing') await rm(dir, { recursive: true, force: true });
    if (before === 'empty') for (const name of await readdir(dir).catch(() => [])) await rm(join(dir, name), { recursive: true, force: true });
    return reportBadInput(io, 'init', dir, error);
  }
};

async function directoryState(path: string): Promise<'missing' | 'empty' | 'occupied'> {
  try {
    return (await readdir(path)).length === 0 ? 'empty' : 'occupied';
  } catch (error) {
    // ENOTDIR (a file) counts as occupied: openLevelDbStorage refuses it with a clear message.
    return (error as { code?: unknown }).code === 'ENOENT' ? 'missing' : 'occupied';
  }
}

async function refuseOccupied(dir: string): Promise<void> {
  // openLevelDbStorage refuses files and non-empty non-database directories without touching them.
  const storage = await openLevelDbStorage(dir, { create: true });
  try {
    await Vault.open(storage);
    throw new StoreError('VAULT_EXISTS', `a vault already exists at ${dir}; nothing was changed`);
  } catch (error) {
    // An empty database (e.g. an earlier init that failed) may be used; anything else is refused.
    if (error instanceof StoreError && error.code === 'NOT_A_VAULT' && error.message.startsWith('storage is empty')) return;
    if (error instanceof StoreError && error.code === 'NOT_A_VAULT') throw new StoreError('NOT_A_VAULT', `${dir} holds another database, not a vault; nothing was changed`);
    throw error;
  } finally {
    await storage.close();
  }
}

function intFlag(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new UsageError(`${name} expects a whole number, got '${raw}'`);
  const value = Number(raw);
  if (value < min || value > max) throw new UsageError(`${name} must be between ${min} and ${max}`);
  return value;
}

function autoLockFlag(raw: string | undefined): number | null {
  if (raw === undefined) return DEFAULT_AUTO_LOCK_MS;
  if (raw === 'never') return null;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 30 * 24 * 60) throw new UsageError(`--auto-lock expects minutes (1..43200) or 'never', got '${raw}'`);
  return Number(raw) * 60_000;
}

/**
 * Bad input or data: one line saying what and where, exit 1. Store and passphrase errors carry
 * safe messages (no passphrase, no content); anything else is a bug and is rethrown.
 */
export function reportBadInput(io: CommandIo, command: string, dir: string, error: unknown): number {
  if (error instanceof StoreError || error instanceof PassphraseError) {
    const where = error.message.includes(dir) ? '' : `${dir}: `;
    io.stderr(`pvault ${command}: ${where}${error.message} [${error.code}]`);
    return EXIT_BAD_INPUT;
  }
  throw error;
}
