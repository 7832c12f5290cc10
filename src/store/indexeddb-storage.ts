import { unwrap, wrap, type DBSchema, type IDBPDatabase } from 'idb';
import { StoreError } from './errors.js';
import type { BatchOperation, RangeOptions, Storage, StorageEntry } from './storage.js';
import { checkBatch, checkKey, checkPrefix, checkRangeOptions, closedError, copyBytes, prefixSuccessor } from './storage-input.js';

/** IndexedDB's own database version (its object-store layout), not the vault schema version. */
export const IDB_DATABASE_VERSION = 1;
/** The one object store: string keys (out of line) → Uint8Array values. */
const STORE = 'kv';
/** Entries read per readonly transaction while ranging (see {@link IndexedDbStorage.range}). */
const RANGE_PAGE = 256;

interface KvSchema extends DBSchema {
  kv: { key: string; value: Uint8Array };
}

/** Options of {@link openIndexedDbStorage}. */
export interface IndexedDbStorageOptions {
  /** Database name (one vault per database). */
  readonly name: string;
  /**
   * The IDBFactory to use. @default globalThis.indexedDB
   * In Node tests pass a fresh fake-indexeddb `IDBFactory` per test. `idb` checks `instanceof
   * IDBRequest` (and the other IDB classes) against globals, so the test must also
   * `import 'fake-indexeddb/auto'`: the classes are global, the data is per factory.
   */
  readonly factory?: IDBFactory;
  /** The IDBKeyRange constructor of the same implementation. @default globalThis.IDBKeyRange */
  readonly keyRange?: typeof IDBKeyRange;
  /**
   * Fault injection for crash tests: called when operation `operationIndex` of a batch has been
   * applied inside its transaction, before the transaction commits (the test may abort it there).
   */
  readonly onWriteApplied?: (transaction: IDBTransaction, operationIndex: number) => void;
}

/**
 * Opens (creating if needed) the IndexedDB database `options.name` as a {@link Storage}. A
 * database of that name with other object stores is refused (`NOT_A_VAULT`), one with a higher
 * IndexedDB version is `NEWER_SCHEMA`; neither is modified.
 */
export async function openIndexedDbStorage(options: IndexedDbStorageOptions): Promise<IndexedDbStorage> {
  if (typeof options !== 'object' || options === null) throw new StoreError('INVALID_INPUT', '"options" expected object');
  checkKey(options.name, 'name');
  const factory = options.factory ?? globalThis.indexedDB;
  const keyRange = options.keyRange ?? globalThis.IDBKeyRange;
  if (factory === undefined || keyRange === undefined) throw new StoreError('BACKEND_FAILED', 'IndexedDB is not available here');
  let db: IDBPDatabase<KvSchema>;
  try {
    const request = factory.open(options.name, IDB_DATABASE_VERSION);
    request.onupgradeneeded = (event) => {
      // Version 0 → 1: a brand-new database gets our one store. Later IndexedDB layouts add their
      // steps here, keyed by event.oldVersion.
      if (event.oldVersion === 0) request.result.createObjectStore(STORE);
    };
    db = (await wrap(request)) as unknown as IDBPDatabase<KvSchema>;
  } catch (cause) {
    const name = (cause as { name?: unknown } | null)?.name;
    if (name === 'VersionError') {
      throw new StoreError('NEWER_SCHEMA', `IndexedDB database "${options.name}" has a newer layout than this code knows (or is not ours)`, { cause });
    }
    throw backendError(`opening IndexedDB database "${options.name}"`, cause);
  }
  if (!db.objectStoreNames.contains(STORE) || db.objectStoreNames.length !== 1) {
    db.close();
    throw new StoreError('NOT_A_VAULT', `IndexedDB database "${options.name}" exists and is not a Patient Vault store`);
  }
  return new IndexedDbStorage(db, keyRange, options.onWriteApplied);
}

/**
 * {@link Storage} over one IndexedDB object store through `idb`. Every write is one readwrite
 * transaction with `durability: 'strict'` (committed means flushed, IndexedDB 3.0 §4.4).
 */
export class IndexedDbStorage implements Storage {
  readonly #db: IDBPDatabase<KvSchema>;
  readonly #keyRange: typeof IDBKeyRange;
  readonly #onWriteApplied: IndexedDbStorageOptions['onWriteApplied'];
  #closed = false;

  /** @internal use {@link openIndexedDbStorage}. */
  constructor(db: IDBPDatabase<KvSchema>, keyRange: typeof IDBKeyRange, onWriteApplied: IndexedDbStorageOptions['onWriteApplied']) {
    this.#db = db;
    this.#keyRange = keyRange;
    this.#onWriteApplied = onWriteApplied;
    // Another tab upgrading or deleting the database: let it, and fail our later calls cleanly.
    const raw = unwrap(db);
    raw.onversionchange = () => {
      this.#closed = true;
      db.close();
    };
    raw.onclose = () => {
      this.#closed = true;
    };
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    this.#open();
    checkKey(key);
    let value: unknown;
    try {
      value = await this.#db.get(STORE, key);
    } catch (cause) {
      throw this.#error('reading', cause);
    }
    return value === undefined ? undefined : checkStored(key, value);
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    await this.batch([{ type: 'put', key, value }]);
  }

  async delete(key: string): Promise<void> {
    await this.batch([{ type: 'delete', key }]);
  }

  /**
   * Pages through the range, {@link RANGE_PAGE} entries per readonly transaction: an IndexedDB
   * transaction commits as soon as the event loop is idle, so one cannot stay open while the
   * caller awaits between entries. Each page is consistent; a write between pages is seen or not
   * according to its key, and no key is yielded twice.
   */
  async *range(prefix: string, options?: RangeOptions): AsyncIterable<StorageEntry> {
    this.#open();
    checkPrefix(prefix);
    let remaining = checkRangeOptions(options) ?? Number.POSITIVE_INFINITY;
    const upper = prefixSuccessor(prefix);
    let after: string | undefined;
    while (remaining > 0) {
      this.#open();
      const count = Math.min(RANGE_PAGE, remaining);
      const lower = after ?? prefix;
      const query =
        upper === undefined ? this.#keyRange.lowerBound(lower, after !== undefined) : this.#keyRange.bound(lower, upper, after !== undefined, true);
      let keys: IDBValidKey[];
      let values: unknown[];
      try {
        const tx = this.#db.transaction(STORE, 'readonly');
        [keys, values] = await Promise.all([tx.store.getAllKeys(query, count), tx.store.getAll(query, count), tx.done]);
      } catch (cause) {
        throw this.#error('ranging', cause);
      }
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        // Keys of other types sort after every string (IndexedDB 3.0 §2.4: binary and array keys);
        // none of ours is one, so the range ends here.
        if (typeof key !== 'string') return;
        yield { key, value: checkStored(key, values[i]) };
        after = key;
      }
      remaining -= keys.length;
      if (keys.length < count) return;
    }
  }

  async batch(operations: readonly BatchOperation[]): Promise<void> {
    this.#open();
    const ops = checkBatch(operations).map((op) => (op.type === 'put' ? { ...op, value: copyBytes(op.value) } : op));
    if (ops.length === 0) return;
    let tx;
    try {
      tx = this.#db.transaction(STORE, 'readwrite', { durability: 'strict' });
    } catch (cause) {
      throw this.#error('writing', cause);
    }
    const hook = this.#onWriteApplied;
    const pending: Promise<unknown>[] = [];
    try {
      ops.forEach((op, i) => {
        const request = op.type === 'put' ? tx.store.put(op.value, op.key) : tx.store.delete(op.key);
        pending.push(hook === undefined ? request : request.then(() => hook(unwrap(tx), i)));
      });
    } catch (cause) {
      // A request refused synchronously: abort, so the requests already issued are rolled back.
      abortQuietly(tx);
      await tx.done.catch(() => undefined);
      throw this.#error('writing', cause);
    }
    try {
      await Promise.all([...pending, tx.done]);
    } catch (cause) {
      abortQuietly(tx);
      throw this.#error('writing', cause);
    }
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#db.close();
    }
    return Promise.resolve();
  }

  #open(): void {
    if (this.#closed) throw closedError('IndexedDB');
  }

  #error(action: string, cause: unknown): StoreError {
    if (cause instanceof StoreError) return cause;
    if (this.#closed) return closedError('IndexedDB');
    return backendError(`${action} IndexedDB`, cause);
  }
}

function abortQuietly(tx: { abort(): void }): void {
  try {
    tx.abort();
  } catch {
    // Already finished or aborted: nothing left to roll back.
  }
}

function checkStored(key: string, value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  throw new StoreError('CORRUPT_DATABASE', `IndexedDB holds a value that is not bytes under "${key}"`, { key });
}

function backendError(action: string, cause: unknown): StoreError {
  const name = (cause as { name?: unknown } | null)?.name;
  if (name === 'QuotaExceededError') return new StoreError('BACKEND_FAILED', `${action}: storage quota exceeded`, { cause });
  if (name === 'AbortError') return new StoreError('BACKEND_FAILED', `${action}: transaction aborted, nothing was written`, { cause });
  return new StoreError('BACKEND_FAILED', `${action} failed${typeof name === 'string' ? ` (${name})` : ''}`, { cause });
}
