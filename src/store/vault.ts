import {
  AEAD_MAX_PLAINTEXT,
  CryptoError,
  DEFAULT_KDF_COST,
  MAX_KDF_COST,
  checkKdfParams,
  concatBytes,
  deriveKeyFromPassphrase,
  generateKey,
  hkdfSha256,
  hmacSha256,
  kdfNeedsUpgrade,
  newKdfParams,
  open,
  seal,
  sealMany,
  utf8,
  type Ciphertext,
  type Digest,
  type KdfParams,
  type SymmetricKey,
} from '../crypto/index.js';
import {
  BACKUP_CHUNK_BYTES,
  assembleBackup,
  chunkAssociatedData,
  decodeEntries,
  encodeBackupHeader,
  encodeEntries,
  parseBackup,
} from './backup-format.js';
import { StoreError } from './errors.js';
import { CURRENT_SCHEMA_VERSION } from './migrations/index.js';
import type { BatchOperation, Storage, StorageEntry } from './storage.js';
import { MAX_BATCH_OPERATIONS, MAX_STORAGE_KEY_LENGTH, checkPrefix } from './storage-input.js';
import { HEADER_KEY, encodeHeader, isAutoLockMs, readHeader, MAX_AUTO_LOCK_MS, MIN_AUTO_LOCK_MS, type VaultHeader } from './vault-header.js';

/** A source of time in milliseconds since the epoch; injected so tests need no waiting. */
export interface Clock {
  now(): number;
}

/** Argon2id cost (memory in KiB, passes, lanes). */
export interface KdfCost {
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
}

/** Options of {@link Vault.open} (and of {@link Vault.restoreBackup}). */
export interface VaultOpenOptions {
  /** @default Date.now */
  readonly clock?: Clock;
  /** Idle time before auto-lock for this session, overriding the stored setting (null: never). */
  readonly autoLockMs?: number | null;
  /** Accept KDF parameters below MIN_KDF_COST (tests only). @default false */
  readonly allowWeakKdf?: boolean;
  /** The cost a weaker vault is upgraded to at unlock. @default DEFAULT_KDF_COST */
  readonly kdfCost?: KdfCost;
}

/** Options of {@link Vault.create}. */
export interface VaultCreateOptions extends VaultOpenOptions {
  /** Argon2id cost of the new vault. @default DEFAULT_KDF_COST */
  readonly kdfCost?: KdfCost;
  /** Stored idle time before auto-lock (null: never). @default DEFAULT_AUTO_LOCK_MS */
  readonly autoLockMs?: number | null;
}

/** The idle time a new vault locks after unless told otherwise. */
export const DEFAULT_AUTO_LOCK_MS = 15 * 60 * 1000;
/** Prefix of every sealed record in storage; the caller's key follows it. */
export const RECORD_PREFIX = 'r/';
/** Longest caller key of a sealed record. */
export const MAX_RECORD_KEY_LENGTH = MAX_STORAGE_KEY_LENGTH - RECORD_PREFIX.length;
/** Longest passphrase accepted (NFKC-normalised before the KDF). */
export const MAX_PASSPHRASE_LENGTH = 1024;

/*
 * Domain separation of every key and ciphertext (one label per purpose, never reused):
 * - the vault key is wrapped under the passphrase key with AD = WRAP_AD;
 * - records are sealed under HKDF(vault key, info "records") with AD naming their storage key,
 *   so a record moved to another key fails to open;
 * - keyed hashes for callers use HKDF(vault key, info "keyed-hash/<purpose>").
 */
const HKDF_SALT = utf8('patient-vault/store');
const WRAP_AD = utf8('patient-vault/store/vault-key');
const RECORD_AD_PREFIX = utf8('patient-vault/store/record\u0000');
/** First byte of every sealed record: the record format, so a later one can coexist. */
const RECORD_FORMAT = 1;
const RECORD_HEADER = Uint8Array.of(RECORD_FORMAT);
const RECORD_OVERHEAD = 1 + 12 + 16;
const encoder = new TextEncoder();

interface UnlockedKeys {
  readonly vaultKey: SymmetricKey;
  /** The passphrase key: kept while unlocked so a backup can be sealed under it. */
  readonly passphraseKey: SymmetricKey;
  readonly recordKey: SymmetricKey;
  readonly hashKeys: Map<string, Uint8Array>;
}

const systemClock: Clock = { now: () => Date.now() };

/** One operation of {@link Vault.batchSealed}. */
export type SealedBatchOperation = { readonly type: 'put'; readonly key: string; readonly value: Uint8Array } | { readonly type: 'delete'; readonly key: string };

/**
 * A vault over a {@link Storage}: a public header plus records sealed under a key derived from a
 * random vault key, which is itself wrapped by an Argon2id key of the passphrase.
 *
 * Storage keys are visible to the backend (and to anyone holding the disk): they must never hold
 * health data. Callers name records by identifiers or by {@link Vault.keyedHash} of them.
 */
export class Vault {
  readonly #storage: Storage;
  #header: VaultHeader;
  readonly #clock: Clock;
  readonly #allowWeakKdf: boolean;
  readonly #kdfTarget: KdfCost;
  readonly #autoLockOverride: number | null | undefined;
  #keys: UnlockedKeys | undefined;
  #lastActivity = 0;

  private constructor(storage: Storage, header: VaultHeader, options: VaultOpenOptions) {
    this.#storage = storage;
    this.#header = header;
    this.#clock = options.clock ?? systemClock;
    this.#allowWeakKdf = options.allowWeakKdf ?? false;
    this.#kdfTarget = options.kdfCost ?? DEFAULT_KDF_COST;
    this.#autoLockOverride = options.autoLockMs;
  }

  /**
   * Creates a vault in an empty storage and returns it unlocked.
   * Errors: `VAULT_EXISTS` (a vault is there), `NOT_A_VAULT` (other data is there), `INVALID_INPUT`.
   */
  static async create(storage: Storage, passphrase: string, options: VaultCreateOptions = {}): Promise<Vault> {
    checkStorage(storage);
    checkPassphrase(passphrase, 'passphrase');
    checkOptions(options);
    const allowWeak = options.allowWeakKdf ?? false;
    const kdf = newKdfParams(options.kdfCost ?? DEFAULT_KDF_COST);
    try {
      checkKdfParams(kdf, allowWeak);
    } catch (cause) {
      throw new StoreError('INVALID_INPUT', `"kdfCost" is out of range: ${(cause as Error).message}`, { cause });
    }
    const autoLockMs = options.autoLockMs === undefined ? DEFAULT_AUTO_LOCK_MS : options.autoLockMs;
    await requireEmpty(storage);
    const passphraseKey = await derive(passphrase, kdf, allowWeak);
    const vaultKey = generateKey();
    const wrappedKey = await seal(passphraseKey, vaultKey, WRAP_AD);
    const header: VaultHeader = {
      schemaVersion: CURRENT_SCHEMA_VERSION,
      createdAt: Math.floor((options.clock ?? systemClock).now()),
      kdf,
      wrappedKey,
      autoLockMs,
    };
    await storage.put(HEADER_KEY, encodeHeader(header));
    const vault = new Vault(storage, header, options);
    vault.#setKeys(vaultKey, passphraseKey);
    return vault;
  }

  /**
   * Opens the vault in `storage`, locked. Nothing is written: an older schema is upgraded in
   * memory and stored at the next unlock. Errors: `NOT_A_VAULT`, `NEWER_SCHEMA` (storage left
   * untouched), `CORRUPT_HEADER`.
   */
  static async open(storage: Storage, options: VaultOpenOptions = {}): Promise<Vault> {
    checkStorage(storage);
    checkOptions(options);
    const bytes = await storage.get(HEADER_KEY);
    if (bytes === undefined) {
      let empty = true;
      try {
        for await (const _ of storage.range('', { limit: 1 })) empty = false;
      } catch {
        empty = false; // keys this backend cannot even read are certainly not a vault of ours
      }
      throw new StoreError('NOT_A_VAULT', empty ? 'storage is empty: no vault has been created in it' : `storage holds data but no vault header (${HEADER_KEY}): not a Patient Vault store`);
    }
    return new Vault(storage, readHeader(bytes), options);
  }

  /**
   * Restores a backup made by {@link Vault.exportBackup} onto an empty storage and returns the
   * vault unlocked. Every record is checked before anything is written; the write is one batch.
   * Errors: `BAD_BACKUP` (not a backup, truncated, altered), `WRONG_PASSPHRASE`,
   * `NEWER_SCHEMA`, `VAULT_EXISTS` / `NOT_A_VAULT` (storage not empty).
   */
  static async restoreBackup(storage: Storage, backup: Uint8Array, passphrase: string, options: VaultOpenOptions = {}): Promise<Vault> {
    checkStorage(storage);
    checkPassphrase(passphrase, 'passphrase');
    checkOptions(options);
    const parsed = parseBackup(backup);
    const allowWeak = options.allowWeakKdf ?? false;
    const passphraseKey = await derive(passphrase, parsed.header.kdf, allowWeak);
    const parts: Uint8Array[] = [];
    for (const [index, chunk] of parsed.chunks.entries()) {
      const last = index === parsed.chunks.length - 1;
      try {
        parts.push(await open(passphraseKey, chunk, chunkAssociatedData(parsed.headerBytes, index, last)));
      } catch (cause) {
        if (!(cause instanceof CryptoError)) throw cause;
        // The first chunk is where a wrong passphrase shows; a later one failing means tampering.
        if (index === 0) throw new StoreError('WRONG_PASSPHRASE', 'the passphrase does not open this backup', { cause });
        throw new StoreError('BAD_BACKUP', `not a usable Patient Vault backup: chunk ${index} failed authentication (altered)`, { cause });
      }
    }
    const entries = decodeEntries(concatBytes(...parts));
    const headerEntry = entries.find((e) => e.key === HEADER_KEY);
    if (!headerEntry) throw new StoreError('BAD_BACKUP', 'not a usable Patient Vault backup: it holds no vault header');
    let header: VaultHeader;
    try {
      header = readHeader(headerEntry.value);
    } catch (cause) {
      if (cause instanceof StoreError && cause.code === 'NEWER_SCHEMA') throw cause;
      throw new StoreError('BAD_BACKUP', 'not a usable Patient Vault backup: its vault header is unreadable', { cause });
    }
    let vaultKey: SymmetricKey;
    try {
      vaultKey = (await open(passphraseKey, header.wrappedKey, WRAP_AD)) as SymmetricKey;
    } catch (cause) {
      throw new StoreError('BAD_BACKUP', 'not a usable Patient Vault backup: its vault key does not open under the backup key', { cause });
    }
    const recordKey = deriveRecordKey(vaultKey);
    const seen = new Set<string>();
    for (const entry of entries) {
      if (seen.has(entry.key)) throw new StoreError('BAD_BACKUP', `not a usable Patient Vault backup: "${entry.key}" appears twice`);
      seen.add(entry.key);
      if (entry.key === HEADER_KEY) continue;
      if (!entry.key.startsWith(RECORD_PREFIX)) throw new StoreError('BAD_BACKUP', `not a usable Patient Vault backup: unexpected key "${entry.key}"`);
      try {
        await openRecord(recordKey, entry.key, entry.value);
      } catch (cause) {
        throw new StoreError('BAD_BACKUP', `not a usable Patient Vault backup: record "${entry.key}" does not open`, { cause, key: entry.key });
      }
    }
    if (entries.length > MAX_BATCH_OPERATIONS) throw new StoreError('BAD_BACKUP', `backup holds more than ${MAX_BATCH_OPERATIONS} entries`);
    await requireEmpty(storage);
    await storage.batch(entries.map((e) => ({ type: 'put', key: e.key, value: e.value })));
    const vault = new Vault(storage, header, options);
    vault.#setKeys(vaultKey, passphraseKey);
    return vault;
  }

  /** A copy of the public header (schema version as stored, KDF parameters, wrapped key). */
  get header(): VaultHeader {
    const h = this.#header;
    return { ...h, kdf: { ...h.kdf, salt: h.kdf.salt.slice() }, wrappedKey: h.wrappedKey.slice() as Ciphertext };
  }

  /** The idle time after which {@link checkIdle} locks (null: never). */
  get autoLockMs(): number | null {
    return this.#autoLockOverride === undefined ? this.#header.autoLockMs : this.#autoLockOverride;
  }

  /** True while no key material is held (after open, lock, or auto-lock). */
  isLocked(): boolean {
    return this.#keys === undefined;
  }

  /**
   * Derives the passphrase key, unwraps the vault key and keeps it (and its subkeys) in memory.
   * Then, in one write: runs pending schema migrations and re-wraps under stronger KDF parameters
   * when the stored ones are weaker than the target (`kdfCost`, default DEFAULT_KDF_COST).
   * Errors: `WRONG_PASSPHRASE`; `CORRUPT_HEADER` for KDF parameters below the floor (unless
   * `allowWeakKdf`). If the upgrade write fails, the vault stays locked.
   */
  async unlock(passphrase: string): Promise<void> {
    checkPassphrase(passphrase, 'passphrase');
    let header = this.#header;
    let passphraseKey = await derive(passphrase, header.kdf, this.#allowWeakKdf);
    const vaultKey = await unwrap(passphraseKey, header.wrappedKey);
    const upgradeKdf = kdfNeedsUpgrade(header.kdf, this.#kdfTarget);
    if (upgradeKdf) {
      const kdf = newKdfParams({
        memoryKiB: Math.min(Math.max(header.kdf.memoryKiB, this.#kdfTarget.memoryKiB), MAX_KDF_COST.memoryKiB),
        iterations: Math.min(Math.max(header.kdf.iterations, this.#kdfTarget.iterations), MAX_KDF_COST.iterations),
        parallelism: Math.min(Math.max(header.kdf.parallelism, this.#kdfTarget.parallelism), MAX_KDF_COST.parallelism),
      });
      passphraseKey = await derive(passphrase, kdf, this.#allowWeakKdf);
      header = { ...header, kdf, wrappedKey: await seal(passphraseKey, vaultKey, WRAP_AD) };
    }
    if (upgradeKdf || header.schemaVersion < CURRENT_SCHEMA_VERSION) {
      header = { ...header, schemaVersion: CURRENT_SCHEMA_VERSION };
      // Migrations to date change only the header; one that rewrites records would add its
      // operations to this same batch, so the vault is never half-migrated.
      await this.#storage.batch([{ type: 'put', key: HEADER_KEY, value: encodeHeader(header) }]);
      this.#header = header;
    }
    this.#setKeys(vaultKey, passphraseKey);
  }

  /** True if `passphrase` opens this vault. Changes nothing (no unlock, no upgrade). */
  async verifyPassphrase(passphrase: string): Promise<boolean> {
    checkPassphrase(passphrase, 'passphrase');
    const key = await derive(passphrase, this.#header.kdf, this.#allowWeakKdf);
    try {
      await unwrap(key, this.#header.wrappedKey);
      return true;
    } catch (error) {
      if (error instanceof StoreError && error.code === 'WRONG_PASSPHRASE') return false;
      throw error;
    }
  }

  /**
   * Drops every reference to key material: the vault key, the passphrase key, the record and
   * keyed-hash subkeys. (JavaScript cannot wipe memory; once unreferenced, the bytes and the
   * imported CryptoKeys are garbage. They are not zeroed in place because an operation already
   * in flight may still be reading them, and sealing under a zeroed key would be far worse.)
   */
  lock(): void {
    this.#keys?.hashKeys.clear();
    this.#keys = undefined;
  }

  /** Records user activity: the idle clock restarts. */
  touch(): void {
    if (this.#keys !== undefined) this.#lastActivity = this.#clock.now();
  }

  /**
   * Locks the vault if it has been idle ({@link touch} not called) for {@link autoLockMs};
   * returns true when this call locked it. Every keyed operation checks this first, and the
   * engine calls it on a timer so keys do not outlive the idle time in memory.
   */
  checkIdle(): boolean {
    const limit = this.autoLockMs;
    if (this.#keys === undefined || limit === null) return false;
    if (this.#clock.now() - this.#lastActivity < limit) return false;
    this.lock();
    return true;
  }

  /**
   * Re-wraps the vault key under a key of `newPassphrase` (fresh salt, at least the target KDF
   * cost). Records are not re-encrypted. Works locked or unlocked and does not change which.
   * Errors: `WRONG_PASSPHRASE` for `oldPassphrase`.
   */
  async changePassphrase(oldPassphrase: string, newPassphrase: string): Promise<void> {
    checkPassphrase(oldPassphrase, 'oldPassphrase');
    checkPassphrase(newPassphrase, 'newPassphrase');
    const header = this.#header;
    const vaultKey = await unwrap(await derive(oldPassphrase, header.kdf, this.#allowWeakKdf), header.wrappedKey);
    const kdf = newKdfParams({
      memoryKiB: Math.max(header.kdf.memoryKiB, this.#kdfTarget.memoryKiB),
      iterations: Math.max(header.kdf.iterations, this.#kdfTarget.iterations),
      parallelism: Math.max(header.kdf.parallelism, this.#kdfTarget.parallelism),
    });
    const passphraseKey = await derive(newPassphrase, kdf, this.#allowWeakKdf);
    // Header-only migrations to date, so writing the header in the current schema is the whole migration.
    const next: VaultHeader = { ...header, schemaVersion: CURRENT_SCHEMA_VERSION, kdf, wrappedKey: await seal(passphraseKey, vaultKey, WRAP_AD) };
    await this.#storage.batch([{ type: 'put', key: HEADER_KEY, value: encodeHeader(next) }]);
    this.#header = next;
    if (this.#keys !== undefined) this.#keys = { ...this.#keys, passphraseKey };
  }

  /** Stores the idle time before auto-lock (null: never) in the header. Needs the vault unlocked. */
  async setAutoLockMs(autoLockMs: number | null): Promise<void> {
    this.#requireKeys();
    if (autoLockMs !== null && !isAutoLockMs(autoLockMs)) {
      throw new StoreError('INVALID_INPUT', `"autoLockMs" expected null or an integer ${MIN_AUTO_LOCK_MS}..${MAX_AUTO_LOCK_MS}`);
    }
    const next: VaultHeader = { ...this.#header, autoLockMs };
    await this.#storage.put(HEADER_KEY, encodeHeader(next));
    this.#header = next;
  }

  /** The plaintext of record `key`, or undefined. `CORRUPT_RECORD` if it fails authentication. */
  async getSealed(key: string): Promise<Uint8Array | undefined> {
    const storageKey = recordStorageKey(key);
    this.#requireKeys();
    const sealed = await this.#storage.get(storageKey);
    if (sealed === undefined) return undefined;
    return openRecord(this.#requireKeys().recordKey, storageKey, sealed);
  }

  /** Seals `plaintext` and stores it under record `key` (one transaction). */
  async putSealed(key: string, plaintext: Uint8Array): Promise<void> {
    const storageKey = recordStorageKey(key);
    checkPlaintext(plaintext, 'plaintext');
    const [sealed] = await sealMany(this.#requireKeys().recordKey, [{ plaintext, associatedData: recordAssociatedData(storageKey) }], RECORD_HEADER);
    await this.#storage.put(storageKey, sealed!);
  }

  /** Deletes record `key` (missing is fine). Needs the vault unlocked, like every write. */
  async deleteSealed(key: string): Promise<void> {
    const storageKey = recordStorageKey(key);
    this.#requireKeys();
    await this.#storage.delete(storageKey);
  }

  /** Every record whose key starts with `prefix`, in key order, opened. */
  async *rangeSealed(prefix: string): AsyncIterable<{ key: string; value: Uint8Array }> {
    checkPrefix(prefix);
    this.#requireKeys();
    for await (const entry of this.#storage.range(RECORD_PREFIX + prefix)) {
      const value = await openRecord(this.#requireKeys().recordKey, entry.key, entry.value);
      yield { key: entry.key.slice(RECORD_PREFIX.length), value };
    }
  }

  /**
   * Seals every put, then applies all operations in one storage transaction. The puts are sealed
   * together (src/crypto sealMany): one nonce draw and one cipher key for the batch, each record
   * still its own ciphertext under its own nonce, bound to its own storage key.
   */
  async batchSealed(operations: readonly SealedBatchOperation[]): Promise<void> {
    if (!Array.isArray(operations)) throw new StoreError('INVALID_INPUT', '"operations" expected array');
    if (operations.length > MAX_BATCH_OPERATIONS) throw new StoreError('INVALID_INPUT', `"operations" holds more than ${MAX_BATCH_OPERATIONS} operations`);
    const batch: BatchOperation[] = new Array<BatchOperation>(operations.length);
    const puts: { storageKey: string; plaintext: Uint8Array; associatedData: Uint8Array }[] = [];
    const putAt: number[] = [];
    operations.forEach((op: unknown, i) => {
      if (typeof op !== 'object' || op === null) throw new StoreError('INVALID_INPUT', `"operations[${i}]" expected object`);
      const { type, key, value } = op as { type?: unknown; key?: unknown; value?: unknown };
      if (type === 'put') {
        checkPlaintext(value, `operations[${i}].value`);
        const storageKey = recordStorageKey(key, `operations[${i}].key`);
        puts.push({ storageKey, plaintext: value, associatedData: recordAssociatedData(storageKey) });
        putAt.push(i);
      } else if (type === 'delete') {
        batch[i] = { type, key: recordStorageKey(key, `operations[${i}].key`) };
      } else {
        throw new StoreError('INVALID_INPUT', `"operations[${i}].type" must be 'put' or 'delete'`);
      }
    });
    const sealed = await sealMany(this.#requireKeys().recordKey, puts, RECORD_HEADER);
    for (const [j, i] of putAt.entries()) batch[i] = { type: 'put', key: puts[j]!.storageKey, value: sealed[j]! };
    await this.#storage.batch(batch);
  }

  /** How many records the vault holds (keys are public: works while locked). */
  async recordCount(): Promise<number> {
    let count = 0;
    for await (const _ of this.#storage.range(RECORD_PREFIX)) count++;
    return count;
  }

  /**
   * HMAC-SHA-256 of `data` under a subkey of the vault key for `purpose`: how callers turn ids
   * into storage keys that reveal nothing (e.g. `keyedHash('record-id', utf8(id))`).
   */
  keyedHash(purpose: string, data: Uint8Array): Digest {
    if (typeof purpose !== 'string' || purpose.length === 0 || purpose.length > 128) {
      throw new StoreError('INVALID_INPUT', '"purpose" expected a string of 1..128 characters');
    }
    checkPlaintext(data, 'data');
    const keys = this.#requireKeys();
    let key = keys.hashKeys.get(purpose);
    if (key === undefined) {
      key = hkdfSha256(keys.vaultKey, HKDF_SALT, utf8(`keyed-hash/${purpose}`), 32);
      keys.hashKeys.set(purpose, key);
    }
    return hmacSha256(key, data);
  }

  /**
   * The whole vault (header and every sealed record) as one file sealed under the passphrase key
   * (see backup-format.ts). Needs the vault unlocked. Restore with {@link Vault.restoreBackup}.
   */
  async exportBackup(): Promise<Uint8Array> {
    const { passphraseKey } = this.#requireKeys();
    const entries: StorageEntry[] = [{ key: HEADER_KEY, value: encodeHeader(this.#header) }];
    for await (const entry of this.#storage.range(RECORD_PREFIX)) entries.push(entry);
    const plaintext = encodeEntries(entries);
    const chunkCount = Math.max(1, Math.ceil(plaintext.length / BACKUP_CHUNK_BYTES));
    const headerBytes = encodeBackupHeader({ createdAt: Math.floor(this.#clock.now()), kdf: this.#header.kdf, chunkCount });
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < chunkCount; i++) {
      const part = plaintext.subarray(i * BACKUP_CHUNK_BYTES, (i + 1) * BACKUP_CHUNK_BYTES);
      chunks.push(await seal(passphraseKey, part, chunkAssociatedData(headerBytes, i, i === chunkCount - 1)));
    }
    return assembleBackup(headerBytes, chunks);
  }

  #setKeys(vaultKey: SymmetricKey, passphraseKey: SymmetricKey): void {
    this.#keys = { vaultKey, passphraseKey, recordKey: deriveRecordKey(vaultKey), hashKeys: new Map() };
    this.#lastActivity = this.#clock.now();
  }

  #requireKeys(): UnlockedKeys {
    this.checkIdle();
    if (this.#keys === undefined) throw new StoreError('LOCKED', 'the vault is locked: unlock it with the passphrase first');
    return this.#keys;
  }
}

/** The associated data of the record stored under `storageKey`: the prefix, then the key in UTF-8. */
function recordAssociatedData(storageKey: string): Uint8Array {
  const ad = new Uint8Array(RECORD_AD_PREFIX.length + storageKey.length * 3);
  ad.set(RECORD_AD_PREFIX);
  const { written } = encoder.encodeInto(storageKey, ad.subarray(RECORD_AD_PREFIX.length));
  return ad.subarray(0, RECORD_AD_PREFIX.length + written);
}

function deriveRecordKey(vaultKey: SymmetricKey): SymmetricKey {
  return hkdfSha256(vaultKey, HKDF_SALT, utf8('records'), 32) as SymmetricKey;
}

async function openRecord(recordKey: SymmetricKey, storageKey: string, sealed: Uint8Array): Promise<Uint8Array> {
  if (sealed.length < RECORD_OVERHEAD || sealed[0] !== RECORD_FORMAT) {
    throw new StoreError('CORRUPT_RECORD', `sealed record "${storageKey}" is malformed (truncated or not a sealed record)`, { key: storageKey });
  }
  try {
    return await open(recordKey, sealed.subarray(1), recordAssociatedData(storageKey));
  } catch (cause) {
    if (!(cause instanceof CryptoError)) throw cause;
    throw new StoreError('CORRUPT_RECORD', `sealed record "${storageKey}" failed authentication (corrupted, or moved from another key)`, { cause, key: storageKey });
  }
}

async function derive(passphrase: string, params: KdfParams, allowWeak: boolean): Promise<SymmetricKey> {
  try {
    return await deriveKeyFromPassphrase(passphrase, params, { allowWeak });
  } catch (cause) {
    if (cause instanceof CryptoError && cause.code === 'BAD_KDF_PARAMS') {
      throw new StoreError('CORRUPT_HEADER', `vault KDF parameters are not acceptable: ${cause.message}`, { cause, key: HEADER_KEY });
    }
    throw cause;
  }
}

async function unwrap(passphraseKey: SymmetricKey, wrappedKey: Ciphertext): Promise<SymmetricKey> {
  let key: Uint8Array;
  try {
    key = await open(passphraseKey, wrappedKey, WRAP_AD);
  } catch (cause) {
    throw new StoreError('WRONG_PASSPHRASE', 'the passphrase does not open this vault', { cause });
  }
  if (key.length !== 32) throw new StoreError('CORRUPT_HEADER', 'the wrapped vault key has the wrong length', { key: HEADER_KEY });
  return key as SymmetricKey;
}

async function requireEmpty(storage: Storage): Promise<void> {
  if ((await storage.get(HEADER_KEY)) !== undefined) throw new StoreError('VAULT_EXISTS', 'storage already holds a vault; nothing was changed');
  let empty = true;
  try {
    for await (const _ of storage.range('', { limit: 1 })) empty = false;
  } catch (cause) {
    throw new StoreError('NOT_A_VAULT', 'storage holds data this code cannot read; refusing to create a vault in it', { cause });
  }
  if (!empty) throw new StoreError('NOT_A_VAULT', 'storage holds other data; refusing to create a vault in it');
}

function recordStorageKey(key: unknown, label = 'key'): string {
  if (typeof key !== 'string') throw new StoreError('INVALID_INPUT', `"${label}" expected string, got ${key === null ? 'null' : typeof key}`);
  if (key.length === 0 || key.length > MAX_RECORD_KEY_LENGTH) {
    throw new StoreError('INVALID_INPUT', `"${label}" expected 1..${MAX_RECORD_KEY_LENGTH} UTF-16 code units`);
  }
  return RECORD_PREFIX + key;
}

function checkPlaintext(value: unknown, label: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new StoreError('INVALID_INPUT', `"${label}" expected Uint8Array, got ${value === null ? 'null' : ArrayBuffer.isView(value) ? value.constructor.name : typeof value}`);
  }
  if (value.length > AEAD_MAX_PLAINTEXT) throw new StoreError('INVALID_INPUT', `"${label}" larger than ${AEAD_MAX_PLAINTEXT} bytes`);
}

function checkPassphrase(value: unknown, label: string): asserts value is string {
  if (typeof value !== 'string') throw new StoreError('INVALID_INPUT', `"${label}" expected string, got ${value === null ? 'null' : typeof value}`);
  if (value.length === 0) throw new StoreError('INVALID_INPUT', `"${label}" must not be empty`);
  if (value.length > MAX_PASSPHRASE_LENGTH) throw new StoreError('INVALID_INPUT', `"${label}" longer than ${MAX_PASSPHRASE_LENGTH} characters`);
}

function checkStorage(storage: unknown): asserts storage is Storage {
  const s = storage as Partial<Record<keyof Storage, unknown>> | null;
  if (typeof s !== 'object' || s === null || !(['get', 'put', 'delete', 'range', 'batch', 'close'] as const).every((m) => typeof s[m] === 'function')) {
    throw new StoreError('INVALID_INPUT', '"storage" does not implement Storage');
  }
}

function checkOptions(options: VaultCreateOptions): void {
  if (typeof options !== 'object' || options === null) throw new StoreError('INVALID_INPUT', '"options" expected object');
  const { autoLockMs, clock } = options;
  if (autoLockMs !== undefined && autoLockMs !== null && !isAutoLockMs(autoLockMs)) {
    throw new StoreError('INVALID_INPUT', `"autoLockMs" expected null or an integer ${MIN_AUTO_LOCK_MS}..${MAX_AUTO_LOCK_MS}`);
  }
  if (clock !== undefined && typeof clock?.now !== 'function') throw new StoreError('INVALID_INPUT', '"clock" expected { now(): number }');
}
