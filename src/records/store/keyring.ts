/**
 * The record keyring: per scope, an index key (the HMAC key that turns record keys into slots) and
 * a list of key epochs (the AES-256-GCM keys that seal record values). After a revocation the scope
 * key is rotated (issue 6): a new epoch becomes current, new values are sealed under it, and older
 * values keep naming the epoch they were sealed under, so every holder of that epoch can still read
 * them. The index key does not rotate: slots must stay where they are for the document to merge.
 *
 * The keyring itself is sealed by the vault (src/store) under {@link KEYRING_KEY}.
 */
import { asSymmetricKey, decodeCanonical, encodeCanonical, equalBytes, generateKey, type SymmetricKey } from '../../crypto/index.js';
import { SCOPES, isScopeName } from '../scopes.js';
import { RecordStoreError } from './errors.js';
import type { ScopeName } from './types.js';

/** Keys of one scope. */
export interface ScopeKeys {
  readonly indexKey: SymmetricKey;
  /** Epoch number → key. Epochs start at 0 and only grow. */
  readonly epochs: ReadonlyMap<number, SymmetricKey>;
  /** The epoch new values are sealed under (the highest). */
  readonly current: number;
}

/** Every key the record store of one vault holds. Immutable: changes return a new keyring. */
export interface Keyring {
  /** The vault these records belong to; bound into every sealed value's associated data. */
  readonly vaultId: string;
  /** Names scope documents in storage, so raw storage does not say which scopes exist. */
  readonly namingKey: SymmetricKey;
  /** Derives attachment chunk keys and addresses (convergent within this vault, for de-duplication). */
  readonly attachmentKey: SymmetricKey;
  /** The scopes this device holds keys for (all of them for the patient). */
  readonly scopes: ReadonlyMap<ScopeName, ScopeKeys>;
}

/** The keys of one scope in a form another device can receive (sealed to it by src/grants). */
export interface ExportedScopeKeys {
  scope: ScopeName;
  indexKey: Uint8Array;
  epochs: { epoch: number; key: Uint8Array }[];
}

const VAULT_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const KEYRING_FORMAT = 1;
/** Epochs are uint32 in the value header. */
const MAX_EPOCH = 0xffff_ffff;

/** Checks a vault id: 1–128 characters of `A–Z a–z 0–9 . _ : -` (it goes into associated data). */
export function checkVaultId(vaultId: unknown): string {
  if (typeof vaultId !== 'string' || !VAULT_ID.test(vaultId)) {
    throw new RecordStoreError('INVALID_INPUT', '"vaultId" expected 1–128 characters of A–Z a–z 0–9 . _ : -');
  }
  return vaultId;
}

/**
 * A fresh keyring. Without `received`: new random keys (epoch 0) for every scope — the patient's
 * first device. With `received`: exactly the scope keys handed over (another device of the patient,
 * or a grantee that holds only the scopes shared with it).
 */
export function createKeyring(vaultId: string, received?: readonly ExportedScopeKeys[]): Keyring {
  checkVaultId(vaultId);
  const base: Keyring = { vaultId, namingKey: generateKey(), attachmentKey: generateKey(), scopes: new Map() };
  if (received) return received.reduce(importScopeKeys, base);
  const scopes = new Map<ScopeName, ScopeKeys>();
  for (const scope of SCOPES) scopes.set(scope, { indexKey: generateKey(), epochs: new Map([[0, generateKey()]]), current: 0 });
  return { ...base, scopes };
}

/** The keys of `scope`, or a `NOT_FOUND` error if this device holds none. */
export function scopeKeys(keyring: Keyring, scope: ScopeName): ScopeKeys {
  const keys = keyring.scopes.get(scope);
  if (!keys) throw new RecordStoreError('NOT_FOUND', `no keys for scope ${scope} on this device`);
  return keys;
}

/** The key of `epoch` in `scope`; `UNKNOWN_EPOCH` if this device does not hold it. */
export function epochKey(keys: ScopeKeys, scope: ScopeName, epoch: number): SymmetricKey {
  const key = keys.epochs.get(epoch);
  if (!key) throw new RecordStoreError('UNKNOWN_EPOCH', `scope ${scope} has no key for epoch ${epoch} on this device`);
  return key;
}

/**
 * Rotates the key of `scope`: a new random key becomes the current epoch. Values already sealed keep
 * their epoch; only values written from now on use the new key. Returns the new keyring and epoch.
 */
export function rotateScopeKey(keyring: Keyring, scope: ScopeName): { keyring: Keyring; epoch: number } {
  const keys = scopeKeys(keyring, scope);
  const epoch = Math.max(...keys.epochs.keys()) + 1;
  if (epoch > MAX_EPOCH) throw new RecordStoreError('INVALID_INPUT', `scope ${scope} has run out of key epochs`);
  const epochs = new Map(keys.epochs);
  epochs.set(epoch, generateKey());
  const scopes = new Map(keyring.scopes);
  scopes.set(scope, { indexKey: keys.indexKey, epochs, current: epoch });
  return { keyring: { ...keyring, scopes }, epoch };
}

/** The keys of `scope` for another device or a grantee (`epochs` limits which epochs are handed over). */
export function exportScopeKeys(keyring: Keyring, scope: ScopeName, epochs?: readonly number[]): ExportedScopeKeys {
  const keys = scopeKeys(keyring, scope);
  const wanted = epochs ?? [...keys.epochs.keys()];
  return {
    scope,
    indexKey: keys.indexKey.slice(),
    epochs: wanted.map((epoch) => ({ epoch, key: epochKey(keys, scope, epoch).slice() })),
  };
}

/**
 * Adds received scope keys to a keyring (e.g. a second device of the patient, or a grantee). Epochs
 * already held must carry the same key; an index key that differs from the one held is refused.
 */
export function importScopeKeys(keyring: Keyring, exported: ExportedScopeKeys): Keyring {
  if (!isScopeName(exported.scope)) throw new RecordStoreError('INVALID_INPUT', '"scope" is not a scope name');
  const indexKey = asSymmetricKey(exported.indexKey, 'indexKey').slice() as SymmetricKey;
  const held = keyring.scopes.get(exported.scope);
  if (held && !equalBytes(held.indexKey, indexKey)) {
    throw new RecordStoreError('INVALID_INPUT', `scope ${exported.scope}: the index key differs from the one held`);
  }
  const epochs = new Map(held?.epochs ?? []);
  for (const { epoch, key } of exported.epochs) {
    checkEpoch(epoch);
    const k = asSymmetricKey(key, 'epoch key').slice() as SymmetricKey;
    const existing = epochs.get(epoch);
    if (existing && !equalBytes(existing, k)) throw new RecordStoreError('INVALID_INPUT', `scope ${exported.scope}: epoch ${epoch} differs from the key held`);
    epochs.set(epoch, k);
  }
  if (epochs.size === 0) throw new RecordStoreError('INVALID_INPUT', `scope ${exported.scope}: no epochs given`);
  const scopes = new Map(keyring.scopes);
  scopes.set(exported.scope, { indexKey: held?.indexKey ?? indexKey, epochs, current: Math.max(...epochs.keys()) });
  return { ...keyring, scopes };
}

/** DAG-CBOR encoding of a keyring (sealed by the vault before it is stored). */
export function encodeKeyring(keyring: Keyring): Uint8Array {
  const scopes: Record<string, unknown> = {};
  for (const [scope, keys] of keyring.scopes) {
    const epochs: Record<string, Uint8Array> = {};
    for (const [epoch, key] of keys.epochs) epochs[String(epoch)] = key;
    scopes[scope] = { indexKey: keys.indexKey, epochs, current: keys.current };
  }
  return encodeCanonical({ f: KEYRING_FORMAT, vaultId: keyring.vaultId, namingKey: keyring.namingKey, attachmentKey: keyring.attachmentKey, scopes });
}

/** Decodes and checks a stored keyring; anything malformed is `CORRUPT_RECORD`. */
export function decodeKeyring(bytes: Uint8Array): Keyring {
  let raw: unknown;
  try {
    raw = decodeCanonical(bytes);
  } catch (cause) {
    throw corrupt('does not decode', cause);
  }
  if (!isObject(raw)) throw corrupt('is not a map');
  if (typeof raw.f !== 'number' || raw.f > KEYRING_FORMAT) {
    throw new RecordStoreError('NEWER_FORMAT', `${KEYRING_KEY_NAME} was written by a newer version of Patient Vault`);
  }
  try {
    const vaultId = checkVaultId(raw.vaultId);
    const namingKey = asSymmetricKey(raw.namingKey as Uint8Array, 'namingKey');
    const attachmentKey = asSymmetricKey(raw.attachmentKey as Uint8Array, 'attachmentKey');
    if (!isObject(raw.scopes)) throw corrupt('has no scopes');
    const scopes = new Map<ScopeName, ScopeKeys>();
    for (const [scope, value] of Object.entries(raw.scopes)) {
      if (!isScopeName(scope) || !isObject(value) || !isObject(value.epochs)) throw corrupt('has a malformed scope');
      const epochs = new Map<number, SymmetricKey>();
      for (const [e, key] of Object.entries(value.epochs)) {
        const epoch = Number(e);
        checkEpoch(epoch);
        if (String(epoch) !== e) throw corrupt('has a malformed epoch');
        epochs.set(epoch, asSymmetricKey(key as Uint8Array, 'epoch key'));
      }
      const current = value.current;
      if (typeof current !== 'number' || !epochs.has(current)) throw corrupt('names a current epoch it has no key for');
      scopes.set(scope, { indexKey: asSymmetricKey(value.indexKey as Uint8Array, 'indexKey'), epochs, current });
    }
    return { vaultId, namingKey, attachmentKey, scopes };
  } catch (cause) {
    if (cause instanceof RecordStoreError && cause.code === 'CORRUPT_RECORD') throw cause;
    throw corrupt('is malformed', cause);
  }
}

const KEYRING_KEY_NAME = 'records/keyring';

function corrupt(what: string, cause?: unknown): RecordStoreError {
  return new RecordStoreError('CORRUPT_RECORD', `${KEYRING_KEY_NAME} ${what}`, { cause });
}

function checkEpoch(epoch: unknown): void {
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) {
    throw new RecordStoreError('INVALID_INPUT', '"epoch" expected an integer 0…2^32-1');
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}
