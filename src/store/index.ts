/**
 * src/store: where a vault lives at rest.
 *
 * - {@link Storage}: one small interface (get, put, delete, range by prefix, atomic batch, close)
 *   with three implementations that pass one conformance suite: {@link openIndexedDbStorage}
 *   (browser, through `idb`), {@link openLevelDbStorage} (Node, on disk, classic-level) and
 *   {@link MemoryStorage}.
 * - {@link Vault}: a public header plus records sealed (AES-256-GCM) under a subkey of a random
 *   256-bit vault key, which is wrapped by an Argon2id key of the passphrase. Lock drops all key
 *   material; auto-lock after an idle time (clock injected); change passphrase re-wraps only;
 *   encrypted backups; numbered schema migrations run at unlock.
 *
 * Storage keys are visible to the backend and to anyone holding the disk: they must never hold
 * health data. Name records by opaque ids or by {@link Vault.keyedHash} of meaningful ones. Only
 * what goes through the vault is sealed, and only that is in a backup: keep all state in sealed
 * records.
 *
 * Every failure is a {@link StoreError} with a stable `code`; messages name storage keys, never
 * values, keys or passphrases.
 * @packageDocumentation
 */
export { StoreError, type StoreErrorCode } from './errors.js';
export type { Storage, StorageEntry, RangeOptions, BatchOperation } from './storage.js';
/** Limits every backend enforces at the door. */
export { MAX_STORAGE_KEY_LENGTH, MAX_STORAGE_VALUE_BYTES, MAX_BATCH_OPERATIONS } from './storage-input.js';
export { MemoryStorage } from './memory-storage.js';
export { openIndexedDbStorage, IndexedDbStorage, type IndexedDbStorageOptions } from './indexeddb-storage.js';
export { openLevelDbStorage, LevelDbStorage, type LevelDbStorageOptions } from './leveldb-storage.js';
export {
  Vault,
  DEFAULT_AUTO_LOCK_MS,
  MAX_RECORD_KEY_LENGTH,
  MAX_PASSPHRASE_LENGTH,
  type Clock,
  type KdfCost,
  type VaultOpenOptions,
  type VaultCreateOptions,
  type SealedBatchOperation,
} from './vault.js';
export { type VaultHeader, HEADER_KEY, MIN_AUTO_LOCK_MS, MAX_AUTO_LOCK_MS } from './vault-header.js';
export { CURRENT_SCHEMA_VERSION } from './migrations/index.js';
/**
 * Batch fast paths of src/crypto's AES-256-GCM `seal` (one fresh random nonce and one associated
 * data per value, same bytes) and `hmacSha256`, for writers of thousands of small values.
 */

/**
 * A deliberately weak Argon2id cost for tests only (8 KiB, one pass): pass it as `kdfCost` together
 * with `allowWeakKdf: true`. Never for a real vault.
 */
export const WEAK_TEST_KDF_COST = { memoryKiB: 8, iterations: 1, parallelism: 1 } as const;
