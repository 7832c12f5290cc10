import type * as Automerge from '@automerge/automerge';
import { asSymmetricKey, type Did, type Identity } from '../crypto/index.js';
import { openScopeKey, sealScopeKey, type ScopeName, type SealedScopeKey, type VaultId } from '../grants/index.js';

/** The keys of one scope as a records store exports and imports them (src/records' ExportedScopeKeys). */
export interface ScopeKeyExport {
  scope: ScopeName;
  indexKey: Uint8Array;
  epochs: { epoch: number; key: Uint8Array }[];
}

/**
 * What the engine needs of a vault's records: its scope documents (to sync them) and their keys
 * (to grant, rotate and receive them). src/records' RecordStore has exactly these methods; the engine
 * codes against this shape so the two layers stay apart.
 */
export interface RecordsPort {
  /** A copy of the scope's Automerge document (sealed values only). */
  scopeDoc(scope: ScopeName): Promise<Automerge.Doc<unknown>>;
  /** Adopts a newer state of the scope document (after sync) and persists it. */
  applyScopeDoc(scope: ScopeName, doc: Automerge.Doc<unknown>): Promise<void>;
  /** Starts a new key epoch for the scope; returns it. */
  rotateScopeKey(scope: ScopeName): Promise<number>;
  /** The scope's index key and epochs (all, or those given). */
  exportScopeKeys(scope: ScopeName, epochs?: readonly number[]): ScopeKeyExport;
  /** Adds received keys of a scope. */
  importScopeKeys(exported: ScopeKeyExport): Promise<void>;
  /** Stores resources (used to accept a provider's pushed result into a scope). */
  importResources?(items: readonly InboxImport[]): Promise<unknown>;
}

/** One resource to store, as the records store takes it (src/records' ResourceToStore). */
export interface InboxImport {
  resource: object;
  scope: ScopeName;
  provenance: { source: 'fhir-json' | 'shc'; verified: boolean; importedAt: string };
  sourceKey: string;
}

/**
 * The epoch number under which a grant carries a scope's index key (the HMAC key that places
 * records in the document), beside the real key epochs. src/grants seals 32-byte keys per
 * (scope, epoch); real epochs count up from 0 and never come near this value.
 */
export const INDEX_KEY_EPOCH = 2 ** 31 - 2; // src/grants' largest epoch (MAX_SEQ)

/** Seals a scope's keys (every epoch, or those given, plus the index key) to `recipient`. */
export async function sealScopeKeys(recipient: Did, vault: VaultId, exported: ScopeKeyExport, options: { withIndexKey?: boolean } = {}): Promise<SealedScopeKey[]> {
  const boxes = await Promise.all(exported.epochs.map((e) => sealScopeKey(recipient, vault, exported.scope, e.epoch, asSymmetricKey(e.key))));
  if (options.withIndexKey ?? true) boxes.push(await sealScopeKey(recipient, vault, exported.scope, INDEX_KEY_EPOCH, asSymmetricKey(exported.indexKey)));
  return boxes;
}

/** Opens the scope keys sealed to `identity` in grant and rekey bodies, grouped per scope. */
export async function openScopeKeys(identity: Identity, vault: VaultId, sealed: readonly SealedScopeKey[], knownIndexKeys: ReadonlyMap<ScopeName, Uint8Array>): Promise<ScopeKeyExport[]> {
  const byScope = new Map<ScopeName, ScopeKeyExport>();
  for (const box of sealed) {
    const key = await openScopeKey(identity, vault, box);
    let entry = byScope.get(box.scope);
    if (!entry) {
      entry = { scope: box.scope, indexKey: knownIndexKeys.get(box.scope) ?? new Uint8Array(0), epochs: [] };
      byScope.set(box.scope, entry);
    }
    if (box.epoch === INDEX_KEY_EPOCH) entry.indexKey = key;
    else entry.epochs.push({ epoch: box.epoch, key });
  }
  return [...byScope.values()].filter((e) => e.indexKey.length === 32);
}

/** A sealed store as the engine and the records store use it (src/store's Vault has this shape). */
export interface SealedStore {
  getSealed(key: string): Promise<Uint8Array | undefined>;
  batchSealed(operations: readonly ({ type: 'put'; key: string; value: Uint8Array } | { type: 'delete'; key: string })[]): Promise<void>;
}

/**
 * The part of a device's sealed store under `prefix`, so several records stores (the device's own
 * vault, each vault shared with it) live side by side in one src/store Vault.
 */
export function prefixedStore(store: SealedStore, prefix: string): SealedStore {
  return {
    getSealed: (key) => store.getSealed(`${prefix}${key}`),
    batchSealed: (operations) => store.batchSealed(operations.map((op) => ({ ...op, key: `${prefix}${op.key}` }))),
  };
}
