import type { BatchOperation, RangeOptions, Storage, StorageEntry } from './storage.js';
import { checkBatch, checkKey, checkPrefix, checkRangeOptions, checkValue, closedError, copyBytes } from './storage-input.js';

/**
 * Storage in a Map, for tests and for a vault that must not touch disk. Passes the same
 * conformance suite as the persistent backends: values are copied in and out, keys ordered by
 * UTF-16 code unit (JavaScript's own string order), batches all-or-nothing.
 */
export class MemoryStorage implements Storage {
  readonly #entries = new Map<string, Uint8Array>();
  /** Sorted keys, rebuilt lazily after a write (ranges are far rarer than writes in bulk loads). */
  #sortedKeys: string[] | undefined;
  #closed = false;

  get(key: string): Promise<Uint8Array | undefined> {
    return this.#run(() => {
      checkKey(key);
      const value = this.#entries.get(key);
      return value === undefined ? undefined : copyBytes(value);
    });
  }

  put(key: string, value: Uint8Array): Promise<void> {
    return this.#run(() => {
      checkKey(key);
      checkValue(value);
      this.#set(key, copyBytes(value));
    });
  }

  delete(key: string): Promise<void> {
    return this.#run(() => {
      checkKey(key);
      this.#remove(key);
    });
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async to honour the interface: errors surface on iteration, as in the other backends
  async *range(prefix: string, options?: RangeOptions): AsyncIterable<StorageEntry> {
    if (this.#closed) throw closedError('memory');
    checkPrefix(prefix);
    const limit = checkRangeOptions(options);
    // Snapshot the matching keys and value references now (stored values are never mutated in
    // place, only replaced), so a write during iteration neither skips nor repeats an entry.
    const keys = this.#sorted();
    const snapshot: [string, Uint8Array][] = [];
    for (let i = lowerBound(keys, prefix); i < keys.length && (limit === undefined || snapshot.length < limit); i++) {
      const key = keys[i]!;
      if (!key.startsWith(prefix)) break;
      snapshot.push([key, this.#entries.get(key)!]);
    }
    for (const [key, value] of snapshot) {
      if (this.#closed) throw closedError('memory');
      yield { key, value: copyBytes(value) };
    }
  }

  batch(operations: readonly BatchOperation[]): Promise<void> {
    return this.#run(() => {
      // Validated as a whole first: nothing is applied unless every operation is well-formed.
      for (const op of checkBatch(operations)) {
        if (op.type === 'put') this.#set(op.key, copyBytes(op.value));
        else this.#remove(op.key);
      }
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  // async so that a thrown check becomes a rejection, as with the asynchronous backends.
  // eslint-disable-next-line @typescript-eslint/require-await
  async #run<T>(fn: () => T): Promise<T> {
    if (this.#closed) throw closedError('memory');
    return fn();
  }

  #set(key: string, value: Uint8Array): void {
    if (!this.#entries.has(key)) this.#sortedKeys = undefined;
    this.#entries.set(key, value);
  }

  #remove(key: string): void {
    if (this.#entries.delete(key)) this.#sortedKeys = undefined;
  }

  #sorted(): string[] {
    // Array.prototype.sort compares strings by UTF-16 code unit, the order the interface promises.
    this.#sortedKeys ??= [...this.#entries.keys()].sort();
    return this.#sortedKeys;
  }
}

/** Index of the first key ≥ `target` in a sorted list. */
function lowerBound(keys: readonly string[], target: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
