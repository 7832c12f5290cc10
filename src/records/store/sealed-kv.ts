/**
 * The part of the vault (src/store `Vault`) the record store needs: values sealed under the vault
 * key with the storage key as associated data, and atomic batches (one transaction each). Defined
 * here structurally so the store depends on behaviour, not on a class.
 */

/** One operation of an atomic sealed batch. */
export type SealedBatchOperation =
  | { readonly type: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly type: 'delete'; readonly key: string };

/** Sealed key-value access with atomic batches. */
export interface SealedKV {
  /** The opened value under `key`, or undefined. */
  getSealed(key: string): Promise<Uint8Array | undefined>;
  /** Applies every operation in one transaction: after a crash all or none are visible. */
  batchSealed(operations: readonly SealedBatchOperation[]): Promise<void>;
}
