import type * as ClassicLevelModule from 'classic-level';
import type { ClassicLevel } from 'classic-level';
import type * as FsPromises from 'node:fs/promises';
import { StoreError } from './errors.js';
import type { BatchOperation, RangeOptions, Storage, StorageEntry } from './storage.js';
import { checkBatch, checkKey, checkPrefix, checkRangeOptions, closedError, copyBytes } from './storage-input.js';

/*
 * classic-level is a native Node module. It is loaded by a computed specifier so that bundlers
 * (WXT/Vite for the extension) never try to pull it into a browser build; only Node code that
 * calls openLevelDbStorage loads it.
 */
const CLASSIC_LEVEL_MODULE = 'classic-level';
const FS_MODULE = 'node:fs/promises';

type Db = ClassicLevel<Uint8Array, Uint8Array>;
/** Entries fetched per native call while ranging. */
const RANGE_BATCH = 256;

/** Options of {@link openLevelDbStorage}. */
export interface LevelDbStorageOptions {
  /**
   * Create the database when the directory holds none. A directory that exists, is not empty and
   * is not a LevelDB database is refused (`NOT_A_VAULT`) rather than written into.
   * @default false
   */
  readonly create?: boolean;
  /**
   * fsync each write before it resolves (LevelDB `WriteOptions.sync`), so a committed write
   * survives a power cut and not only a killed process.
   * @default true
   */
  readonly sync?: boolean;
}

/**
 * Opens the LevelDB database in `directory` (Node only) as a {@link Storage}.
 * Errors: `NOT_A_VAULT` (no database there, or a directory of other files), `BACKEND_FAILED` (in
 * use by another process, I/O), `CORRUPT_DATABASE` (LevelDB reports corruption or missing files).
 * Nothing is changed in a directory that is refused.
 */
export async function openLevelDbStorage(directory: string, options: LevelDbStorageOptions = {}): Promise<LevelDbStorage> {
  if (typeof directory !== 'string' || directory.length === 0) throw new StoreError('INVALID_INPUT', '"directory" expected a non-empty string');
  const create = options.create ?? false;
  // LevelDB creates the directory, LOCK and LOG before it notices there is no database, even with
  // createIfMissing false: check first, so a refused directory is left exactly as it was.
  await checkDirectory(directory, create);
  const { ClassicLevel: Level } = (await import(/* @vite-ignore */ CLASSIC_LEVEL_MODULE)) as typeof ClassicLevelModule;
  const db: Db = new Level<Uint8Array, Uint8Array>(directory, {
    keyEncoding: 'view',
    valueEncoding: 'view',
    createIfMissing: create,
    // Values are ciphertext, which does not compress; without Snappy the files hold the exact
    // bytes we wrote, which is also what lets a test scan them for plaintext.
    compression: false,
  });
  try {
    await db.open();
  } catch (cause) {
    throw openError(directory, cause);
  }
  return new LevelDbStorage(db, directory, options.sync ?? true);
}

async function checkDirectory(directory: string, create: boolean): Promise<void> {
  const fs = (await import(/* @vite-ignore */ FS_MODULE)) as typeof FsPromises;
  let names: string[];
  try {
    names = await fs.readdir(directory);
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    if (code === 'ENOENT') {
      if (create) return;
      throw new StoreError('NOT_A_VAULT', `no database at ${directory} (the directory does not exist)`, { cause });
    }
    if (code === 'ENOTDIR') throw new StoreError('NOT_A_VAULT', `${directory} is a file, not a database directory`, { cause });
    throw new StoreError('BACKEND_FAILED', `cannot read directory ${directory}`, { cause });
  }
  if (names.includes('CURRENT')) return;
  if (!create) throw new StoreError('NOT_A_VAULT', `no database at ${directory} (it holds no LevelDB CURRENT file)`);
  if (names.length > 0) throw new StoreError('NOT_A_VAULT', `${directory} is not empty and holds no database; refusing to write into it`);
}

function openError(directory: string, cause: unknown): StoreError {
  const inner = (cause as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = inner?.code;
  const message = `${cause instanceof Error ? cause.message : ''} ${inner instanceof Error ? inner.message : ''}`;
  if (code === 'LEVEL_LOCKED') return new StoreError('BACKEND_FAILED', `database at ${directory} is in use by another process`, { cause });
  if (code === 'LEVEL_CORRUPTION') return new StoreError('CORRUPT_DATABASE', `database at ${directory} is corrupt`, { cause });
  if (message.includes('does not exist')) return new StoreError('NOT_A_VAULT', `no database at ${directory}`, { cause });
  if (code === 'LEVEL_IO_ERROR' && /No such file|not found/i.test(message)) {
    return new StoreError('CORRUPT_DATABASE', `database at ${directory} is missing files (truncated or partly deleted)`, { cause });
  }
  return new StoreError('BACKEND_FAILED', `cannot open database at ${directory}`, { cause });
}

/**
 * Keys are stored as UTF-16BE: LevelDB orders keys bytewise, and the bytewise order of UTF-16BE
 * is exactly the UTF-16 code-unit order that IndexedDB and JavaScript use (UTF-8 would put U+E000…
 * U+FFFF after supplementary characters). It also keeps lone surrogates distinct, which UTF-8
 * encoding would replace with U+FFFD.
 */
export function encodeKey(key: string): Uint8Array {
  const out = new Uint8Array(key.length * 2);
  for (let i = 0; i < key.length; i++) {
    const unit = key.charCodeAt(i);
    out[2 * i] = unit >> 8;
    out[2 * i + 1] = unit & 0xff;
  }
  return out;
}

/** Inverse of {@link encodeKey}; an odd length means the key is not ours. */
export function decodeKey(bytes: Uint8Array): string | undefined {
  if (bytes.length % 2 !== 0) return undefined;
  const units = new Array<number>(bytes.length / 2);
  for (let i = 0; i < units.length; i++) units[i] = (bytes[2 * i]! << 8) | bytes[2 * i + 1]!;
  return String.fromCharCode(...units);
}

/** The smallest byte string greater than every one starting with `prefix`; undefined if none. */
function bytesSuccessor(prefix: Uint8Array): Uint8Array | undefined {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const out = prefix.slice(0, end);
  out[end - 1]! += 1;
  return out;
}

/** {@link Storage} over a LevelDB directory (classic-level). A batch is one LevelDB WriteBatch. */
export class LevelDbStorage implements Storage {
  readonly #db: Db;
  readonly #sync: boolean;
  /** Where the database lives (for messages). */
  readonly directory: string;
  #closed = false;

  /** @internal use {@link openLevelDbStorage}. */
  constructor(db: Db, directory: string, sync: boolean) {
    this.#db = db;
    this.directory = directory;
    this.#sync = sync;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    this.#open();
    checkKey(key);
    try {
      const value = await this.#db.get(encodeKey(key));
      return value === undefined ? undefined : copyBytes(value);
    } catch (cause) {
      throw this.#error('reading', cause);
    }
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    await this.batch([{ type: 'put', key, value }]);
  }

  async delete(key: string): Promise<void> {
    await this.batch([{ type: 'delete', key }]);
  }

  /** Iterates a LevelDB snapshot taken when the range starts (writes during iteration are not seen). */
  async *range(prefix: string, options?: RangeOptions): AsyncIterable<StorageEntry> {
    this.#open();
    checkPrefix(prefix);
    const limit = checkRangeOptions(options);
    if (limit === 0) return;
    const lower = encodeKey(prefix);
    const upper = bytesSuccessor(lower);
    const iterator = this.#db.iterator({
      ...(prefix.length > 0 ? { gte: lower } : {}),
      ...(upper !== undefined ? { lt: upper } : {}),
      limit: limit ?? -1,
    });
    try {
      for (;;) {
        let entries: [Uint8Array, Uint8Array][];
        try {
          entries = await iterator.nextv(RANGE_BATCH);
        } catch (cause) {
          throw this.#error('ranging', cause);
        }
        if (entries.length === 0) return;
        for (const [rawKey, value] of entries) {
          const key = decodeKey(rawKey);
          if (key === undefined) throw new StoreError('CORRUPT_DATABASE', `database at ${this.directory} holds a key that is not ours`);
          yield { key, value: copyBytes(value) };
        }
      }
    } finally {
      await iterator.close().catch(() => undefined);
    }
  }

  async batch(operations: readonly BatchOperation[]): Promise<void> {
    this.#open();
    const ops = checkBatch(operations);
    if (ops.length === 0) return;
    const native = ops.map((op) =>
      op.type === 'put'
        ? { type: 'put' as const, key: encodeKey(op.key), value: copyBytes(op.value) }
        : { type: 'del' as const, key: encodeKey(op.key) },
    );
    try {
      await this.#db.batch(native, { sync: this.#sync });
    } catch (cause) {
      throw this.#error('writing', cause);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#db.close();
  }

  #open(): void {
    if (this.#closed) throw closedError('LevelDB');
  }

  #error(action: string, cause: unknown): StoreError {
    if (cause instanceof StoreError) return cause;
    if (this.#closed) return closedError('LevelDB');
    const code = (cause as { code?: unknown; cause?: { code?: unknown } }).cause?.code ?? (cause as { code?: unknown }).code;
    // Reading, LevelDB reports a truncated table file as an I/O error ("Invalid argument") and a
    // damaged block as corruption: either way the files on disk are damaged.
    if (code === 'LEVEL_CORRUPTION' || (action !== 'writing' && code === 'LEVEL_IO_ERROR')) {
      return new StoreError('CORRUPT_DATABASE', `${action} database at ${this.directory}: its files are damaged (corrupt or truncated)`, { cause });
    }
    return new StoreError('BACKEND_FAILED', `${action} database at ${this.directory} failed`, { cause });
  }
}
