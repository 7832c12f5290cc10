/** Stable codes of the errors this layer throws. */
export type StoreErrorCode =
  | 'WRONG_PASSPHRASE'
  | 'LOCKED'
  | 'CORRUPT_RECORD'
  | 'NOT_A_VAULT'
  | 'VAULT_EXISTS'
  | 'NEWER_SCHEMA'
  | 'BAD_BACKUP'
  | 'BACKEND_FAILED'
  | 'INVALID_INPUT';

/**
 * Every failure in src/store. Messages may name a storage key (e.g. `records/…`), never a value,
 * a key or a passphrase.
 */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
