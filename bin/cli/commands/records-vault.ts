/**
 * What `pvault import`, `export` and `records` share: opening a vault's records from a directory
 * with the passphrase, and reporting typed errors as exit code 1 with the code in brackets.
 */
import { resolve } from 'node:path';
import { StoreError, Vault, openLevelDbStorage, type Storage } from '../../../src/store/index.js';
import { RecordStore, RecordStoreError, RecordsError, SCOPES, isScopeName, type ScopeName } from '../../../src/records/index.js';
import { EXIT_BAD_INPUT, UsageError, type CommandIo } from '../io.js';
import { PassphraseError, readPassphrase } from '../passphrase.js';

/** An opened vault's record store; `close` releases the database. */
export interface OpenRecords {
  dir: string;
  /** The unlocked vault (for the few things the CLI keeps beside the records). */
  vault: Vault;
  store: RecordStore;
  close: () => Promise<void>;
}

/** The `--vault DIR` flag, required. */
export function vaultDir(value: string | undefined): string {
  if (value === undefined || value.length === 0) throw new UsageError('--vault DIR is required');
  return resolve(value);
}

/** `--scope` values, each checked against the scope names (a wrong one is a usage error). */
export function scopeFlags(values: string[] | undefined): ScopeName[] | undefined {
  if (values === undefined || values.length === 0) return undefined;
  for (const v of values) if (!isScopeName(v)) throw new UsageError(`unknown scope '${v}'; scopes: ${SCOPES.join(', ')}`);
  return values as ScopeName[];
}

/**
 * Opens the vault in `dir` (it must exist), unlocks it with the passphrase and opens its records.
 * The KDF cost chosen at `pvault init` is kept: these commands do not re-wrap the vault key under
 * another cost behind the user's back (unlocking still runs pending schema migrations).
 */
export async function openRecords(dir: string): Promise<OpenRecords> {
  const storage: Storage = await openLevelDbStorage(dir);
  try {
    const { kdf } = (await Vault.open(storage)).header;
    const vault = await Vault.open(storage, { kdfCost: { memoryKiB: kdf.memoryKiB, iterations: kdf.iterations, parallelism: kdf.parallelism } });
    await vault.unlock(await readPassphrase({ prompt: 'Vault passphrase: ' }));
    const store = await RecordStore.open(vault);
    return { dir, vault, store, close: () => storage.close() };
  } catch (error) {
    await storage.close();
    throw error;
  }
}

/** Reports an error of the store, records or passphrase layers (exit 1); anything else is rethrown. */
export function reportError(io: CommandIo, command: string, where: string, error: unknown): number {
  if (error instanceof StoreError || error instanceof PassphraseError || error instanceof RecordStoreError || error instanceof RecordsError) {
    const place = where && !error.message.includes(where) ? `${where}: ` : '';
    io.stderr(`pvault ${command}: ${place}${error.message} [${error.code}]`);
    if (error instanceof RecordsError) {
      for (const p of error.problems.slice(0, 50)) io.stderr(`  ${p.entry}: ${p.rule} — ${p.message}`);
      if (error.problems.length > 50) io.stderr(`  … and ${error.problems.length - 50} more`);
    }
    return EXIT_BAD_INPUT;
  }
  throw error;
}
