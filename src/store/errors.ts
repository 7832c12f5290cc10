/** Stable codes of the errors this layer throws. */
export type StoreErrorCode =
  /** The passphrase does not unwrap the vault key (or the header's KDF fields were altered). */
  | 'WRONG_PASSPHRASE'
  /** An operation needs key material and the vault is locked. */
  | 'LOCKED'
  /** A sealed record failed authentication: corrupted, truncated, or moved to another key. */
  | 'CORRUPT_RECORD'
  /** The vault header exists but cannot be read: not DAG-CBOR, wrong fields, hostile values. */
  | 'CORRUPT_HEADER'
  /** The backend itself is damaged (e.g. LevelDB reports corruption or a missing table file). */
  | 'CORRUPT_DATABASE'
  /** The storage holds no vault header (empty, or someone else's data). */
  | 'NOT_A_VAULT'
  /** `create` or `restoreBackup` onto a storage that already holds a vault. */
  | 'VAULT_EXISTS'
  /** The vault was written by a newer schema than this code knows; it is left untouched. */
  | 'NEWER_SCHEMA'
  /** A backup file that is not one, is truncated, or was altered. */
  | 'BAD_BACKUP'
  /** The backend failed (I/O error, quota, database in use by another process). */
  | 'BACKEND_FAILED'
  /** The storage was closed. */
  | 'CLOSED'
  /** A caller passed a wrong type or an out-of-range value. */
  | 'INVALID_INPUT';

/**
 * Every failure in src/store. Messages may name a storage key (e.g. `records/…`), never a value,
 * a key or a passphrase.
 */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;
  /** The storage key concerned, when there is one (e.g. the record that failed to open). */
  readonly key: string | undefined;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown; key?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.key = options?.key;
  }
}
