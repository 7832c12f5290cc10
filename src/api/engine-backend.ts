import { fromBase64Url, fromUtf8, peerIdOf, toBase64Url, utf8, type Did, type Identity } from '../crypto/index.js';
import { multiaddr } from '@multiformats/multiaddr';
import { z } from 'zod';
import { entryIdOf, type EntryId, type GenesisBody, type GrantBody, type LogVerifier, type RevokeBody, type VaultId } from '../grants/index.js';
import { COPIED_DATA_NOTICE, SharedVaultFollower, VaultNode, deviceIdentity, type RecordsPort, type VaultSummary } from '../node/index.js';
import {
  RecordsError,
  RecordStore,
  labCodes as recordLabCodes,
  labSeries as recordLabSeries,
  parseImport,
  timeline as recordTimeline,
  type FetchJwks,
  type ParsedImport,
  type RecordKey,
  type RecordSummary,
  type SealedKV,
} from '../records/index.js';
import type { KdfCost, Storage, Vault } from '../store/index.js';
import { SyncError, type PendingRequest, type SyncLibp2p } from '../sync/index.js';
import type { ShareEdits } from './approval-queue.js';
import {
  BackendError,
  type AccessReceipt,
  type ApprovedShare,
  type AttachmentContent,
  type AttachmentQuery,
  type BackendEvent,
  type Count,
  type GrantAuthority,
  type GrantView,
  type FamilyBackend,
  type ImportPreview,
  type ImportSummary,
  type InboxItemView,
  type VaultRef,
  type LabSeries,
  type PeerRequest,
  type RecordView,
  type VaultBackend,
  type VaultStatus,
} from './backend.js';
import { SCOPES, SENSITIVE_SCOPES, type ImportParams, type Scope } from './schemas.js';
import { createStoreBackend, type StoreBackend } from './store-backend.js';
import { listenerSet } from './listeners.js';
import { ATTACHMENT_SLICE_BYTES, MAX_ATTACHMENT_INDEX, MAX_NAME_CHARS } from './constants.js';

/** Options of {@link createEngineBackend}. */
export interface EngineBackendInit {
  readonly storage: Storage;
  /** Creates this device's libp2p node for `identity` (browser: WebSockets + circuit relay + WebRTC). */
  readonly createLibp2p: (identity: Identity, relay: string | undefined) => Promise<SyncLibp2p>;
  /** The relay this device is reachable through (a multiaddr ending in /p2p/<id>), if any. */
  readonly relay?: () => string | undefined;
  /** This device's address for family links, if it is reachable directly (tests on loopback). @default through the relay */
  readonly dialAddress?: () => string | undefined;
  /** Fetches an issuer's JWKS for SMART Health Card verification. */
  readonly fetchJwks?: FetchJwks;
  readonly kdfCost?: KdfCost;
  /** Tests only. */
  readonly allowWeakKdf?: boolean;
  /** The engine's clock (log entries, verdicts, emergency waits), ms since epoch. @default Date.now */
  readonly now?: () => number;
  /** The vault's clock for auto-lock: real idle time even when a test moves the engine's clock. @default Date.now */
  readonly storeNow?: () => number;
  /** @default 5000 */
  readonly idleCheckMs?: number;
}

/** The full engine backend, with what tests and the host need beyond {@link VaultBackend}. */
export interface EngineBackend extends VaultBackend {
  /** Restarts the network part (after the relay setting changed). */
  restartNetwork(): Promise<void>;
  /** Where this device listens now (empty while locked). */
  addresses(): Promise<string[]>;
  /** Locks if idle (tests drive it). */
  checkIdle(): boolean;
  /** Stops everything (the host closes). */
  close(): Promise<void>;
}

/** Sealed record keys of this layer (inside the vault; only ever plaintext in memory). */
const IDENTITY_KEY = 'extension/identity';
/** Names parties gave themselves when they asked to share (did → name), sealed in the vault. */
const NAMES_KEY = 'extension/names';
/** Vault → address of the device a held or followed vault came from (sealed). */
const FAMILY_PEERS_KEY = 'extension/family-peers';
/** Node events that change what the family views show. */
const FAMILY_EVENTS = ['delegation', 'handover', 'protected', 'emergency'] as const;
/** Prefix of a family link (guardian join, emergency contact follow, handover). */
export const FAMILY_LINK_PREFIX = 'pvault-family:';
/** What a family link carries (base64url JSON after the prefix). */
const familyLinkSchema = z.strictObject({
  v: z.literal(1),
  kind: z.enum(['guardian', 'emergency', 'handover']),
  vault: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  from: z.string().regex(/^did:key:z[1-9A-HJ-NP-Za-km-z]{40,60}$/),
  address: z
    .string()
    .max(400)
    .regex(/^\/[A-Za-z0-9./:_-]+\/p2p\/[1-9A-HJ-NP-Za-km-z]{40,60}$/),
  name: z.string().min(1).max(MAX_NAME_CHARS).optional(),
});
type FamilyLink = z.output<typeof familyLinkSchema>;

/** Parses a family link; INVALID_INPUT says what is wrong with it. */
export function parseFamilyLink(text: string): FamilyLink {
  const trimmed = text.trim();
  if (!trimmed.startsWith(FAMILY_LINK_PREFIX) || trimmed.length > 4096) throw new BackendError('INVALID_INPUT', `A family link starts with ${FAMILY_LINK_PREFIX}`);
  let json: unknown;
  try {
    json = JSON.parse(fromUtf8(fromBase64Url(trimmed.slice(FAMILY_LINK_PREFIX.length))));
  } catch {
    throw new BackendError('INVALID_INPUT', 'That family link is damaged (not base64url JSON)');
  }
  const parsed = familyLinkSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BackendError('INVALID_INPUT', `That family link is not valid: ${issue ? `${issue.path.join('.')} ${issue.message}` : 'unknown shape'}`);
  }
  return parsed.data;
}

/** Most names kept (oldest dropped first): a bound on what a flood of requests can make us store. */
const MAX_NAMES = 2000;
const SHARED_PREFIX = 'shared/';

/** The engine while the vault is unlocked. */
interface Session {
  readonly vault: Vault;
  readonly identity: Identity;
  readonly libp2p: SyncLibp2p;
  readonly node: VaultNode;
  readonly own: RecordStore;
  readonly records: Map<string, RecordStore>;
  /** Names of parties, as they called themselves (see {@link NAMES_KEY}). */
  readonly names: Map<string, string>;
  /** Keeps every vault shared with this device coming in live (re-pulls when sessions drop). */
  readonly follower: SharedVaultFollower;
  readonly stopListening: () => void;
}

/** A share the user approved from a page before the provider redeemed its invitation. */
interface PreApproval {
  readonly grantee: Did;
  readonly edits: ShareEdits;
  readonly origin: string;
  readonly at: number;
}
/** Pre-approvals older than this are dropped (the invitation has expired by then too). */
const PRE_APPROVAL_TTL_MS = 7 * 24 * 3600 * 1000;

/** A {@link SealedKV} under a key prefix, so a shared vault's records never mix with one's own. */
function prefixedKV(vault: Vault, prefix: string): SealedKV {
  return {
    getSealed: (key) => vault.getSealed(prefix + key),
    batchSealed: (ops) => vault.batchSealed(ops.map((op) => ({ ...op, key: prefix + op.key }))),
  };
}

/**
 * The vault engine as the extension hosts it: src/store's Vault for create/unlock/lock/backup and
 * auto-lock, and while unlocked a {@link VaultNode} (src/node) over a libp2p node, with
 * src/records' RecordStore for this device's own vault and for each vault shared with it.
 */
export async function createEngineBackend(init: EngineBackendInit): Promise<EngineBackend> {
  const now = init.now ?? (() => Date.now());
  const base: StoreBackend = await createStoreBackend({
    storage: init.storage,
    now: init.storeNow ?? (() => Date.now()),
    ...(init.kdfCost !== undefined && { kdfCost: init.kdfCost }),
    ...(init.allowWeakKdf !== undefined && { allowWeakKdf: init.allowWeakKdf }),
    ...(init.idleCheckMs !== undefined && { idleCheckMs: init.idleCheckMs }),
  });
  const { emit, subscribe } = listenerSet<BackendEvent>();
  const preApprovals = new Map<string, PreApproval>();
  const waitingPeers = new Map<string, PendingRequest>();
  let session: Promise<Session> | undefined;
  let lastParse: { text: string; parsed: ParsedImport } | undefined;
  /**
   * The attachment read last, while slices of it remain to be read: a large one is read in
   * ATTACHMENT_SLICE_BYTES parts and is opened and hash-checked once. Dropped on lock.
   */
  let lastAttachment: { id: string; bytes: Uint8Array } | undefined;
  /**
   * Runs log-writing engine calls one at a time, in the order the user made them. (The engine and
   * src/grants serialize appends and log changes themselves since concurrent appends were found
   * to equivocate; this keeps the user's actions and the pulls they start in order as well.)
   */
  let writing: Promise<unknown> = Promise.resolve();
  const oneWriter = <T>(run: () => Promise<T>): Promise<T> => {
    const next = writing.then(run, run);
    writing = next.catch(() => undefined);
    return next;
  };

  const startSession = (): Promise<Session> => {
    session ??= (async () => {
      const vault = base.unlockedVault();
      if (!vault) throw new BackendError('LOCKED', 'The vault is locked');
      const identity = await deviceIdentity(vault, IDENTITY_KEY);
      const relay = init.relay?.();
      const libp2p = await init.createLibp2p(identity, relay);
      const records = new Map<string, RecordStore>();
      let ownVault: string | undefined;
      const node = await VaultNode.start({
        identity,
        libp2p,
        store: vault,
        now,
        openRecords: async (vaultId: VaultId, role, seed): Promise<RecordsPort> => {
          const existing = records.get(vaultId);
          if (existing) return existing;
          // A shared vault starts with the keys its grants carry (`seed`); our own makes fresh ones,
          // unless this device joins an existing vault and is handed them.
          const scopeKeys = seed ?? (role === 'shared' ? [] : undefined);
          const store = await RecordStore.open(role === 'own' ? vault : prefixedKV(vault, `${SHARED_PREFIX}${vaultId}/`), {
            vaultId,
            ...(scopeKeys !== undefined && { scopeKeys }),
            now: () => new Date(now()),
          });
          records.set(vaultId, store);
          if (role === 'own') ownVault = vaultId;
          return store;
        },
      });
      if (node.vault === undefined) await node.createVault((await base.status()).displayName ?? null);
      await node.ownRecords();
      const own = records.get(ownVault ?? node.vault!);
      if (!own) throw new BackendError('FAILED', 'The records of this vault could not be opened');
      const onRequest = (e: Event) => void handleRequest((e as CustomEvent<PendingRequest>).detail, node);
      const onGrants = () => emit({ type: 'grants' });
      const onFamily = () => emit({ type: 'family' });
      // The engine let a shared vault's records go (idle, or access ended): so does this cache.
      const onUnloaded = (e: Event) => void records.delete((e as CustomEvent<{ vault: string }>).detail.vault);
      const onReceived = (e: Event) => {
        // A provider's inbox document at this patient changed: a result arrived (or was withdrawn).
        if ((e as CustomEvent<{ doc?: unknown }>).detail?.doc?.toString().startsWith('inbox/') === true) {
          emit({ type: 'inbox' });
          return;
        }
        emit({ type: 'shared-with-me' });
        emit({ type: 'records' });
      };
      const listeners: readonly (readonly [string, (event: Event) => void])[] = [
        ['request', onRequest],
        ['granted', onGrants],
        ['revoked', onGrants],
        ['log', onGrants],
        ['received', onReceived],
        ['unloaded', onUnloaded],
        ...FAMILY_EVENTS.map((type) => [type, onFamily] as const),
      ];
      for (const [type, listener] of listeners) node.addEventListener(type, listener);
      for (const pending of node.pendingRequests()) void handleRequest(pending, node);
      // A provider keeps receiving what patients add, across dropped connections and restarts; when
      // a grant ends, following stops and the provider's view is told.
      const follower = new SharedVaultFollower(node, { onStopped: () => emit({ type: 'shared-with-me' }) });
      follower.followAll();
      return {
        follower,
        vault,
        identity,
        libp2p,
        node,
        own,
        records,
        names: await loadNames(vault),
        stopListening: () => {
          for (const [type, listener] of listeners) node.removeEventListener(type, listener);
        },
      };
    })();
    session.catch(() => (session = undefined));
    return session;
  };

  const stopSession = async (): Promise<void> => {
    const current = session;
    session = undefined;
    waitingPeers.clear();
    lastAttachment = undefined;
    if (!current) return;
    const s = await current.catch(() => undefined);
    if (!s) return;
    s.stopListening();
    await s.follower.close();
    await s.node.stop().catch(() => undefined);
    await Promise.resolve()
      .then(() => s.libp2p.stop())
      .catch(() => undefined);
  };

  const requireSession = async (): Promise<Session> => {
    if (!base.unlockedVault()) throw new BackendError('LOCKED', 'The vault is locked');
    return startSession();
  };

  /** A provider redeemed an invitation: answer it from a pre-approval, or ask the user. */
  const handleRequest = async (pending: PendingRequest, node: VaultNode): Promise<void> => {
    const pre = preApprovals.get(pending.from);
    if (pre && now() - pre.at < PRE_APPROVAL_TTL_MS) {
      preApprovals.delete(pending.from);
      try {
        const grantId = await approveRequest(node, pending, pre.edits);
        emit({ type: 'grants', grantId, origin: pre.origin });
      } catch {
        // The requester went away before the answer: the pre-approval is spent either way.
      }
      return;
    }
    waitingPeers.set(pending.id, pending);
    emit({ type: 'peer-request', request: toPeerRequest(pending) });
  };

  /**
   * Approves a provider's request with the user's edits. `allowResults` adds the grant action
   * 'append' (the provider may push results to its inbox here): one grant, read and append.
   */
  const approveRequest = async (node: VaultNode, pending: PendingRequest, edits: ShareEdits): Promise<EntryId> => {
    const grantId = await oneWriter(() =>
      node.approve(pending.id, {
        scopes: [...edits.scopes],
        days: edits.expiresInDays,
        purpose: edits.purpose,
        ...(edits.allowResults === true && { append: true }),
      }),
    );
    await rememberName(pending.from, pending.request.name);
    return grantId;
  };

  /** Keeps the name a party gave itself, for lists that would otherwise show its did. */
  const rememberName = async (did: string, name: string): Promise<void> => {
    const s = await session?.catch(() => undefined);
    const clean = name.trim().slice(0, MAX_NAME_CHARS);
    if (!s || clean === '' || s.names.get(did) === clean) return;
    s.names.delete(did);
    s.names.set(did, clean);
    while (s.names.size > MAX_NAMES) s.names.delete(s.names.keys().next().value!);
    await s.vault.putSealed(NAMES_KEY, utf8(JSON.stringify([...s.names])));
  };

  base.subscribe((e) => {
    if (e.type === 'lock') {
      if (e.locked) void stopSession();
      else void startSession().catch(() => undefined);
    }
    emit(e);
  });
  if (base.unlockedVault()) void startSession().catch(() => undefined);

  const parse = async (input: ImportParams): Promise<ParsedImport> => {
    const text = input.format === 'fhir' ? JSON.stringify(input.data) : typeof input.data === 'string' ? input.data : JSON.stringify(input.data);
    if (lastParse?.text === text) return lastParse.parsed;
    try {
      const parsed = await parseImport(text, {
        now: new Date(now()),
        allowUnverified: true,
        ...(init.fetchJwks !== undefined && { fetchJwks: init.fetchJwks }),
      });
      lastParse = { text, parsed };
      return parsed;
    } catch (e) {
      if (e instanceof RecordsError) throw new BackendError('INVALID_INPUT', e.message, { cause: e, reason: e.code });
      throw e;
    }
  };

  const views = async (store: RecordStore, lines: readonly RecordSummary[]): Promise<RecordView[]> => {
    const stored = await store.getMany(lines.map((l) => l.key));
    const byKey = new Map(stored.map((r) => [r.key as string, r]));
    const out: RecordView[] = [];
    for (const line of lines) {
      const r = byKey.get(line.key);
      if (!r) continue;
      out.push({
        id: line.key,
        resourceType: line.type,
        scope: line.scope,
        ...(line.date !== undefined && { date: line.date }),
        display: line.display ?? line.type,
        resource: r.resource,
        ...(r.attachments.length > 0 && { attachments: r.attachments.map((a, index) => ({ index, path: a.path, size: a.size })) }),
        provenance: {
          ...(r.provenance?.source !== undefined && { source: r.provenance.source }),
          verified: r.provenance?.verified ?? false,
          importedAt: r.provenance?.importedAt ?? r.at,
          ...(r.provenance?.issuer !== undefined && { issuer: r.provenance.issuer }),
        },
      });
    }
    return out;
  };

  /**
   * A slice of attachment `query.index` of record `query.key` in `store` (of vault `vault`; undefined:
   * this device's own). Errors carry a code and a fixed sentence, never content or a chunk address.
   */
  const readAttachmentIn = async (store: RecordStore, vault: string | undefined, query: Omit<AttachmentQuery, 'vault'>): Promise<AttachmentContent> => {
    const { key, index } = query;
    const offset = query.offset ?? 0;
    const length = query.length ?? ATTACHMENT_SLICE_BYTES;
    if (typeof key !== 'string' || key.length > 200) throw new BackendError('INVALID_INPUT', 'An attachment is named by its record key');
    if (!Number.isSafeInteger(index) || index < 0 || index > MAX_ATTACHMENT_INDEX) throw new BackendError('INVALID_INPUT', 'The attachment index is not valid');
    if (!Number.isSafeInteger(offset) || offset < 0) throw new BackendError('INVALID_INPUT', 'The offset is not valid');
    if (!Number.isSafeInteger(length) || length < 1 || length > ATTACHMENT_SLICE_BYTES) throw new BackendError('INVALID_INPUT', `A read returns 1 to ${ATTACHMENT_SLICE_BYTES} bytes`);
    const record = await store.get(key as RecordKey).catch((e: unknown) => {
      throw engineError(e);
    });
    if (!record) throw new BackendError('NOT_FOUND', 'No such record in this vault');
    const ref = record.attachments[index];
    if (!ref) throw new BackendError('NOT_FOUND', 'That record has no such attachment');
    if (offset > ref.size) throw new BackendError('INVALID_INPUT', 'The offset is past the end of the attachment');
    const id = `${vault ?? ''}\n${record.key}\n${record.ver}\n${index}`;
    let bytes = lastAttachment?.id === id ? lastAttachment.bytes : undefined;
    if (!bytes) {
      lastAttachment = undefined;
      try {
        bytes = await store.readAttachment(ref);
      } catch (e) {
        throw attachmentError(e);
      }
    }
    const end = Math.min(ref.size, offset + length);
    lastAttachment = end < ref.size ? { id, bytes } : undefined;
    return { size: ref.size, offset, data: toBase64Url(bytes.subarray(offset, end)) };
  };

  /**
   * Why an attachment could not be read: a chunk absent from this device (a shared vault: sync does
   * not carry chunks yet) or present but failing its checks.
   */
  const attachmentError = (e: unknown): BackendError => {
    const code = (e as { code?: unknown } | null)?.code;
    if (code === 'ATTACHMENT_MISSING') return new BackendError('ATTACHMENT_NOT_ON_DEVICE', 'This attachment is not on this device', { reason: 'MISSING_CHUNK' });
    if (code === 'CORRUPT_RECORD') return new BackendError('ATTACHMENT_DAMAGED', 'The attachment could not be read (damaged)', { reason: 'CORRUPT_RECORD' });
    return engineError(e);
  };

  /** The records a patient shares with this provider now (a live grant), loaded; NOT_FOUND otherwise. */
  const liveSharedStore = async (patient: string): Promise<{ store: RecordStore; vault: VaultId }> => {
    const s = await requireSession();
    const shared = s.node.sharedVaults().find((v) => v.patient === patient);
    if (!shared) throw new BackendError('NOT_FOUND', 'No share from that patient');
    const log = await s.node.loadVault(shared.vault);
    if (!log || !grantViews(log, s.identity.did, now(), 'provider').some((g) => g.status === 'live')) {
      throw new BackendError('NOT_FOUND', 'No live share from that patient');
    }
    await s.node.sharedRecords(shared.vault);
    const store = s.records.get(shared.vault);
    if (!store) throw new BackendError('NOT_FOUND', 'No records from that patient yet');
    return { store, vault: shared.vault };
  };

  const backend: EngineBackend = {
    async status(): Promise<VaultStatus> {
      const s = await base.status();
      if (s.state !== 'unlocked') return s;
      const current = await startSession().catch(() => undefined);
      return {
        ...s,
        capabilities: current ? ['records', 'sharing', 'provider', 'family'] : [],
        ...(current && { did: current.identity.did }),
      };
    },
    create: (options) => base.create(options),
    unlock: (passphrase) => base.unlock(passphrase),
    async lock() {
      await stopSession();
      await base.lock();
    },
    touch: () => base.touch(),
    setAutoLock: (minutes) => base.setAutoLock(minutes),
    exportBackup: () => base.exportBackup(),
    restoreBackup: (backup, passphrase) => base.restoreBackup(backup, passphrase),
    subscribe,
    checkIdle: () => base.checkIdle(),
    async addresses() {
      if (!base.unlockedVault()) return [];
      const s = await startSession();
      return s.libp2p.getMultiaddrs().map((a) => a.toString());
    },
    async restartNetwork() {
      await stopSession();
      if (base.unlockedVault()) await startSession();
    },
    async close() {
      await stopSession();
      base.close();
    },

    records: {
      async preview(input): Promise<ImportPreview> {
        await requireSession();
        const parsed = await parse(input);
        return {
          total: parsed.resources.length,
          byType: counts(parsed.resources.map((r) => r.resource.resourceType)),
          byScope: counts(parsed.resources.map((r) => r.scope)),
          sensitive: parsed.resources.filter((r) => SENSITIVE_SCOPES.has(r.scope)).length,
          cards: parsed.cards.map((c) => ({ issuer: c.issuer, verified: c.verified })),
        };
      },
      async import(input, onProgress, vault): Promise<ImportSummary> {
        const s = await requireSession();
        const parsed = await parse(input);
        lastParse = undefined;
        const scopes = [...new Set(parsed.resources.map((r) => r.scope))];
        const store = await storeOf(s, vault);
        const result = await s.node.editRecords(
          scopes,
          () =>
          store.importResources(
            parsed.resources.map((r) => ({ resource: r.resource, scope: r.scope, provenance: r.provenance, sourceKey: r.sourceKey, restricted: r.restricted })),
            onProgress ? { onProgress } : {},
          ),
          vault === undefined ? {} : { vault: vault as VaultId },
        ).catch((e: unknown) => {
          throw engineError(e);
        });
        emit({ type: 'records' });
        let added = 0;
        let updated = 0;
        let unchanged = 0;
        const byScope: Count[] = [];
        for (const [scope, c] of Object.entries(result.counts)) {
          if (!c) continue;
          added += c.added;
          updated += c.updated;
          unchanged += c.unchanged;
          byScope.push({ name: scope, count: c.added + c.updated });
        }
        return { added, updated, unchanged, byScope };
      },
      async timeline(query) {
        const s = await requireSession();
        const store = await storeOf(s, query.vault);
        const lines = recordTimeline(store, {
          limit: query.limit ?? 200,
          ...(query.scope !== undefined && { scopes: [query.scope] }),
          ...(query.resourceType !== undefined && { types: [query.resourceType] }),
        });
        return views(store, lines);
      },
      async labCodes() {
        const s = await requireSession();
        return recordLabCodes(s.own).map((c) => ({ loinc: c.loinc, display: c.display ?? c.loinc, count: c.count }));
      },
      async labSeries(loinc): Promise<LabSeries> {
        const s = await requireSession();
        const series = recordLabSeries(s.own, loinc);
        return {
          loinc,
          display: series.display ?? loinc,
          unit: series.unit ?? '',
          points: series.points.map((p) => ({ t: p.date, value: p.value })),
        };
      },
      async readAttachment(query) {
        const s = await requireSession();
        const own = query.vault === undefined || query.vault === s.node.vault;
        return readAttachmentIn(await storeOf(s, query.vault), own ? undefined : query.vault, query);
      },
    },

    sharing: {
      async grant(request: ApprovedShare) {
        const s = await requireSession();
        const grantee = request.provider.did as Did;
        const expires = now() + request.expiresInDays * 86_400_000;
        const grantId = await oneWriter(() => s.node.grant(grantee, { scopes: request.scopes, purpose: request.purpose, expires, ...(request.allowResults === true && { append: true }) }));
        await rememberName(grantee, request.provider.name);
        return grantView(s.node.log(s.node.vault!)!, grantId, s.identity.did, now(), request.provider.name);
      },
      async offer(request: ApprovedShare, origin: string) {
        const s = await requireSession();
        const relay = init.relay?.();
        if (relay === undefined) throw new BackendError('NOT_AVAILABLE', 'Sharing needs a relay: set one in Settings');
        const invitation = await s.node.invite(relay);
        preApprovals.set(request.provider.did, {
          grantee: request.provider.did as Did,
          edits: { scopes: request.scopes, purpose: request.purpose, expiresInDays: request.expiresInDays, ...(request.allowResults === true && { allowResults: true }) },
          origin,
          at: now(),
        });
        await rememberName(request.provider.did, request.provider.name);
        return { invitation, patient: s.identity.did };
      },
      async revoke(grantId) {
        const s = await requireSession();
        try {
          await oneWriter(() => s.node.revoke(grantId as EntryId));
        } catch (e) {
          throw engineError(e);
        }
        emit({ type: 'grants', grantId });
      },
      async grants(vault) {
        const s = await requireSession();
        const log = s.node.log((vault ?? s.node.vault!) as VaultId);
        if (!log) return [];
        return grantViews(log, s.identity.did, now(), 'patient', s.names);
      },
      async createInvitation(options) {
        const s = await requireSession();
        const relay = init.relay?.();
        if (relay === undefined) throw new BackendError('NOT_AVAILABLE', 'Invitations need a relay: set one in Settings');
        try {
          // A guardian invites into a dependent's vault it holds: the request is approved (and granted) there.
          return { link: await s.node.invite(relay, options.vault === undefined ? {} : { vault: options.vault as VaultId }) };
        } catch (e) {
          throw engineError(e);
        }
      },
      async accessTrail(): Promise<AccessReceipt[]> {
        const s = await requireSession();
        return s.node
          .accessTrail()
          .reverse()
          .map((r) => ({ id: r.entry, who: nameOf(s, r.by), scope: r.scope, at: new Date(r.at).toISOString(), grantId: r.grant }));
      },
      async inbox(): Promise<InboxItemView[]> {
        const s = await requireSession();
        const items = await s.node.inbox();
        const out: InboxItemView[] = [];
        for (const item of items) {
          const checked = await checkResult(item.resource);
          out.push({
            id: item.id,
            from: nameOf(s, item.from),
            resourceType: typeof item.resource.resourceType === 'string' ? item.resource.resourceType.slice(0, 64) : 'unknown',
            resource: item.resource,
            suggestedScope: checked.ok ? checked.scope : 'notes',
            ...(!checked.ok && { invalid: checked.reason }),
          });
        }
        return out;
      },
      async acceptResult(from, id, scope) {
        const s = await requireSession();
        const item = (await s.node.inbox()).find((i) => i.from === from && i.id === id);
        if (!item) throw new BackendError('NOT_FOUND', 'That result is no longer in the inbox');
        // Validated here too: what a provider pushed is untrusted until it passes like any import.
        const checked = await checkResult(item.resource);
        if (!checked.ok) throw new BackendError('INVALID_INPUT', `This result is not valid FHIR R4 and cannot be kept: ${checked.reason}`);
        try {
          await s.node.acceptResult(from as Did, id, scope);
        } catch (e) {
          throw engineError(e);
        }
        emit({ type: 'inbox' });
        emit({ type: 'records' });
      },
      async rejectResult(from, id) {
        const s = await requireSession();
        if (!(await s.node.inbox()).some((i) => i.from === from && i.id === id)) throw new BackendError('NOT_FOUND', 'That result is no longer in the inbox');
        await s.node.rejectResult(from as Did, id).catch((e: unknown) => {
          throw engineError(e);
        });
        emit({ type: 'inbox' });
      },
      pendingRequests: () => Promise.resolve([...waitingPeers.values()].map(toPeerRequest)),
      async answer(requestId, decision) {
        const s = await requireSession();
        const pending = waitingPeers.get(requestId);
        if (!pending || !waitingPeers.delete(requestId)) throw new BackendError('NOT_FOUND', 'That request is no longer waiting');
        if (!decision.approved) {
          s.node.deny(requestId);
          return;
        }
        const asked = pending.request;
        const edits: ShareEdits = decision.edits ?? { scopes: asked.scopes.filter(isScope), purpose: asked.purpose, expiresInDays: asked.days };
        await approveRequest(s.node, pending, edits).catch((e: unknown) => {
          throw engineError(e);
        });
      },
      copiedDataNotice: COPIED_DATA_NOTICE,
    },

    family: familyOf(),

    provider: {
      async shared({ includeEnded }) {
        const s = await requireSession();
        const out: GrantView[] = [];
        for (const shared of s.node.sharedVaults()) {
          // Loaded on demand: the engine keeps only recently used shared vaults in memory.
          const log = await s.node.loadVault(shared.vault);
          if (!log) continue;
          const authority = authorityOf(s.node, shared.vault);
          for (const g of grantViews(log, s.identity.did, now(), 'provider', s.names)) {
            if (includeEnded || g.status === 'live') out.push(authority === undefined ? g : { ...g, authority });
          }
        }
        return out;
      },
      async records({ patient, scope, resourceType, limit }) {
        const { store } = await liveSharedStore(patient);
        const lines = recordTimeline(store, {
          limit,
          ...(scope !== undefined && { scopes: [scope] }),
          ...(resourceType !== undefined && { types: [resourceType] }),
        });
        return { records: await views(store, lines) };
      },
      async readAttachment({ patient, ...query }) {
        const { store, vault } = await liveSharedStore(patient);
        return readAttachmentIn(store, vault, query);
      },
      async redeem(invitation, request) {
        const s = await requireSession();
        const name = (await base.status()).displayName ?? 'A provider';
        try {
          const pulled = await s.node.redeem(invitation, { name, scopes: [...request.scopes], purpose: request.purpose, days: request.expiresInDays });
          // Keep receiving: the follower holds a live pull open and re-opens it when it drops.
          s.follower.follow(pulled.vault);
          emit({ type: 'shared-with-me' });
          emit({ type: 'records' });
          const patient = s.node.sharedVaults().find((v) => v.vault === pulled.vault)?.patient ?? '';
          return { patient, scopes: pulled.scopes as Scope[] };
        } catch (e) {
          // Redeemed but not pulled (the patient's device went away): the follower keeps trying.
          s.follower.followAll();
          throw engineError(e);
        }
      },
      async sendResult(patient, resource) {
        const s = await requireSession();
        const shared = s.node.sharedVaults().find((v) => v.patient === patient);
        if (!shared) throw new BackendError('NOT_FOUND', 'No share from that patient');
        const log = await s.node.loadVault(shared.vault);
        const grants = log ? grantViews(log, s.identity.did, now(), 'provider') : [];
        if (!grants.some((g) => g.status === 'live' && g.sendsResults)) {
          throw new BackendError('DENIED', 'This patient has not allowed you to send results (no live grant lets you)');
        }
        const checked = await checkResult(resource);
        if (!checked.ok) throw new BackendError('INVALID_INPUT', checked.reason, { reason: checked.code });
        try {
          return { id: await s.node.pushResult(shared.vault, checked.resource) };
        } catch (e) {
          throw engineError(e);
        }
      },
      async refresh() {
        const s = await requireSession();
        for (const shared of s.node.sharedVaults()) {
          await oneWriter(() => s.node.pull(shared.vault)).catch(() => undefined);
        }
        // Reconnect now any live pull that is waiting out a pause.
        s.follower.followAll();
        emit({ type: 'shared-with-me' });
      },
    },
  };
  /** The records store of `vault` (this device's own by default; a held or shared one opened on first use). */
  async function storeOf(s: Session, vault: string | undefined): Promise<RecordStore> {
    if (vault === undefined || vault === s.node.vault) return s.own;
    try {
      await s.node.vaultRecords(vault as VaultId);
    } catch (e) {
      throw engineError(e);
    }
    const store = s.records.get(vault);
    if (!store) throw new BackendError('NOT_FOUND', 'The records of that vault are not on this device');
    return store;
  }

  /** This device's address through the relay, for links other devices dial. */
  function myAddress(s: Session): string {
    const direct = init.dialAddress?.();
    if (direct !== undefined) return direct;
    const relay = init.relay?.();
    if (relay === undefined) throw new BackendError('NOT_AVAILABLE', 'Families need a relay: set one in Settings');
    return relayedAddress(relay, s.identity);
  }

  async function familyLink(s: Session, kind: FamilyLink['kind'], vault: string): Promise<{ link: string }> {
    const name = (await base.status()).displayName;
    const link: FamilyLink = { v: 1, kind, vault, from: s.identity.did, address: myAddress(s), ...(name !== undefined && { name }) };
    return { link: `${FAMILY_LINK_PREFIX}${toBase64Url(utf8(JSON.stringify(link)))}` };
  }

  /** Runs a family write through the one writer, as an engine error the UI can show. */
  async function written<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await oneWriter(run);
    } catch (e) {
      throw engineError(e);
    }
  }

  function familyOf(): FamilyBackend {
    const refOf = (v: VaultSummary): VaultRef => ({ vault: v.vault, kind: v.kind, label: v.label, subject: v.subject, as: v.as });
    return {
      async vaults() {
        const s = await requireSession();
        return s.node.vaults().map(refOf);
      },
      async alerts() {
        const s = await requireSession();
        let waitingEmergencies = 0;
        for (const v of s.node.vaults()) {
          if (v.kind === 'shared' || (v.as !== 'owner' && v.as !== 'guardian')) continue;
          waitingEmergencies += s.node.emergencies(v.vault).filter((e) => e.state === 'waiting').length;
        }
        return { waitingEmergencies };
      },
      async createDependent({ label, guardianUntil }) {
        const s = await requireSession();
        const expires = guardianUntil === undefined ? null : Date.parse(guardianUntil);
        if (expires !== null && !(expires > now())) throw new BackendError('INVALID_INPUT', 'The guardianship must end in the future');
        const vault = await written(() => s.node.createDependentVault({ label, expires }));
        emit({ type: 'family' });
        return { vault };
      },
      async overview(vault) {
        const s = await requireSession();
        const ref = s.node.vaults().find((v) => v.vault === vault);
        if (!ref) throw new BackendError('NOT_FOUND', 'This device holds no such vault');
        const id = vault as VaultId;
        await s.node.loadVault(id);
        const authority = s.node.authority(id);
        const who = (did: string) => (did === s.identity.did ? { did, name: 'You' } : nameOf(s, did));
        const scopes = (list: readonly string[]) => list.filter(isScope);
        const iso = (ms: number) => new Date(ms).toISOString();
        return {
          vault: refOf(ref),
          owners: authority.owners,
          guardians: authority.guardians.map(who),
          handover: authority.handover === null ? null : { at: iso(authority.handover.at), guardians: authority.handover.guardians },
          protectedScopes: scopes(authority.protectedScopes),
          delegations: s.node.delegations(id).map((d) => ({
            entry: d.entry,
            delegate: who(d.delegate),
            role: d.role === 'emergency' ? ('emergency' as const) : ('guardian' as const),
            expiresAt: d.expires === null ? null : iso(d.expires),
            scopes: scopes(d.scopes),
            waitHours: d.waitMs === null ? null : d.waitMs / 3_600_000,
          })),
          emergencies: s.node.emergencies(id).map((e) => ({ request: e.request, contact: who(e.contact), scopes: scopes(e.scopes), opensAt: iso(e.opensAt), state: e.state })),
          trail: s.node
            .trail(id)
            .reverse()
            .slice(0, 500)
            .map((t) => ({ at: iso(t.at), kind: t.kind, by: who(t.by), about: t.about === null ? null : who(t.about), scopes: scopes(t.scopes) })),
        };
      },
      async addGuardian(vault, did, name) {
        const s = await requireSession();
        const link = await familyLink(s, 'guardian', vault);
        await written(() => s.node.delegate(did as Did, { role: 'guardian', vault: vault as VaultId }));
        if (name !== undefined) await rememberName(did, name);
        emit({ type: 'family' });
        return link;
      },
      async addEmergencyContact(vault, did, { scopes, waitHours, name }) {
        const s = await requireSession();
        const link = await familyLink(s, 'emergency', vault);
        await written(() => s.node.delegate(did as Did, { role: 'emergency', scopes, waitMs: Math.round(waitHours * 3_600_000), vault: vault as VaultId }));
        if (name !== undefined) await rememberName(did, name);
        emit({ type: 'family' });
        return link;
      },
      async removeDelegate(vault, did) {
        const s = await requireSession();
        await written(() => s.node.undelegate(did as Did, { vault: vault as VaultId }));
        emit({ type: 'family' });
      },
      async protect(vault, scopes) {
        const s = await requireSession();
        await written(() => s.node.protect(scopes, { vault: vault as VaultId }));
        emit({ type: 'family' });
      },
      async handover(vault, subject, guardians) {
        const s = await requireSession();
        const link = await familyLink(s, 'handover', vault);
        await written(() => s.node.handover(subject as Did, { guardians, vault: vault as VaultId }));
        const label = s.node.vaults().find((v) => v.vault === vault)?.label;
        if (label) await rememberName(subject, label);
        emit({ type: 'family' });
        return link;
      },
      async useLink(text) {
        const s = await requireSession();
        const link = parseFamilyLink(text);
        const vault = link.vault as VaultId;
        const from = link.from as Did;
        if (link.kind === 'guardian') await written(() => s.node.joinDependent(vault, from, link.address));
        else if (link.kind === 'emergency') await written(() => s.node.followVault(vault, from, link.address));
        else await written(() => s.node.acceptHandover(vault, from, link.address));
        if (link.name !== undefined) await rememberName(from, link.name);
        await rememberPeer(s, vault, link.address);
        emit({ type: 'family' });
        emit({ type: 'records' });
        return { vault, kind: link.kind };
      },
      async requestEmergency(vault, reason) {
        const s = await requireSession();
        const r = await written(() => s.node.requestEmergency(vault as VaultId, reason ?? null));
        emit({ type: 'family' });
        return { opensAt: new Date(r.opensAt).toISOString(), delivered: r.delivered };
      },
      async denyEmergency(request) {
        const s = await requireSession();
        await written(() => s.node.denyEmergency(request as EntryId));
        emit({ type: 'family' });
      },
      async refresh(vault) {
        const s = await requireSession();
        const ref = s.node.vaults().find((v) => v.vault === vault);
        if (!ref) throw new BackendError('NOT_FOUND', 'This device holds no such vault');
        if (ref.kind === 'shared') await written(() => s.node.pull(vault as VaultId));
        else if (ref.kind === 'held') {
          const address = (await peersOf(s)).get(vault);
          if (address !== undefined) {
            await written(() => s.node.exchangeLog(multiaddr(address), vault as VaultId));
            await written(() => s.node.syncScopes(multiaddr(address), { vault: vault as VaultId }));
          }
        }
        emit({ type: 'family' });
        emit({ type: 'records' });
      },
    };
  }

  /** Where each held or followed vault's other device is (from the link it came by), sealed in the vault. */
  async function peersOf(s: Session): Promise<Map<string, string>> {
    const bytes = await s.vault.getSealed(FAMILY_PEERS_KEY);
    const out = new Map<string, string>();
    if (!bytes) return out;
    try {
      const parsed: unknown = JSON.parse(fromUtf8(bytes));
      if (Array.isArray(parsed)) for (const p of parsed) if (Array.isArray(p) && typeof p[0] === 'string' && typeof p[1] === 'string') out.set(p[0], p[1]);
    } catch {
      // Unreadable: the vaults stay; only refreshing them waits for a new link.
    }
    return out;
  }

  async function rememberPeer(s: Session, vault: string, address: string): Promise<void> {
    const peers = await peersOf(s);
    peers.set(vault, address);
    await s.vault.putSealed(FAMILY_PEERS_KEY, utf8(JSON.stringify([...peers].slice(-MAX_NAMES))));
  }

  return backend;

  /**
   * Validates one pushed result like any import (src/records: FHIR R4, scope rules). A Bundle is
   * not a result: exactly one resource is.
   */
  async function checkResult(
    resource: Readonly<Record<string, unknown>>,
  ): Promise<{ ok: true; resource: Record<string, unknown>; scope: Scope } | { ok: false; reason: string; code: string }> {
    if (resource.resourceType === 'Bundle') return { ok: false, reason: 'Send one resource (for example an Observation), not a Bundle', code: 'NOT_ONE_RESOURCE' };
    try {
      const parsed = await parseImport(JSON.stringify(resource), { now: new Date(now()), allowUnverified: true });
      const only = parsed.resources[0];
      if (parsed.resources.length !== 1 || !only) return { ok: false, reason: 'Send exactly one resource', code: 'NOT_ONE_RESOURCE' };
      return { ok: true, resource: only.resource as unknown as Record<string, unknown>, scope: only.scope };
    } catch (e) {
      // The first broken rule in words (shown to whoever sent or reviews this result, never logged).
      if (e instanceof RecordsError) return { ok: false, reason: (e.problems[0] ? `${e.problems[0].message} (${e.problems[0].rule})` : e.message).slice(0, 300), code: e.code };
      throw e;
    }
  }

  async function loadNames(vault: Vault): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    const bytes = await vault.getSealed(NAMES_KEY);
    if (!bytes) return names;
    try {
      const parsed: unknown = JSON.parse(fromUtf8(bytes));
      if (Array.isArray(parsed)) {
        for (const pair of parsed.slice(-MAX_NAMES)) {
          if (Array.isArray(pair) && typeof pair[0] === 'string' && typeof pair[1] === 'string') names.set(pair[0], pair[1].slice(0, MAX_NAME_CHARS));
        }
      }
    } catch {
      // Names are a convenience: unreadable ones are dropped, dids are shown instead.
    }
    return names;
  }

}

/** This device's address through `relay`, for others to dial. */
export function relayedAddress(relay: string, identity: Identity): string {
  return `${relay}/p2p-circuit/p2p/${peerIdOf(identity).toString()}`;
}

function counts(names: readonly string[]): Count[] {
  const map = new Map<string, number>();
  for (const n of names) map.set(n, (map.get(n) ?? 0) + 1);
  return [...map].map(([name, count]) => ({ name, count })).sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
}

function isScope(s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s);
}

function toPeerRequest(p: PendingRequest): PeerRequest {
  const scopes = p.request.scopes.filter(isScope);
  return {
    id: p.id,
    from: p.from,
    name: p.request.name,
    scopes,
    purpose: p.request.purpose,
    expiresInDays: p.request.days,
    ...(p.request.note !== undefined && { note: p.request.note }),
  };
}

/**
 * Every grant in `log` as the UI shows it: the patient sees all of theirs; a provider sees the
 * grants to it. Status from the verified log: live, revoked, expired, or invalid (the log failed
 * verification, or the grant has no effect).
 */
export function grantViews(log: LogVerifier, me: Did, now: number, role: 'patient' | 'provider', names: ReadonlyMap<string, string> = new Map()): GrantView[] {
  const verdict = log.verdict(now);
  const live = new Set(verdict.grants.map((g) => g.entry as string));
  const revoked = new Set<string>();
  const grants: { id: string; author: Did; body: GrantBody; status: string }[] = [];
  for (const e of log.entries()) {
    const id = entryIdOf(e.header, e.signature);
    const entry = log.entry(id);
    if (!entry?.body) continue;
    if (entry.header.type === 'revoke' && entry.status === 'valid') revoked.add((entry.body as RevokeBody).grant);
    if (entry.header.type === 'grant') grants.push({ id, author: entry.header.author, body: entry.body as GrantBody, status: entry.status });
  }
  const subject = verdict.subject ?? grants[0]?.author ?? me;
  // The genesis body reaches every grantee (it says who may act): its label is the patient's name.
  const label = (log.entry(log.vault)?.body as GenesisBody | undefined)?.label ?? undefined;
  return grants
    .filter((g) => role === 'patient' || g.body.grantee === me)
    .map((g) => {
      const status: GrantView['status'] = !verdict.valid || g.status !== 'valid' ? 'invalid' : live.has(g.id) ? 'live' : revoked.has(g.id) ? 'revoked' : g.body.expires !== null && g.body.expires <= now ? 'expired' : 'invalid';
      return {
        id: g.id,
        patient: label ? { did: subject, name: label } : { did: subject },
        grantee: { did: g.body.grantee, name: names.get(g.body.grantee) ?? shortDid(g.body.grantee) },
        scopes: g.body.scopes as Scope[],
        purpose: g.body.purpose,
        expiresAt: g.body.expires === null ? '9999-12-31T00:00:00.000Z' : new Date(g.body.expires).toISOString(),
        sendsResults: g.body.actions.includes('append'),
        status,
      };
    });
}

/**
 * Who holds a shared vault now, from this device's verified copy of its log; undefined when the
 * node cannot say (the vault is being loaded or unloaded): the grants are still listed without it.
 */
function authorityOf(node: { authority(vault: VaultId): { guardians: readonly unknown[]; handover: { at: number; guardians: 'end' | 'read' } | null } }, vault: VaultId): GrantAuthority | undefined {
  try {
    const a = node.authority(vault);
    return { byGuardians: a.guardians.length > 0, handover: a.handover === null ? null : { at: new Date(a.handover.at).toISOString(), guardians: a.handover.guardians } };
  } catch {
    return undefined;
  }
}

function grantView(log: LogVerifier, grantId: EntryId, me: Did, now: number, granteeName: string): GrantView {
  const view = grantViews(log, me, now, 'patient').find((g) => g.id === grantId);
  if (!view) throw new BackendError('FAILED', 'The grant was written but cannot be read back');
  return { ...view, grantee: { did: view.grantee.did, name: granteeName } };
}

/** A party as lists show it: the name it gave, when known. */
function nameOf(s: { readonly names: ReadonlyMap<string, string> }, did: string): { did: string; name?: string } {
  const name = s.names.get(did);
  return name === undefined ? { did } : { did, name };
}

function shortDid(did: string): string {
  return `${did.slice(0, 16)}…${did.slice(-6)}`;
}

function engineError(e: unknown): BackendError {
  if (e instanceof BackendError) return e;
  if (e instanceof SyncError) return new BackendError(e.code === 'DENIED' ? 'DENIED' : 'FAILED', e.message, { cause: e, reason: e.code });
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'NOT_FOUND') return new BackendError('NOT_FOUND', (e as Error).message, { cause: e });
  if (code === 'INVALID_INPUT') return new BackendError('INVALID_INPUT', (e as Error).message, { cause: e });
  // The log's rules refused it (e.g. a guardian and a dependent-only scope): the user may not do this.
  if (code === 'SCOPE_PROTECTED' || code === 'NOT_AUTHORIZED') return new BackendError('DENIED', (e as Error).message, { cause: e, reason: code });
  return new BackendError('FAILED', e instanceof Error ? e.message : 'The engine failed', { cause: e, ...(typeof code === 'string' && { reason: code }) });
}
