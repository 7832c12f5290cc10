/**
 * Numbered schema migrations of the vault store. Each migration turns the header record of
 * version n into that of version n + 1; they run in order, in memory at open (so a locked vault
 * can be read and shown), and are written at the next unlock in the same batch as any KDF
 * upgrade — a vault is never half-migrated and never written while locked.
 *
 * Adding a migration: bump {@link CURRENT_SCHEMA_VERSION}, add `NNNN-what.ts` exporting a
 * {@link Migration} with `from` = the old version, list it here, and give it a test that opens a
 * vault written by the previous version's code (see 0001-nest-kdf-and-idle-setting.test.ts).
 * @packageDocumentation
 */
import { StoreError } from '../errors.js';
import { nestKdfAndIdleSetting } from './0001-nest-kdf-and-idle-setting.js';

/** The schema version this code writes. */
export const CURRENT_SCHEMA_VERSION = 2;

/** One step of the schema. */
export interface Migration {
  /** The version it reads; it writes `from + 1`. */
  readonly from: number;
  /** What changes, for the changelog and for errors. */
  readonly description: string;
  /**
   * Pure: the header record of version `from` → that of `from + 1`. Malformed input throws
   * `CORRUPT_HEADER` (never guesses).
   */
  upgradeHeader(record: Record<string, unknown>): Record<string, unknown>;
}

/** Every migration, in order; `MIGRATIONS[i].from === i + 1`. */
export const MIGRATIONS: readonly Migration[] = [nestKdfAndIdleSetting];

/** Runs the migrations from `version` up to {@link CURRENT_SCHEMA_VERSION}. */
export function upgradeHeaderRecord(record: Record<string, unknown>, version: number): Record<string, unknown> {
  let current = record;
  for (let v = version; v < CURRENT_SCHEMA_VERSION; v++) {
    const migration = MIGRATIONS[v - 1];
    if (migration?.from !== v) throw new StoreError('CORRUPT_HEADER', `no migration from schema ${v}`);
    current = { ...migration.upgradeHeader(current), schemaVersion: v + 1 };
  }
  return current;
}
