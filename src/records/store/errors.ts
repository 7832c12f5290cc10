/**
 * Typed errors of the record store (src/records/store). Each has a stable `code`; messages name a
 * record key, a scope or a storage key at most, never a value from a record, a key or a passphrase.
 */

/** Stable codes of the errors the record store throws. */
export type RecordStoreErrorCode =
  // An argument of the wrong kind (a programming error).
  | 'INVALID_INPUT'
  // No record with that key in the vault.
  | 'NOT_FOUND'
  // Stored bytes that do not decode (tampered, truncated, or moved to another place).
  | 'CORRUPT_RECORD'
  // An attachment chunk that is not in this vault (on a device the chunk never reached: sync does
  // not carry chunks); one that is there but fails its checks is CORRUPT_RECORD.
  | 'ATTACHMENT_MISSING'
  // A sealed value names a key epoch this device has no key for.
  | 'UNKNOWN_EPOCH'
  // The vault was bound to another vault id than the one given.
  | 'VAULT_MISMATCH'
  // A resource or attachment over the named limits.
  | 'TOO_LARGE'
  // resolveConflict on a record that has no conflict, or with a version that is not a candidate.
  | 'NO_CONFLICT'
  // An IPS export needs a Patient resource.
  | 'NO_PATIENT'
  // An IPS export on a vault with several Patients that did not say which one (or named no Patient of the vault).
  | 'AMBIGUOUS_PATIENT'
  // Written by a newer version of this program.
  | 'NEWER_FORMAT';

/** Every failure of the record store. */
export class RecordStoreError extends Error {
  override readonly name = 'RecordStoreError';
  readonly code: RecordStoreErrorCode;

  constructor(code: RecordStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}
