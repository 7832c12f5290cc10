/**
 * The one storage interface every backend implements (IndexedDB in the browser, LevelDB in Node,
 * memory in tests). Keys are strings ordered by UTF-16 code unit; values are bytes. A backend holds
 * only what the vault layer gives it: public headers and ciphertext.
 */
export interface Storage {
  /** The value under `key`, or undefined. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Writes one value (one transaction). */
  put(key: string, value: Uint8Array): Promise<void>;
  /** Deletes one key; deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Every entry whose key starts with `prefix`, in key order. */
  range(prefix: string, options?: RangeOptions): AsyncIterable<StorageEntry>;
  /** Applies all operations in one transaction: after a crash, all or none are visible. */
  batch(operations: readonly BatchOperation[]): Promise<void>;
  /** Releases the backend. */
  close(): Promise<void>;
}

/** Options of {@link Storage.range}. */
export interface RangeOptions {
  /** Stop after this many entries. */
  readonly limit?: number;
}

/** A key with its value. */
export interface StorageEntry {
  readonly key: string;
  readonly value: Uint8Array;
}

/** One operation of an atomic batch. */
export type BatchOperation =
  | { readonly type: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly type: 'delete'; readonly key: string };
