/**
 * The record store: FHIR resources of one vault in one Automerge document per scope, each version of
 * each resource one sealed value (record-codec.ts), with a sealed index beside each document for
 * listing without decryption. Everything one operation writes — documents, indexes, attachment
 * chunks, keys — goes to the vault in ONE atomic batch; if anything fails before or during it, the
 * vault is unchanged and the in-memory state is dropped and reloaded from the vault.
 */
import * as Automerge from '@automerge/automerge';
import type { Resource } from '@medplum/fhirtypes';
import { fromUtf8, hmacSha256, randomBytes, toHex, utf8 } from '../../crypto/index.js';
import { SCOPES, isScopeName } from '../scopes.js';
import { extractAttachments, inlineAttachments, readAttachment } from './attachments.js';
import { DEVICE_KEY, ENVELOPE_FORMAT, INDEX_PREFIX, KEYRING_KEY, MAX_IMPORT_RESOURCES, SEAL_BATCH, VERSION_ID_BYTES } from './constants.js';
import { contentDigest, contentHash, isFhirId, rewriteReferences } from './content.js';
import { loadDoc, planSave, sameHeads, type DocMeta } from './doc-persistence.js';
import { dateEnd, dateStart } from './dates.js';
import { RecordStoreError } from './errors.js';
import {
  checkVaultId,
  createKeyring,
  decodeKeyring,
  encodeKeyring,
  exportScopeKeys,
  importScopeKeys,
  rotateScopeKey,
  scopeKeys,
  type ExportedScopeKeys,
  type Keyring,
} from './keyring.js';
import { asRecordKey, isJsonObject, openRecord, sealRecord, sealRecords, slotOf, splitRecordKey, type SealContext } from './record-codec.js';
import { DocWriter, ScopeDocument, newActorId, type FoundValue, type ScopeDocRoot } from './scope-doc.js';
import type { SealedBatchOperation, SealedKV } from './sealed-kv.js';
import { summarize } from './summary.js';
import type {
  AttachmentRef,
  ImportResult,
  JsonObject,
  RecordEnvelope,
  RecordKey,
  RecordSummary,
  ResourceToStore,
  ScopeCounts,
  ScopeName,
  SealedResource,
  Slot,
  StoredRecord,
} from './types.js';

/** Options of {@link RecordStore.open}. */
export interface RecordStoreOptions {
  /**
   * The vault id bound into every sealed value. A new store adopts it (a random id if omitted); an
   * existing one must have been created with the same id (`VAULT_MISMATCH` otherwise).
   */
  vaultId?: string;
  /**
   * For a store created here (nothing stored yet): the scope keys to start with, as received from
   * the patient's other device or from a grant. Without them a new store makes fresh keys for every
   * scope (the patient's first device). Ignored when the vault already holds a keyring.
   */
  scopeKeys?: readonly ExportedScopeKeys[];
  /** The clock. @default () => new Date() */
  now?: () => Date;
}

/** Options of {@link RecordStore.importResources}. */
export interface ImportOptions {
  /** Called as resources are prepared and sealed: `done` of `total` resources. */
  onProgress?: (done: number, total: number) => void;
}

/** A filter for {@link RecordStore.list}. Every given field must match. */
export interface ListFilter {
  scopes?: readonly ScopeName[];
  types?: readonly string[];
  /**
   * Inclusive bounds on the record's date, FHIR dates (partial allowed: `to: '2024'` includes all of
   * 2024). Records without a date are left out when either is set.
   */
  from?: string;
  to?: string;
  /** Only records in conflict. */
  conflicts?: boolean;
}

/** One index line, with what only the store needs. */
interface IndexLine extends RecordSummary {
  hash: string;
  src: string[];
  lastUpdated?: string;
}

interface IndexBlob {
  f: 1;
  heads: string[];
  own?: string;
  unreadable: number;
  lines: IndexLine[];
}

interface ScopeState {
  readonly scope: ScopeName;
  readonly tag: string;
  /** Loaded on first use; undefined until then (listing needs only the index). */
  doc: ScopeDocument | undefined;
  meta: DocMeta | undefined;
  lines: Map<RecordKey, IndexLine>;
  /** Heads of the document the index reflects ([] for a document never written). */
  heads: string[];
  own: string | undefined;
  unreadable: number;
}

/** A write prepared for one scope, applied to the vault only if the whole batch commits. */
interface ScopeChange {
  state: ScopeState;
  doc: ScopeDocument;
  meta: DocMeta;
  lines: Map<RecordKey, IndexLine>;
  own: string | undefined;
  ops: SealedBatchOperation[];
  unreadable: number;
}

const INDEX_FORMAT = 1;
/** Rounds of content matching in one import (see importLocked). */
const MATCH_ROUNDS = 8;

/** The record store of one vault. Obtain with {@link RecordStore.open}; operations run one at a time. */
export class RecordStore {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly scopes = new Map<ScopeName, ScopeState>();
  private readonly keyToScope = new Map<RecordKey, ScopeName>();
  private readonly bySource = new Map<string, RecordKey>();
  private readonly byHash = new Map<string, RecordKey>();

  private constructor(
    private readonly kv: SealedKV,
    private keyring: Keyring,
    private keyringDirty: boolean,
    private readonly actor: string,
    private actorDirty: boolean,
    private readonly now: () => Date,
  ) {}

  /**
   * Opens the records of a vault: reads the keyring and the sealed indexes (the documents load when
   * first needed). On a vault without records nothing is written until the first import.
   */
  static async open(kv: SealedKV, options: RecordStoreOptions = {}): Promise<RecordStore> {
    if (options.vaultId !== undefined) checkVaultId(options.vaultId);
    const keyringBytes = await kv.getSealed(KEYRING_KEY);
    let keyring: Keyring;
    if (keyringBytes) {
      keyring = decodeKeyring(keyringBytes);
      if (options.vaultId !== undefined && options.vaultId !== keyring.vaultId) {
        throw new RecordStoreError('VAULT_MISMATCH', 'these records belong to another vault id than the one given');
      }
    } else {
      keyring = createKeyring(options.vaultId ?? toHex(randomBytes(16)), options.scopeKeys);
    }
    const deviceBytes = await kv.getSealed(DEVICE_KEY);
    const actor = deviceBytes ? parseActor(deviceBytes) : newActorId();
    const store = new RecordStore(kv, keyring, !keyringBytes, actor, !deviceBytes, options.now ?? (() => new Date()));
    for (const scope of SCOPES) {
      if (!keyring.scopes.has(scope)) continue;
      await store.loadScope(scope);
    }
    return store;
  }

  /** The vault id the records are bound to. */
  get vaultId(): string {
    return this.keyring.vaultId;
  }

  /** Scopes this device holds keys for. */
  get scopeNames(): ScopeName[] {
    return SCOPES.filter((s) => this.keyring.scopes.has(s));
  }

  /**
   * For `parseImport`'s `resolveReference`: a reference to a record already in this vault — its
   * `Type/id`, or the absolute URL it was imported from — as the vault's `Type/id`; else undefined.
   */
  readonly resolveReference = (reference: string): string | undefined => {
    if (typeof reference !== 'string') return undefined;
    if (this.keyToScope.has(reference as RecordKey)) return reference;
    // A relative `Type/id` as it was in the file a record came from (an earlier import); the last
    // record imported under that name wins.
    if (/^[A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(reference)) return this.bySource.get(`id:${reference}`);
    if (/^https?:\/\//i.test(reference)) {
      const at = reference.indexOf('/_history/');
      return this.bySource.get(`url:${at < 0 ? reference : reference.slice(0, at)}`);
    }
    return undefined;
  };

  // ---------------------------------------------------------------------------------------------
  // Reading

  /** Index lines matching `filter`, in no particular order (see queries.ts for orderings). */
  list(filter: ListFilter = {}): RecordSummary[] {
    const out: RecordSummary[] = [];
    const types = filter.types ? new Set(filter.types) : undefined;
    // Inclusive bounds: a record is in when its date starts within [start of from, end of to].
    const from = filter.from === undefined ? undefined : dateStart(filter.from);
    const to = filter.to === undefined ? undefined : dateEnd(filter.to);
    for (const state of this.scopes.values()) {
      if (filter.scopes && !filter.scopes.includes(state.scope)) continue;
      for (const line of state.lines.values()) {
        if (types && !types.has(line.type)) continue;
        if (filter.conflicts && !line.conflict) continue;
        if (from !== undefined || to !== undefined) {
          if (line.date === undefined) continue;
          const t = dateStart(line.date);
          if (Number.isNaN(t) || (from !== undefined && t < from) || (to !== undefined && t >= to)) continue;
        }
        out.push(publicSummary(line));
      }
    }
    return out;
  }

  /** The index line of one record, or undefined. */
  summary(key: RecordKey): RecordSummary | undefined {
    const line = this.line(key);
    return line ? publicSummary(line) : undefined;
  }

  /** Number of records per scope, and values that could not be opened on this device. */
  stats(): Record<ScopeName, { records: number; unreadable: number }> {
    const out = {} as Record<ScopeName, { records: number; unreadable: number }>;
    for (const state of this.scopes.values()) out[state.scope] = { records: state.lines.size, unreadable: state.unreadable };
    return out;
  }

  /**
   * The current version of a record (attachment data left out; see {@link getWithAttachments}).
   * A record in conflict returns the version Automerge shows; {@link conflictVersions} lists all.
   */
  async get(key: RecordKey): Promise<StoredRecord | undefined> {
    return this.exclusive(async () => {
      const scope = this.keyToScope.get(key);
      if (!scope) return undefined;
      const state = this.scopeState(scope);
      const doc = await this.ensureDoc(state);
      const slot = this.slot(scope, key);
      const envelopes = await this.openAll(state, slot, doc.currentValues(slot));
      const best = pickCurrent(envelopes.map((e) => e.envelope));
      return best ? toStored(best, scope) : undefined;
    });
  }

  /** Current versions of many records at once (missing keys are left out), in the order given. */
  async getMany(keys: readonly RecordKey[]): Promise<StoredRecord[]> {
    return this.exclusive(async () => {
      const docs = new Map<ScopeName, ScopeDocument>();
      for (const key of keys) {
        const scope = this.keyToScope.get(key);
        if (scope && !docs.has(scope)) docs.set(scope, await this.ensureDoc(this.scopeState(scope)));
      }
      const out: (StoredRecord | undefined)[] = [];
      for (let i = 0; i < keys.length; i += SEAL_BATCH) {
        const part = await Promise.all(
          keys.slice(i, i + SEAL_BATCH).map(async (key) => {
            const scope = this.keyToScope.get(key);
            if (!scope) return undefined;
            const slot = this.slot(scope, key);
            const opened = await this.openAll(this.scopeState(scope), slot, docs.get(scope)!.currentValues(slot));
            const best = pickCurrent(opened.map((e) => e.envelope));
            return best ? toStored(best, scope) : undefined;
          }),
        );
        out.push(...part);
      }
      return out.filter((r): r is StoredRecord => r !== undefined);
    });
  }

  /** The current version with every attachment's data put back inline (base64), as imported. */
  async getWithAttachments(key: RecordKey): Promise<StoredRecord | undefined> {
    const record = await this.get(key);
    if (!record || record.attachments.length === 0) return record;
    const contents = [];
    for (const ref of record.attachments) contents.push({ ref, bytes: await this.readAttachment(ref) });
    return { ...record, resource: inlineAttachments(record.resource, contents) };
  }

  /** Reads one attachment's content (loaded lazily from its chunks, checked against its hash). */
  readAttachment(ref: AttachmentRef): Promise<Uint8Array> {
    return readAttachment(ref, (k) => this.kv.getSealed(k));
  }

  /** Every version of a record, oldest first: superseded ones and the current one(s). */
  async versions(key: RecordKey): Promise<StoredRecord[]> {
    return this.exclusive(async () => {
      const scope = this.requireScope(key);
      const state = this.scopeState(scope);
      const doc = await this.ensureDoc(state);
      const slot = this.slot(scope, key);
      const found = [...doc.historyValues(slot), ...doc.currentValues(slot)];
      const envelopes = await this.openAll(state, slot, found);
      const seen = new Set<string>();
      const out: StoredRecord[] = [];
      for (const { envelope } of envelopes) {
        if (seen.has(envelope.ver)) continue;
        seen.add(envelope.ver);
        out.push(toStored(envelope, scope));
      }
      return out.sort((a, b) => a.version - b.version || a.at.localeCompare(b.at) || a.ver.localeCompare(b.ver));
    });
  }

  /** The competing current versions of a record in conflict (empty if it has none). */
  async conflictVersions(key: RecordKey): Promise<StoredRecord[]> {
    return this.exclusive(async () => {
      const scope = this.requireScope(key);
      const state = this.scopeState(scope);
      const doc = await this.ensureDoc(state);
      const slot = this.slot(scope, key);
      const candidates = distinctVersions((await this.openAll(state, slot, doc.currentValues(slot))).map((e) => e.envelope));
      return candidates.length > 1 ? candidates.map((e) => toStored(e, scope)) : [];
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Writing

  /**
   * Stores imported resources: all of them, or — if anything fails — none (one atomic batch).
   * The same resource imported again (same source key, or same content) is not duplicated; a changed
   * one becomes a new version of its record (an older `meta.lastUpdated` is kept as history only);
   * a record the patient moved stays in its scope. Ids that clash with another record get a new id,
   * and references inside the batch follow (see `renamed` in the result).
   */
  async importResources(items: readonly ResourceToStore[], options: ImportOptions = {}): Promise<ImportResult> {
    if (!Array.isArray(items)) throw new RecordStoreError('INVALID_INPUT', '"items" expected an array');
    if (items.length > MAX_IMPORT_RESOURCES) throw new RecordStoreError('TOO_LARGE', `more than ${MAX_IMPORT_RESOURCES} resources in one import`);
    return this.exclusive(() => this.importLocked(items, options));
  }

  /**
   * Moves a record (all its versions) to another scope. The move persists: a later import of the
   * same resource updates it where it now is.
   */
  async move(key: RecordKey, to: ScopeName): Promise<void> {
    if (!isScopeName(to)) throw new RecordStoreError('INVALID_INPUT', '"to" is not a scope name');
    return this.exclusive(async () => {
      const from = this.requireScope(key);
      if (from === to) return;
      const source = this.scopeState(from);
      const target = this.scopeState(to);
      const sourceDoc = await this.ensureDoc(source);
      const targetDoc = await this.ensureDoc(target);
      const sourceSlot = this.slot(from, key);
      const current = sourceDoc.currentValues(sourceSlot);
      const history = sourceDoc.historyValues(sourceSlot);
      const currentEnvelopes = distinctVersions((await this.openAll(source, sourceSlot, current)).map((e) => e.envelope));
      if (currentEnvelopes.length !== 1) throw new RecordStoreError('INVALID_INPUT', `record ${key} is in conflict: resolve it before moving it`);
      const historyEnvelopes = distinctVersions((await this.openAll(source, sourceSlot, history)).map((e) => e.envelope));

      const targetSlot = this.slot(to, key);
      const ctx = this.sealContext(to);
      const targetWriter = new DocWriter(target.own);
      targetWriter.putCurrent(targetSlot, await sealRecord(ctx, targetSlot, currentEnvelopes[0]!));
      for (const envelope of historyEnvelopes) targetWriter.putHistory(targetSlot, envelope.ver, await sealRecord(ctx, targetSlot, envelope));
      const sourceWriter = new DocWriter(source.own);
      for (const { seg } of current) sourceWriter.deleteCurrent(seg, sourceSlot);
      for (const { seg, key: hkey } of history) sourceWriter.deleteHistory(seg, hkey);

      const line = source.lines.get(key)!;
      const sourceLines = new Map(source.lines);
      sourceLines.delete(key);
      const targetLines = new Map(target.lines);
      targetLines.set(key, { ...line, scope: to });
      await this.mutate([source, target], async () => {
        const now = this.now();
        sourceWriter.apply(sourceDoc, now);
        targetWriter.apply(targetDoc, now);
        await this.commit(
          [
            this.prepareChange(source, sourceDoc, sourceLines, sourceWriter.ownSegmentAfter),
            this.prepareChange(target, targetDoc, targetLines, targetWriter.ownSegmentAfter),
          ],
          [],
        );
      });
    });
  }

  /**
   * Ends a conflict: the chosen candidate (by version id), or a resource the patient edited, becomes
   * a new version whose parents are all candidates; every candidate stays in the history.
   */
  async resolveConflict(key: RecordKey, choice: { ver: string } | { resource: Resource }): Promise<StoredRecord> {
    return this.exclusive(async () => {
      const scope = this.requireScope(key);
      const state = this.scopeState(scope);
      const doc = await this.ensureDoc(state);
      const slot = this.slot(scope, key);
      const found = await this.openAll(state, slot, doc.currentValues(slot));
      const candidates = distinctVersions(found.map((f) => f.envelope));
      if (candidates.length < 2) throw new RecordStoreError('NO_CONFLICT', `record ${key} has no conflict`);
      let base: RecordEnvelope;
      let resource: JsonObject;
      if ('ver' in choice) {
        const chosen = candidates.find((c) => c.ver === choice.ver);
        if (!chosen) throw new RecordStoreError('NO_CONFLICT', `version ${String(choice.ver)} is not one of the competing versions of ${key}`);
        base = chosen;
        resource = chosen.resource;
      } else {
        const given = choice.resource as unknown;
        const { type, id } = splitRecordKey(key);
        if (!isJsonObject(given) || given.resourceType !== type || given.id !== id) {
          throw new RecordStoreError('INVALID_INPUT', `the resolving resource must be ${key}`);
        }
        base = pickCurrent(candidates)!;
        resource = given;
      }
      const envelope: RecordEnvelope = {
        f: ENVELOPE_FORMAT,
        key,
        ver: newVersionId(),
        n: Math.max(...candidates.map((c) => c.n)) + 1,
        prev: candidates.map((c) => c.ver).sort(),
        at: this.now().toISOString(),
        resource,
        src: [...new Set(candidates.flatMap((c) => c.src))].sort(),
        hash: 'ver' in choice ? base.hash : contentHash(resource),
      };
      if (base.prov) envelope.prov = base.prov;
      if (base.att && 'ver' in choice) envelope.att = base.att;
      if (base.rst) envelope.rst = true;
      const sealed = await sealRecord(this.sealContext(scope), slot, envelope);
      const writer = new DocWriter(state.own);
      supersede(writer, slot, sealed, found);
      const lines = new Map(state.lines);
      const old = state.lines.get(key)!;
      lines.set(key, lineFor(envelope, scope, old.history + candidates.length));
      await this.mutate([state], async () => {
        writer.apply(doc, this.now());
        await this.commit([this.prepareChange(state, doc, lines, writer.ownSegmentAfter)], []);
      });
      return toStored(envelope, scope);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Documents and keys (for sync, issue 6)

  /**
   * Loads the scope documents now (they otherwise load on first use): before a sync session, or to
   * check every document against its index. Returns how many were loaded.
   */
  async loadDocuments(scopes: readonly ScopeName[] = this.scopeNames): Promise<number> {
    return this.exclusive(async () => {
      let n = 0;
      for (const scope of scopes) {
        const state = this.scopeState(scope);
        if (state.lines.size === 0 && state.heads.length === 0) continue; // never written
        await this.ensureDoc(state);
        n++;
      }
      return n;
    });
  }

  /**
   * A regular Automerge document holding what the scope document holds (for the sync protocol:
   * `Automerge.generateSyncMessage` / `receiveSyncMessage`). It is a copy: hand the result of a
   * sync back with {@link applyScopeDoc}, and ask again after local writes.
   */
  async scopeDoc(scope: ScopeName): Promise<Automerge.Doc<ScopeDocRoot>> {
    return this.exclusive(async () => (await this.ensureDoc(this.scopeState(scope))).toDoc());
  }

  /** The whole scope document, saved (for a first sync: the peer loads it, then syncs). */
  async saveScopeDoc(scope: ScopeName): Promise<Uint8Array> {
    return this.exclusive(async () => (await this.ensureDoc(this.scopeState(scope))).save());
  }

  /**
   * Adopts a newer state of a scope document — the doc returned by `Automerge.receiveSyncMessage`
   * or `Automerge.merge` on one from {@link scopeDoc} — persists it and brings the index up to date
   * for the records that changed (new, updated, in conflict, moved away). The document must hold
   * every change already stored here (`INVALID_INPUT` otherwise: get a fresh {@link scopeDoc}).
   */
  async applyScopeDoc(scope: ScopeName, doc: Automerge.Doc<unknown>): Promise<void> {
    return this.exclusive(async () => {
      const state = this.scopeState(scope);
      const before = await this.ensureDoc(state);
      const beforeHeads = before.heads();
      if (!Automerge.hasHeads(doc, beforeHeads)) {
        throw new RecordStoreError('INVALID_INPUT', `the ${scope} document given does not contain the changes already stored`);
      }
      const next = ScopeDocument.fromDoc(doc, this.actor, `the ${scope} document given`);
      await this.adopt(state, next, beforeHeads);
    });
  }

  /** Merges a saved copy (or incremental save) of a scope document from another replica. */
  async mergeScopeDoc(scope: ScopeName, saved: Uint8Array): Promise<void> {
    return this.exclusive(async () => {
      const state = this.scopeState(scope);
      const doc = await this.ensureDoc(state);
      const beforeHeads = doc.heads();
      await this.mutate([state], async () => {
        try {
          doc.merge(saved);
        } catch (cause) {
          throw new RecordStoreError('INVALID_INPUT', `the ${scope} document given does not load`, { cause });
        }
        await this.adopt(state, doc, beforeHeads);
      });
    });
  }

  private async adopt(state: ScopeState, doc: ScopeDocument, beforeHeads: string[]): Promise<void> {
    const lines = new Map(state.lines);
    const unreadable = await this.refreshSlots(state, doc, doc.touchedSlots(beforeHeads, doc.heads()), lines);
    await this.mutate([state], () => this.commit([this.prepareChange(state, doc, lines, state.own, state.unreadable + unreadable)], []));
  }

  /**
   * Rotates the key of a scope (after a revocation): values written from now on are sealed under a
   * new epoch. Returns the new epoch; persisted at once.
   */
  async rotateScopeKey(scope: ScopeName): Promise<number> {
    return this.exclusive(async () => {
      const { keyring, epoch } = rotateScopeKey(this.keyring, scope);
      await this.commit([], [], keyring);
      return epoch;
    });
  }

  /** The keys of a scope, to be sealed to another device or a grantee (all epochs, or those given). */
  exportScopeKeys(scope: ScopeName, epochs?: readonly number[]): ExportedScopeKeys {
    return exportScopeKeys(this.keyring, scope, epochs);
  }

  /** Adds keys received for a scope and re-reads that scope's records that could not be opened. */
  async importScopeKeys(exported: ExportedScopeKeys): Promise<void> {
    return this.exclusive(async () => {
      const keyring = importScopeKeys(this.keyring, exported);
      const state = this.scopes.get(exported.scope);
      await this.commit([], [], keyring);
      if (!state) {
        await this.loadScope(exported.scope);
      } else if (state.unreadable > 0) {
        const doc = await this.ensureDoc(state);
        const lines = new Map(state.lines);
        const unreadable = await this.refreshSlots(state, doc, doc.allSlots(), lines);
        await this.mutate([state], () => this.commit([this.prepareChange(state, doc, lines, state.own, unreadable)], []));
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private scopeState(scope: ScopeName): ScopeState {
    let state = this.scopes.get(scope);
    if (!state) {
      scopeKeys(this.keyring, scope); // NOT_FOUND if this device holds no keys for it
      state = { scope, tag: this.tagOf(scope), doc: undefined, meta: undefined, lines: new Map(), heads: [], own: undefined, unreadable: 0 };
      this.scopes.set(scope, state);
    }
    return state;
  }

  private tagOf(scope: ScopeName): string {
    return toHex(hmacSha256(this.keyring.namingKey, utf8(`patient-vault/scope-doc\n${scope}`)).subarray(0, 8));
  }

  private slot(scope: ScopeName, key: RecordKey): Slot {
    return slotOf(scopeKeys(this.keyring, scope).indexKey, key);
  }

  private sealContext(scope: ScopeName): SealContext {
    return { vaultId: this.keyring.vaultId, scope, keys: scopeKeys(this.keyring, scope) };
  }

  private line(key: RecordKey): IndexLine | undefined {
    const scope = this.keyToScope.get(key);
    return scope ? this.scopes.get(scope)?.lines.get(key) : undefined;
  }

  private requireScope(key: RecordKey): ScopeName {
    asRecordKey(key);
    const scope = this.keyToScope.get(key);
    if (!scope) throw new RecordStoreError('NOT_FOUND', `no record ${key} in this vault`);
    return scope;
  }

  /** Reads a scope's index; rebuilds it from the document if it is missing. */
  private async loadScope(scope: ScopeName): Promise<void> {
    const state = this.scopeState(scope);
    const bytes = await this.kv.getSealed(`${INDEX_PREFIX}${state.tag}`);
    if (bytes) {
      const blob = parseIndex(bytes, scope, `${INDEX_PREFIX}${state.tag}`);
      state.lines = new Map(blob.lines.map((l) => [l.key, l]));
      state.heads = blob.heads;
      state.own = blob.own;
      state.unreadable = blob.unreadable;
      this.indexLines(state.lines.values(), scope);
      return;
    }
    const loaded = await loadDoc(this.kv, state.tag, this.actor);
    if (loaded) {
      state.doc = loaded.doc;
      state.meta = loaded.meta;
      await this.rebuildIndex(state);
    }
  }

  private indexLines(lines: Iterable<IndexLine>, scope: ScopeName): void {
    for (const line of lines) {
      this.keyToScope.set(line.key, scope);
      for (const s of line.src) this.bySource.set(s, line.key);
      this.byHash.set(line.hash, line.key);
    }
  }

  private unindexLines(lines: Iterable<IndexLine>): void {
    for (const line of lines) {
      this.keyToScope.delete(line.key);
      for (const s of line.src) if (this.bySource.get(s) === line.key) this.bySource.delete(s);
      if (this.byHash.get(line.hash) === line.key) this.byHash.delete(line.hash);
    }
  }

  /** The scope's document: loaded from the vault on first use, or a new one if never written. */
  private async ensureDoc(state: ScopeState): Promise<ScopeDocument> {
    if (state.doc) return state.doc;
    const loaded = await loadDoc(this.kv, state.tag, this.actor);
    if (loaded) {
      state.doc = loaded.doc;
      state.meta = loaded.meta;
      if (!sameHeads(state.heads, loaded.doc.heads())) await this.rebuildIndex(state);
    } else {
      state.doc = ScopeDocument.create(this.actor);
      state.meta = undefined;
    }
    return state.doc;
  }

  /**
   * Runs a write that changes documents in place. If anything fails, those documents are dropped
   * (and reloaded from the vault when next needed): memory never runs ahead of what was stored.
   */
  private async mutate(states: readonly ScopeState[], fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (error) {
      for (const state of states) {
        state.doc?.free();
        state.doc = undefined;
        state.meta = undefined;
      }
      throw error;
    }
  }

  /** Rebuilds a scope's index from its document (every value opened). Not persisted until the next write. */
  private async rebuildIndex(state: ScopeState): Promise<void> {
    const doc = state.doc!;
    const lines = new Map<RecordKey, IndexLine>();
    state.unreadable = await this.refreshSlots(state, doc, doc.allSlots(), lines);
    this.unindexLines(state.lines.values());
    state.lines = lines;
    state.heads = doc.heads();
    this.indexLines(lines.values(), state.scope);
  }

  /**
   * Recomputes the index lines of `slots` from `doc` into `lines` (which is keyed by record key, so
   * lines of slots that no longer hold a record are found through the current index). Returns the
   * number of values that could not be opened here.
   */
  private async refreshSlots(state: ScopeState, doc: ScopeDocument, slots: Set<Slot>, lines: Map<RecordKey, IndexLine>): Promise<number> {
    const keys = scopeKeys(this.keyring, state.scope);
    const bySlot = new Map<Slot, RecordKey>();
    for (const line of state.lines.values()) bySlot.set(slotOf(keys.indexKey, line.key), line.key);
    const counts = doc.historyCounts();
    let unreadable = 0;
    const list = [...slots];
    for (let i = 0; i < list.length; i += SEAL_BATCH) {
      const part = list.slice(i, i + SEAL_BATCH);
      const results = await Promise.all(
        part.map(async (slot) => {
          const opened = await this.openAll(state, slot, doc.currentValues(slot), () => unreadable++);
          return { slot, envelopes: distinctVersions(opened.map((o) => o.envelope)) };
        }),
      );
      for (const { slot, envelopes } of results) {
        const known = bySlot.get(slot);
        const best = pickCurrent(envelopes);
        if (known && (!best || best.key !== known)) lines.delete(known);
        if (!best) continue;
        const line = lineFor(best, state.scope, counts.get(slot) ?? 0);
        if (envelopes.length > 1) line.conflict = true;
        lines.set(best.key, line);
      }
    }
    return unreadable;
  }

  /** Opens values found at a slot; values that do not open here are counted by `onUnreadable` or thrown. */
  private async openAll(state: ScopeState, slot: Slot, found: readonly FoundValue[], onUnreadable?: () => void): Promise<{ envelope: RecordEnvelope; found: FoundValue }[]> {
    const ctx = this.sealContext(state.scope);
    const out: { envelope: RecordEnvelope; found: FoundValue }[] = [];
    for (const f of found) {
      try {
        out.push({ envelope: await openRecord(ctx, slot, f.value), found: f });
      } catch (error) {
        if (!onUnreadable || !(error instanceof RecordStoreError)) throw error;
        onUnreadable();
      }
    }
    return out;
  }

  private prepareChange(
    state: ScopeState,
    doc: ScopeDocument,
    lines: Map<RecordKey, IndexLine>,
    own: string | undefined,
    unreadable = state.unreadable,
  ): ScopeChange {
    const { ops, meta } = planSave(doc, state.meta, state.tag);
    if (ops.length > 0 || unreadable !== state.unreadable || own !== state.own) {
      const blob: IndexBlob = { f: INDEX_FORMAT, heads: meta.heads, unreadable, lines: [...lines.values()] };
      if (own !== undefined) blob.own = own;
      ops.push({ type: 'put', key: `${INDEX_PREFIX}${state.tag}`, value: utf8(JSON.stringify(blob)) });
    }
    return { state, doc, meta, lines, own, ops, unreadable };
  }

  /**
   * Writes everything in one batch; on success the new documents and indexes become the state. Call
   * inside {@link mutate}, which drops the touched documents if the batch fails: the vault is then
   * as it was, and so is what the store shows.
   */
  private async commit(changes: ScopeChange[], extra: SealedBatchOperation[], keyring?: Keyring): Promise<void> {
    const ops: SealedBatchOperation[] = [];
    const nextKeyring = keyring ?? this.keyring;
    const writesRecords = changes.some((c) => c.ops.length > 0) || extra.length > 0;
    if (keyring || (this.keyringDirty && writesRecords)) ops.push({ type: 'put', key: KEYRING_KEY, value: encodeKeyring(nextKeyring) });
    if (this.actorDirty && writesRecords) ops.push({ type: 'put', key: DEVICE_KEY, value: utf8(this.actor) });
    for (const c of changes) ops.push(...c.ops);
    ops.push(...extra);
    if (ops.length > 0) await this.kv.batchSealed(ops);
    if (ops.some((o) => o.key === KEYRING_KEY)) this.keyringDirty = false;
    if (ops.some((o) => o.key === DEVICE_KEY)) this.actorDirty = false;
    this.keyring = nextKeyring;
    for (const c of changes) {
      this.unindexLines(c.state.lines.values());
      if (c.state.doc !== c.doc) c.state.doc?.free();
      c.state.doc = c.doc;
      c.state.meta = c.meta;
      c.state.lines = c.lines;
      c.state.heads = c.meta.heads;
      c.state.own = c.own;
      c.state.unreadable = c.unreadable;
    }
    for (const c of changes) this.indexLines(c.lines.values(), c.state.scope);
  }

  private async importLocked(items: readonly ResourceToStore[], options: ImportOptions): Promise<ImportResult> {
    const total = items.length;
    const now = this.now();
    const at = now.toISOString();
    const resources = items.map((item, i) => checkItem(item, i));

    // 1. Which record each input is: by source key, then by content, else a new record.
    const renamed = new Map<string, RecordKey>();
    const assigned: (RecordKey | undefined)[] = resources.map(() => undefined);
    const batchBySource = new Map<string, RecordKey>();
    const batchByHash = new Map<string, RecordKey>();
    const taken = new Set<RecordKey>();
    resources.forEach((resource, i) => {
      const known = this.bySource.get(items[i]!.sourceKey);
      if (known && splitRecordKey(known).type === resource.resourceType) assigned[i] = known;
    });
    const rename = (resource: JsonObject, key: RecordKey) => {
      if (typeof resource.id === 'string' && `${resource.resourceType as string}/${resource.id}` !== key) {
        renamed.set(`${resource.resourceType as string}/${resource.id}`, key);
      }
    };
    // Content hashes of the inputs with references followed; recomputed only once `renamed` grew
    // (hashing is a good part of an import's cost).
    const hashes: { hash: string; mentionsData: boolean; renames: number }[] = [];
    const digestOf = (i: number) => {
      const cached = hashes[i];
      if (cached && cached.renames === renamed.size) return cached;
      const { hash, mentionsData } = contentDigest(rewriteReferences(resources[i]!, renamed));
      const digest = { hash, mentionsData, renames: renamed.size };
      hashes[i] = digest;
      return digest;
    };
    const hashOf = (i: number): string => digestOf(i).hash;
    resources.forEach((resource, i) => {
      if (assigned[i]) rename(resource, assigned[i]);
    });
    // Content matches are tried in rounds: a resource whose references point at records matched in
    // an earlier round only hashes like its stored copy once those references are renamed.
    let unassigned = resources.map((_, i) => i).filter((i) => !assigned[i]);
    for (let round = 0; round < MATCH_ROUNDS && unassigned.length > 0 && this.byHash.size > 0; round++) {
      const still: number[] = [];
      for (const i of unassigned) {
        const resource = resources[i]!;
        const same = this.byHash.get(hashOf(i));
        if (same && splitRecordKey(same).type === resource.resourceType) {
          assigned[i] = same;
          rename(resource, same);
        } else {
          still.push(i);
        }
      }
      if (still.length === unassigned.length) break;
      unassigned = still;
    }
    for (const i of assigned.keys()) if (assigned[i]) taken.add(assigned[i]);
    for (const i of unassigned) {
      const resource = resources[i]!;
      const type = resource.resourceType as string;
      let key = batchBySource.get(items[i]!.sourceKey);
      if (!key) {
        const hash = hashOf(i);
        const same = batchByHash.get(hash);
        if (same && splitRecordKey(same).type === type) key = same;
        if (!key) {
          const own = isFhirId(resource.id) ? (`${type}/${resource.id}` as RecordKey) : undefined;
          key = own && !this.keyToScope.has(own) && !taken.has(own) ? own : asRecordKey(`${type}/${globalThis.crypto.randomUUID()}`);
        }
        batchByHash.set(hash, key);
      }
      assigned[i] = key;
      taken.add(key);
      batchBySource.set(items[i]!.sourceKey, key);
      rename(resource, key);
    }

    // 2. The final resources (vault ids, references followed), grouped by record in input order.
    interface Pending {
      envelope: RecordEnvelope;
      scope: ScopeName;
      chunks: { storageKey: string; value: Uint8Array }[];
    }
    const perRecord = new Map<RecordKey, { scope: ScopeName; versions: Pending[]; current: Pending | undefined }>();
    const counts: Partial<Record<ScopeName, ScopeCounts>> = {};
    const count = (scope: ScopeName, what: keyof ScopeCounts) => {
      const c = (counts[scope] ??= { added: 0, updated: 0, unchanged: 0 });
      c[what]++;
    };
    for (let i = 0; i < resources.length; i++) {
      const key = assigned[i]!;
      const { id } = splitRecordKey(key);
      let resource = rewriteReferences(resources[i]!, renamed);
      if (resource.id !== id) resource = { ...resource, id };
      const hash = hashOf(i); // the id is not part of the content hash
      const existing = this.line(key);
      let entry = perRecord.get(key);
      const scope = existing?.scope ?? entry?.scope ?? items[i]!.scope;
      const latestHash = entry?.current?.envelope.hash ?? existing?.hash;
      if (latestHash === hash || entry?.versions.some((v) => v.envelope.hash === hash)) {
        count(scope, 'unchanged');
        continue;
      }
      const latest = entry?.current?.envelope;
      const previousVer = latest?.ver ?? existing?.ver;
      const previousN = latest?.n ?? existing?.version ?? 0;
      const previousUpdated = latest ? lastUpdatedOf(latest.resource) : existing?.lastUpdated;
      const incomingUpdated = lastUpdatedOf(resource);
      const older = previousUpdated !== undefined && incomingUpdated !== undefined && Date.parse(incomingUpdated) < Date.parse(previousUpdated);
      // Most resources hold no attachment data: skip the walk unless the hashed text has a `data`.
      const extracted = digestOf(i).mentionsData ? await extractAttachments(resource, this.keyring.attachmentKey) : { resource, refs: [], chunks: [] };
      const envelope: RecordEnvelope = {
        f: ENVELOPE_FORMAT,
        key,
        ver: newVersionId(),
        n: previousN + 1,
        prev: previousVer ? [previousVer] : [],
        at,
        resource: extracted.resource,
        prov: items[i]!.provenance,
        src: [items[i]!.sourceKey, ...(items[i]!.aliases ?? [])],
        hash,
      };
      if (extracted.refs.length > 0) envelope.att = extracted.refs;
      if (items[i]!.restricted === true) envelope.rst = true;
      const pending: Pending = { envelope, scope, chunks: extracted.chunks };
      if (!entry) perRecord.set(key, (entry = { scope, versions: [], current: undefined }));
      entry.versions.push(pending);
      if (!older) entry.current = pending;
      count(scope, existing || entry.versions.length > 1 ? 'updated' : 'added');
    }

    // 3. Seal every new version (the slow part), reporting progress.
    // One HMAC per record: slots are needed twice below.
    const slots = new Map<RecordKey, Slot>();
    for (const [key, entry] of perRecord) slots.set(key, this.slot(entry.scope, key));
    const jobs: { pending: Pending; slot: Slot }[] = [];
    for (const [key, entry] of perRecord) for (const pending of entry.versions) jobs.push({ pending, slot: slots.get(key)! });
    const sealed = new Map<Pending, SealedResource>();
    const unchangedCount = total - jobs.length;
    options.onProgress?.(unchangedCount, total);
    // Sealed a scope at a time (one key, one nonce draw per part), in parts for progress.
    jobs.sort((a, b) => (a.pending.scope < b.pending.scope ? -1 : a.pending.scope > b.pending.scope ? 1 : 0));
    for (let i = 0; i < jobs.length; ) {
      const scope = jobs[i]!.pending.scope;
      let end = i;
      while (end < jobs.length && end - i < SEAL_BATCH && jobs[end]!.pending.scope === scope) end++;
      const part = jobs.slice(i, end);
      const values = await sealRecords(this.sealContext(scope), part.map(({ pending, slot }) => ({ slot, envelope: pending.envelope })));
      part.forEach(({ pending }, j) => sealed.set(pending, values[j]!));
      options.onProgress?.(unchangedCount + end, total);
      i = end;
    }

    // 4. Per scope: one document change, the index, the save.
    const byScope = new Map<ScopeName, RecordKey[]>();
    for (const [key, entry] of perRecord) {
      const list = byScope.get(entry.scope);
      if (list) list.push(key);
      else byScope.set(entry.scope, [key]);
    }
    const plans: { state: ScopeState; doc: ScopeDocument; writer: DocWriter; lines: Map<RecordKey, IndexLine> }[] = [];
    const chunkOps = new Map<string, Uint8Array>();
    for (const [scope, keys] of byScope) {
      const state = this.scopeState(scope);
      const doc = await this.ensureDoc(state);
      const writer = new DocWriter(state.own);
      const lines = new Map(state.lines);
      for (const key of keys) {
        const entry = perRecord.get(key)!;
        const slot = slots.get(key)!;
        const existing = state.lines.get(key);
        let history = existing?.history ?? 0;
        for (const pending of entry.versions) {
          for (const chunk of pending.chunks) chunkOps.set(chunk.storageKey, chunk.value);
          if (pending !== entry.current) {
            writer.putHistory(slot, pending.envelope.ver, sealed.get(pending)!);
            history++;
          }
        }
        if (!entry.current) {
          if (existing) lines.set(key, { ...existing, history });
          continue;
        }
        const value = sealed.get(entry.current)!;
        if (existing) {
          // The stored current value(s) become history; a stored conflict is superseded too.
          const found = doc.currentValues(slot);
          const opened = existing.conflict ? await this.openAll(state, slot, found) : found.map((f) => ({ found: f, envelope: { ver: existing.ver } as RecordEnvelope }));
          supersede(writer, slot, value, opened);
          history += distinctVersions(opened.map((o) => o.envelope)).length;
          if (existing.conflict) {
            entry.current.envelope.prev = distinctVersions(opened.map((o) => o.envelope)).map((e) => e.ver);
          }
        } else {
          writer.putCurrent(slot, value);
        }
        const line = lineFor(entry.current.envelope, scope, history);
        lines.set(key, line);
      }
      plans.push({ state, doc, writer, lines });
    }
    const extra: SealedBatchOperation[] = [...chunkOps].map(([key, value]) => ({ type: 'put', key, value }));
    await this.mutate(
      plans.map((p) => p.state),
      async () => {
        const changes = plans.map(({ state, doc, writer, lines }) => {
          writer.apply(doc, now);
          return this.prepareChange(state, doc, lines, writer.ownSegmentAfter);
        });
        await this.commit(changes, extra);
      },
    );
    options.onProgress?.(total, total);
    return { counts, keys: assigned as RecordKey[], renamed: Object.fromEntries(renamed) };
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * Puts `value` as the current value of `slot`, moving what was there into the history: in place at
 * the first place it was found (which also ends an Automerge conflict there), removed elsewhere.
 */
function supersede(writer: DocWriter, slot: Slot, value: Uint8Array, found: readonly { found: FoundValue; envelope: Pick<RecordEnvelope, 'ver'> }[]): void {
  const stored = new Set<string>();
  for (const { found: f, envelope } of found) {
    if (stored.has(envelope.ver)) continue;
    stored.add(envelope.ver);
    writer.putHistory(slot, envelope.ver, f.value);
  }
  const segs = [...new Set(found.map((f) => f.found.seg))];
  writer.putCurrent(slot, value, segs[0]);
  for (const seg of segs.slice(1)) writer.deleteCurrent(seg, slot);
}

function checkItem(item: ResourceToStore, i: number): JsonObject {
  if (!isJsonObject(item)) throw new RecordStoreError('INVALID_INPUT', `items[${i}] is not an object`);
  const resource = item.resource as unknown;
  if (!isJsonObject(resource) || typeof resource.resourceType !== 'string' || !/^[A-Z][A-Za-z]{1,63}$/.test(resource.resourceType)) {
    throw new RecordStoreError('INVALID_INPUT', `items[${i}].resource has no resourceType`);
  }
  if (!isScopeName(item.scope)) throw new RecordStoreError('INVALID_INPUT', `items[${i}].scope is not a scope name`);
  if (typeof item.sourceKey !== 'string' || item.sourceKey.length === 0) throw new RecordStoreError('INVALID_INPUT', `items[${i}].sourceKey is empty`);
  if (item.aliases !== undefined && (!Array.isArray(item.aliases) || !item.aliases.every((a) => typeof a === 'string' && a.startsWith('id:')))) {
    throw new RecordStoreError('INVALID_INPUT', `items[${i}].aliases must be id: source names`);
  }
  return resource;
}

let versionIdPool: { hex: string; next: number } = { hex: '', next: 0 };

/** A random version id. Drawn from a pooled random block: one RNG call per 1024 ids. */
function newVersionId(): string {
  const width = VERSION_ID_BYTES * 2;
  if (versionIdPool.next + width > versionIdPool.hex.length) versionIdPool = { hex: toHex(randomBytes(VERSION_ID_BYTES * 1024)), next: 0 };
  const id = versionIdPool.hex.slice(versionIdPool.next, versionIdPool.next + width);
  versionIdPool.next += width;
  return id;
}

function lastUpdatedOf(resource: JsonObject): string | undefined {
  const meta = resource.meta;
  if (!isJsonObject(meta) || typeof meta.lastUpdated !== 'string' || Number.isNaN(Date.parse(meta.lastUpdated))) return undefined;
  return meta.lastUpdated;
}

function lineFor(envelope: RecordEnvelope, scope: ScopeName, history: number): IndexLine {
  // The summary object itself becomes the line (members appended, same order as a spread copy).
  const line = summarize(envelope, scope, history) as IndexLine;
  line.hash = envelope.hash;
  line.src = envelope.src;
  const lastUpdated = lastUpdatedOf(envelope.resource);
  if (lastUpdated !== undefined) line.lastUpdated = lastUpdated;
  return line;
}

function publicSummary(line: IndexLine): RecordSummary {
  const { hash: _h, src: _s, lastUpdated: _l, ...summary } = line;
  return summary;
}

/** One envelope per version id (the same version can sit at two places after a merge). */
function distinctVersions(envelopes: readonly RecordEnvelope[]): RecordEnvelope[] {
  const seen = new Map<string, RecordEnvelope>();
  for (const e of envelopes) if (!seen.has(e.ver)) seen.set(e.ver, e);
  return [...seen.values()];
}

/** Of competing versions, the one shown until the patient chooses: highest number, then latest, then id. */
function pickCurrent(envelopes: readonly RecordEnvelope[]): RecordEnvelope | undefined {
  let best: RecordEnvelope | undefined;
  for (const e of envelopes) {
    if (!best || e.n > best.n || (e.n === best.n && (e.at > best.at || (e.at === best.at && e.ver > best.ver)))) best = e;
  }
  return best;
}

function toStored(envelope: RecordEnvelope, scope: ScopeName): StoredRecord {
  const record: StoredRecord = {
    key: envelope.key,
    scope,
    version: envelope.n,
    ver: envelope.ver,
    prev: envelope.prev,
    at: envelope.at,
    resource: envelope.resource,
    sourceKeys: envelope.src,
    attachments: envelope.att ?? [],
    restricted: envelope.rst === true,
  };
  if (envelope.prov) record.provenance = envelope.prov;
  return record;
}

function parseActor(bytes: Uint8Array): string {
  const actor = fromUtf8(bytes);
  if (!/^[0-9a-f]{32}$/.test(actor)) throw new RecordStoreError('CORRUPT_RECORD', `${DEVICE_KEY} is malformed`);
  return actor;
}

function parseIndex(bytes: Uint8Array, scope: ScopeName, where: string): IndexBlob {
  let raw: unknown;
  try {
    raw = JSON.parse(fromUtf8(bytes));
  } catch (cause) {
    throw new RecordStoreError('CORRUPT_RECORD', `${where} is not JSON`, { cause });
  }
  if (!isJsonObject(raw) || typeof raw.f !== 'number' || !Array.isArray(raw.heads) || !Array.isArray(raw.lines) || typeof raw.unreadable !== 'number') {
    throw new RecordStoreError('CORRUPT_RECORD', `${where} is malformed`);
  }
  if (raw.f > INDEX_FORMAT) throw new RecordStoreError('NEWER_FORMAT', `${where} was written by a newer version of Patient Vault`);
  for (const line of raw.lines) {
    if (!isJsonObject(line) || typeof line.key !== 'string' || line.scope !== scope || typeof line.hash !== 'string' || !Array.isArray(line.src)) {
      throw new RecordStoreError('CORRUPT_RECORD', `${where} has a malformed line`);
    }
  }
  return raw as unknown as IndexBlob;
}
