import { checkKdfParams, decodeCanonical, encodeCanonical, type Ciphertext, type KdfParams } from '../crypto/index.js';
import { StoreError } from './errors.js';
import { CURRENT_SCHEMA_VERSION, upgradeHeaderRecord } from './migrations/index.js';

/** Storage key of the public header; the same in every schema version, so any version can read it. */
export const HEADER_KEY = 'vault/header';
/** The `format` field every vault header carries, in every schema version. */
export const HEADER_FORMAT = 'patient-vault/store';
/** A header is a few hundred bytes; anything much larger is not ours. */
export const MAX_HEADER_BYTES = 64 * 1024;
/** Wrapped vault key: AES-GCM nonce (12) ‖ 32-byte key ‖ tag (16). */
export const WRAPPED_KEY_BYTES = 12 + 32 + 16;
/** Shortest idle time before auto-lock that a vault may hold (1 s). */
export const MIN_AUTO_LOCK_MS = 1000;
/** Longest idle time before auto-lock that a vault may hold (30 days); null means never. */
export const MAX_AUTO_LOCK_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * The public header of a vault (stored unsealed under {@link HEADER_KEY}): what is needed to
 * unlock it, and nothing about its contents.
 */
export interface VaultHeader {
  /** The schema version the stored vault was written in (migrated to the current one at unlock). */
  readonly schemaVersion: number;
  /** Milliseconds since the Unix epoch (from the injected clock). */
  readonly createdAt: number;
  /** Argon2id parameters of the passphrase key. */
  readonly kdf: KdfParams;
  /** The random vault key, sealed (AES-256-GCM) under the passphrase key. */
  readonly wrappedKey: Ciphertext;
  /** Idle time before auto-lock, set by the user; null: never. */
  readonly autoLockMs: number | null;
}

/** Encodes a header in the current schema (DAG-CBOR). */
export function encodeHeader(header: VaultHeader): Uint8Array {
  return encodeCanonical({
    format: HEADER_FORMAT,
    schemaVersion: CURRENT_SCHEMA_VERSION,
    createdAt: header.createdAt,
    kdf: { ...header.kdf },
    wrappedKey: header.wrappedKey,
    autoLockMs: header.autoLockMs,
  });
}

/** A corrupt-header error; the message names the field, never its value. */
export function corruptHeader(what: string, cause?: unknown): StoreError {
  return new StoreError('CORRUPT_HEADER', `vault header (${HEADER_KEY}) is unreadable: ${what}`, { key: HEADER_KEY, ...(cause === undefined ? {} : { cause }) });
}

/** A plain CBOR map decoded from storage. */
export type HeaderRecord = Record<string, unknown>;

export function isRecord(value: unknown): value is HeaderRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/**
 * Reads header bytes of any known schema version: checks the format and version first (a newer
 * version is `NEWER_SCHEMA` whatever else it holds), upgrades older layouts in memory through the
 * numbered migrations, then validates every field of the current layout.
 */
export function readHeader(bytes: Uint8Array): VaultHeader {
  if (bytes.length > MAX_HEADER_BYTES) throw corruptHeader(`larger than ${MAX_HEADER_BYTES} bytes`);
  let decoded: unknown;
  try {
    decoded = decodeCanonical(bytes, MAX_HEADER_BYTES);
  } catch (cause) {
    throw corruptHeader('not canonical DAG-CBOR', cause);
  }
  if (!isRecord(decoded) || decoded.format !== HEADER_FORMAT) throw corruptHeader('not a Patient Vault header');
  const version = decoded.schemaVersion;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) throw corruptHeader('schemaVersion is not a positive integer');
  if (version > CURRENT_SCHEMA_VERSION) {
    throw new StoreError(
      'NEWER_SCHEMA',
      `vault was written by a newer version of Patient Vault (schema ${version}; this one knows up to ${CURRENT_SCHEMA_VERSION}); update Patient Vault to open it. Nothing was changed.`,
      { key: HEADER_KEY },
    );
  }
  const current = upgradeHeaderRecord(decoded, version);
  return { ...parseCurrentHeader(current), schemaVersion: version };
}

/** Validates a header record in the current layout. */
function parseCurrentHeader(record: HeaderRecord): VaultHeader {
  const { createdAt, kdf, wrappedKey, autoLockMs } = record;
  const known = new Set(['format', 'schemaVersion', 'createdAt', 'kdf', 'wrappedKey', 'autoLockMs']);
  for (const field of Object.keys(record)) if (!known.has(field)) throw corruptHeader(`unknown field "${field}"`);
  if (typeof createdAt !== 'number' || !Number.isSafeInteger(createdAt) || createdAt < 0) throw corruptHeader('createdAt is not a timestamp');
  if (!isRecord(kdf)) throw corruptHeader('kdf is missing');
  const params = {
    algorithm: kdf.algorithm,
    memoryKiB: kdf.memoryKiB,
    iterations: kdf.iterations,
    parallelism: kdf.parallelism,
    salt: kdf.salt,
  } as KdfParams;
  if (Object.keys(kdf).length !== 5) throw corruptHeader('kdf has unknown fields');
  try {
    // Structure and ceilings only (a hostile header could ask for terabytes of memory); the
    // floor is enforced at unlock, where weak test parameters may be allowed explicitly.
    checkKdfParams(params, true);
  } catch (cause) {
    throw corruptHeader('kdf parameters are out of range', cause);
  }
  if (!(wrappedKey instanceof Uint8Array) || wrappedKey.length !== WRAPPED_KEY_BYTES) throw corruptHeader('wrappedKey has the wrong length');
  if (autoLockMs !== null && !isAutoLockMs(autoLockMs)) throw corruptHeader('autoLockMs is out of range');
  return { schemaVersion: CURRENT_SCHEMA_VERSION, createdAt, kdf: params, wrappedKey: wrappedKey as Ciphertext, autoLockMs };
}

/** True for an idle time a vault may hold. */
export function isAutoLockMs(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= MIN_AUTO_LOCK_MS && value <= MAX_AUTO_LOCK_MS;
}
