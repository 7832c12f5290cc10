import * as Automerge from '@automerge/automerge';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { decodeCanonical, encodeCanonical, generateIdentity, openSealed, randomBytes, sealTo, toBase64Url, utf8, fromUtf8, type Did, type Identity } from '../crypto/index.js';
import {
  GrantsError,
  LogVerifier,
  LogWriter,
  MAX_LIST_ITEMS,
  entryIdOf,
  isScopeName,
  SCOPE_NAMES,
  type DeviceAddBody,
  type DelegateBody,
  type EmergencyAccess,
  type EntryType,
  type BodyOf,
  type GenesisBody,
  type SealedScopeKey,
  type AccessBody,
  type EntryId,
  type GrantBody,
  type GrantPurpose,
  type LiveGrant,
  type RekeyBody,
  type ScopeName,
  type SignedEntry,
  type VaultId,
} from '../grants/index.js';
import {
  DocSync,
  DocumentHandle,
  InviteService,
  MailboxClient,
  slotDocName,
  parseSlotDocName,
  LogSync,
  PeerBans,
  RequestQueue,
  SyncError,
  decodeInvitation,
  invitationDialAddress,
  encodeInvitation,
  newInvitation,
  type AccessMode,
  type DocSession,
  type InvitationBook,
  type Misbehaviour,
  type PendingRequest,
  type ShareRequest,
  type SyncLibp2p,
  type SyncStateStore,
  type SyncTarget,
  type TokenVerdict,
} from '../sync/index.js';
import { NodeError } from './errors.js';
import {
  authorityOf,
  delegationsOf,
  trailOf,
  type Authority,
  type DelegateOptions,
  type Delegation,
  type HandoverOptions,
  type ServedNote,
  type TrailItem,
  type VaultKind,
  type VaultSummary,
} from './families.js';
import { MAX_LOADED_SHARED_VAULTS, REDEEM_PULL_ATTEMPTS } from './constants.js';
import { GrantLogReplica, type ReceiptLimit } from './log-replica.js';
import { INDEX_KEY_EPOCH, openScopeKeys, sealScopeKeys, type RecordsPort, type ScopeKeyExport } from './records-port.js';
import { ScopeTarget } from './scope-target.js';

/** What the engine keeps at rest: src/store's Vault (sealed records) has this shape. */
export interface EngineStore {
  getSealed(key: string): Promise<Uint8Array | undefined>;
  putSealed(key: string, value: Uint8Array): Promise<void>;
  rangeSealed(prefix: string): AsyncIterable<{ key: string; value: Uint8Array }>;
  batchSealed(operations: readonly ({ type: 'put'; key: string; value: Uint8Array } | { type: 'delete'; key: string })[]): Promise<void>;
}

/**
 * How a records store is opened: `own` (this device's own vault: it holds every scope's keys),
 * `held` (a dependent's vault this device acts in as guardian, or one handed over to it: every
 * key sealed to it, kept apart from its own vault), or `shared` (the keys its grants carry).
 */
export type RecordsRole = 'own' | 'held' | 'shared';

/** Options of {@link VaultNode.start}. */
export interface VaultNodeInit {
  /** This device. Its key is also the libp2p node's PeerId. */
  readonly identity: Identity;
  /** The libp2p node (createNodeLibp2p or createBrowserLibp2p with the same identity), started. */
  readonly libp2p: SyncLibp2p;
  /** Where the engine keeps its log copies, invitations and sync states (an unlocked src/store Vault). */
  readonly store: EngineStore;
  /**
   * Opens the records store of a vault: this device's own (`own`: it holds every scope's keys), or
   * one shared with it (`shared`: it holds only the keys its grants carry).
   */
  readonly openRecords: (vault: VaultId, role: RecordsRole, seed?: readonly ScopeKeyExport[]) => Promise<RecordsPort>;
  /** The ban list the libp2p node's gater reads. @default a new one */
  readonly bans?: PeerBans;
  /** @default Date.now */
  readonly now?: () => number;
  /** How many access receipts a grantee may add per window (both as reader and as writer). @default DEFAULT_RECEIPT_LIMIT (12 an hour) */
  readonly receiptLimit?: ReceiptLimit;
  /**
   * How many vaults shared with this device stay loaded (log copy, records, scope documents) at
   * once; idle ones beyond it are unloaded, least recently used first. @default MAX_LOADED_SHARED_VAULTS (64)
   */
  readonly maxLoadedShared?: number;
  /**
   * Unload a shared vault as soon as this device's last grant or delegation there ended (revoked,
   * expired, undelegated) and nothing uses it, instead of when the bound needs room (ended vaults
   * go first then). Its synchronous readers ({@link VaultNode.log}, {@link VaultNode.trail}…) then
   * see it only after {@link VaultNode.loadVault}: a host turns this on once it reads shared vaults
   * through `loadVault`. @default false
   */
  readonly unloadEnded?: boolean;
}

/** What revoking did; `notice` is what a UI must show. */
export interface RevokeResult {
  readonly revoked: EntryId;
  /** Scopes whose key was rotated, with the new epoch. */
  readonly rotated: readonly { scope: ScopeName; epoch: number }[];
  /**
   * Entries that carried the new keys: a `rekey` per remaining live grant, a fresh `delegate`
   * per other live guardian and emergency contact of those scopes (families), and a `device.add`
   * per other owner device.
   */
  readonly rekeyed: readonly EntryId[];
  /** Slots of the revoked party dropped at relays this device deposited at. */
  readonly droppedAtRelays: number;
  /** Streams of the revoked party ended at once. */
  readonly streamsEnded: number;
  readonly notice: string;
}

/** Said wherever a revocation is offered (ARCHITECTURE.md "Threats"). */
export const COPIED_DATA_NOTICE =
  'Revoking stops all further sharing and new records are sealed under a new key, but what this party already copied cannot be recalled.';

/** One access receipt, as the patient reads it. */
export interface AccessReceipt {
  readonly entry: EntryId;
  readonly by: Did;
  readonly grant: EntryId;
  readonly scope: ScopeName;
  readonly heads: readonly string[];
  readonly at: number;
}

/** A result a provider pushed, waiting for the patient. */
export interface InboxItem {
  readonly id: string;
  readonly from: Did;
  readonly resource: Record<string, unknown>;
}

/** A vault shared with this device. */
export interface SharedVault {
  readonly vault: VaultId;
  readonly patient: Did;
  readonly address: string;
}

/** What one pull did. */
export interface PullResult {
  readonly vault: VaultId;
  readonly scopes: readonly ScopeName[];
  readonly receipts: readonly EntryId[];
  readonly sessions: readonly DocSession[];
}

/** See {@link VaultNode.syncStatus}. */
export interface SyncStatus {
  readonly sessions: readonly { remote: Did; vault: string; doc: string; role: 'dialer' | 'listener' }[];
  readonly peers: readonly string[];
  readonly bans: readonly { peer: string; reason: string; until: number }[];
  readonly misbehaviour: readonly Misbehaviour[];
  /** Forks of signed tree heads held as proof. */
  readonly forks: readonly { vault: VaultId; signer: Did; size: number }[];
}

/**
 * Engine events (a `CustomEvent` each). Families: `delegation` ({@link DelegationEvent}),
 * `handover` ({@link HandoverEvent}: also on a provider's node when the log brings it),
 * `protected` ({@link ProtectedEvent}), `emergency` ({@link EmergencyEvent}: a contact's request
 * the patient may deny during the wait, or its denial). Each is fired for entries this device
 * writes (`origin: 'local'`) and for entries that reach it through log sync (`origin: 'peer'`).
 */
export type VaultNodeEvent = 'request' | 'granted' | 'revoked' | 'received' | 'misbehaviour' | 'log' | 'delegation' | 'handover' | 'protected' | 'emergency' | 'unloaded';

const OWN = 'engine/own';
/** Every scope, sorted (the order keys are sealed in). */
const SCOPES_IN_ORDER: readonly ScopeName[] = [...SCOPE_NAMES].sort();
const LOG = 'engine/log/';
const SHARED = 'engine/shared/';
const INVITE = 'engine/invite/';
const SYNC = 'engine/sync/';
/** When each remote last synced: `engine/sync-seen/<did>` (outside SYNC, so a range of one remote's states never meets it). */
const SYNC_SEEN = 'engine/sync-seen/';
/** Sync states of a remote not seen for this long are deleted at start (a later session starts afresh). */
const SYNC_STATE_MAX_AGE_MS = 90 * 86_400_000;
/** A remote's last-seen time is rewritten at most this often. */
const SYNC_SEEN_RESOLUTION_MS = 86_400_000;
const INBOX = 'engine/inbox/';
/** Receipts this device skipped for the receipt limit, to write once it allows: `engine/receipt-due/<vault>/<grant>/<scope>`. */
const RECEIPT_DUE = 'engine/receipt-due/';
/** The earliest a timer retries skipped receipts (a clock running backwards must not spin it). */
const RECEIPT_RETRY_MIN_MS = 1_000;
const HELD = 'engine/held/';
const SERVED = 'engine/served/';
/** One served-to-an-emergency-contact note per (contact, vault, scope) at most this often. */
const SERVED_NOTE_INTERVAL_MS = 60_000;
/** Consumed invitation tokens whose request is not queued yet, at most (they are queued within microseconds). */
const MAX_UNQUEUED_REDEMPTIONS = 256;
/** A consumed token's request not queued within this is dropped from that list (its redemption failed). */
const UNQUEUED_REDEMPTION_MS = 60_000;
/** Doc-protocol name of a provider's inbox at the patient: `inbox/<provider did>`. */
const INBOX_DOC = 'inbox/';

/** Associated data of an inbox item: it opens only as that item of that provider's inbox of that vault. */
function inboxAd(vault: string, from: Did, id: string): Uint8Array {
  return utf8(`patient-vault/inbox/v1/${vault}/${from}/${id}`);
}

/**
 * The vault engine one device runs, in Node and in the browser: it composes src/grants (the log,
 * verified on every receipt), the records store (scope documents and keys), src/sync (doc, log and
 * invite protocols) and src/store (everything kept sealed). The patient's side creates its vault,
 * invites, approves, grants, revokes (rotating keys and re-sealing them to the remaining grantees)
 * and reads the access trail; a provider's side redeems invitations, pulls what it was granted
 * (writing a signed `access` receipt for each pull) and keeps a verified copy of the log.
 * Events: see {@link VaultNodeEvent}; `unloaded` ({ vault }) when a shared vault left memory (a
 * holder of its records store should drop it too: the engine opens it again when needed).
 *
 * Memory: this device's own vault and the dependents' vaults it holds stay loaded; vaults shared
 * with it are loaded on demand and unloaded when idle beyond {@link VaultNodeInit.maxLoadedShared}
 * (those where this device's last grant or delegation ended first; at once with
 * {@link VaultNodeInit.unloadEnded}).
 */
export class VaultNode extends EventTarget {
  readonly identity: Identity;
  readonly libp2p: SyncLibp2p;
  private readonly store: EngineStore;
  private readonly openRecords: VaultNodeInit['openRecords'];
  private readonly now: () => number;
  private readonly bans: PeerBans;
  private readonly replica: GrantLogReplica;
  private readonly writers = new Map<string, LogWriter>();
  private readonly logCounters = new Map<string, number>();
  private readonly records = new Map<string, Promise<RecordsPort>>();
  private readonly targets = new Map<string, Promise<ScopeTarget>>();
  private readonly shared = new Map<string, SharedVault>();
  private readonly indexKeys = new Map<string, Map<ScopeName, Uint8Array>>();
  private readonly queue = new RequestQueue();
  readonly docs: DocSync;
  readonly logs: LogSync;
  readonly invites: InviteService;
  private own: VaultId | undefined;
  /** Vaults this device acts in beside its own (dependents' vaults), with their genesis labels. */
  private readonly held = new Map<string, { vault: VaultId; label: string | null }>();
  /**
   * Tokens consumed whose request is not queued yet, oldest first: the invite service queues the
   * request right after `consume` answers, with the same `now`. Matched by remote and that time,
   * first in first out — never by remote alone, so two redemptions by one peer for different
   * vaults cannot swap. Bounded ({@link MAX_UNQUEUED_REDEMPTIONS}, and aged out).
   */
  private readonly redeemed: { remote: Did; at: number; vault: VaultId }[] = [];
  /** Consumptions running, by token: a second one of the same token waits for the first. */
  private readonly consuming = new Map<string, Promise<TokenVerdict>>();
  /** The vault of each queued request (dropped when it is decided). */
  private readonly requestVault = new Map<string, VaultId>();
  /** Servings to emergency contacts, per vault (kept in the store). */
  private readonly served = new Map<string, ServedNote[]>();
  private readonly servedLast = new Map<string, number>();
  private readonly savingNotes = new Set<Promise<void>>();
  /** When each remote last synced (as kept under SYNC_SEEN). */
  private readonly syncSeen = new Map<Did, number>();
  /** Relays this device deposited at (to drop a revoked party's slots there). */
  private readonly relays = new Map<string, Multiaddr>();
  private readonly mailbox: MailboxClient;
  /** Inbox documents by `<vault>/<provider did>`. */
  private readonly inboxes = new Map<string, { vault: VaultId; from: Did; doc: DocumentHandle<Record<string, Uint8Array>> }>();
  private readonly maxLoadedShared: number;
  private readonly unloadEnded: boolean;
  /** Shared vaults whose log copy is in memory, least recently used first. */
  private readonly loadedShared = new Map<string, true>();
  /** Loads of shared vaults running: concurrent asks for one vault share one. */
  private readonly loading = new Map<string, Promise<boolean>>();
  /** Unloads running (a load of the same vault waits for its documents to be written). */
  private readonly unloading = new Map<string, Promise<void>>();
  /** Engine operations using a shared vault now: it is not unloaded under them. */
  private readonly pins = new Map<string, number>();
  /** When this device's standing in each loaded shared vault may next change by time alone (a grant expiring). */
  private readonly accessUntil = new Map<string, number>();
  /** What {@link vaults} and {@link syncStatus} show of an unloaded shared vault, as of its unload. */
  private readonly summaries = new Map<string, { summary: VaultSummary; until: number; forks: SyncStatus['forks'] }>();
  private evicting: Promise<void> | undefined;
  /** Receipts skipped for the receipt limit, newest heads per `<vault>/<grant>/<scope>` (kept under RECEIPT_DUE). */
  private readonly dueReceipts = new Map<string, { vault: VaultId; grant: EntryId; scope: ScopeName; heads: string[]; notBefore?: number }>();
  private receiptTimer: ReturnType<typeof setTimeout> | undefined;
  /** The receipt being decided now (see writeReceipt). */
  private receipting: Promise<void> = Promise.resolve();
  private stopped = false;

  private constructor(init: VaultNodeInit, replica: GrantLogReplica) {
    super();
    this.identity = init.identity;
    this.libp2p = init.libp2p;
    this.store = init.store;
    this.openRecords = init.openRecords;
    this.now = init.now ?? Date.now;
    this.bans = init.bans ?? new PeerBans();
    this.replica = replica;
    this.maxLoadedShared = init.maxLoadedShared ?? MAX_LOADED_SHARED_VAULTS;
    this.unloadEnded = init.unloadEnded ?? false;
    if (!Number.isSafeInteger(this.maxLoadedShared) || this.maxLoadedShared < 1) throw new NodeError('INVALID_INPUT', '"maxLoadedShared" expected an integer ≥ 1');
    const host = { host: init.libp2p, bans: this.bans };
    this.docs = new DocSync(host, {
      authorize: (remote, vault, doc) => this.authorize(remote, vault, doc),
      resolve: (vault, doc) => this.resolveTarget(vault, doc),
      syncStates: this.syncStates(),
      onReceived: (event) => this.emit('received', event),
    });
    this.logs = new LogSync(host, { replica, onMisbehaviour: (m: Misbehaviour) => this.emit('misbehaviour', m), onExchange: (r) => this.emit('log', r) });
    this.invites = new InviteService(host, { book: this.invitationBook(), queue: this.queue, now: this.now });
    this.mailbox = new MailboxClient({ host: init.libp2p });
    this.queue.addEventListener('request', (e) => {
      const pending = (e as CustomEvent<PendingRequest>).detail;
      // The queue fires this inside the redemption, just after the token was consumed (same remote, same `now`).
      const at = this.redeemed.findIndex((r) => r.remote === pending.from && r.at === pending.at);
      if (at >= 0) {
        this.requestVault.set(pending.id, this.redeemed[at]!.vault);
        this.redeemed.splice(at, 1);
      }
      this.emit('request', pending);
    });
    // However a request ends (approved, denied), its vault is forgotten with it.
    this.queue.addEventListener('decided', (e) => this.requestVault.delete((e as CustomEvent<{ id: string }>).detail.id));
  }

  /** Starts the engine: loads the logs and shared vaults it keeps, registers the protocols. */
  static async start(init: VaultNodeInit): Promise<VaultNode> {
    const holder: { node?: VaultNode } = {};
    const replica = new GrantLogReplica({
      identity: init.identity,
      ...(init.now ? { now: init.now } : {}),
      ...(init.receiptLimit ? { receiptLimit: init.receiptLimit } : {}),
      onAdded: async (vault, entries) => {
        await holder.node!.persistEntries(vault, entries);
        await holder.node!.noticeEntries(vault, entries, 'peer');
      },
      // Shared vaults unloaded when idle come back when a peer exchanges their log.
      load: (vault) => holder.node!.loadShared(vault),
      onUse: (vault) => holder.node!.touch(vault),
    });
    const node = new VaultNode(init, replica);
    holder.node = node;
    await node.load();
    await node.pruneSyncStates();
    await node.docs.start();
    await node.logs.start();
    await node.invites.start();
    node.scheduleDueReceipts();
    return node;
  }

  /** Stops the protocols (the libp2p node is the caller's) and flushes scope documents. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.receiptTimer !== undefined) clearTimeout(this.receiptTimer);
    await this.docs.stop();
    await this.logs.stop();
    await this.invites.stop();
    for (const target of this.targets.values()) await (await target).flush().catch(() => undefined);
    await Promise.all([...this.unloading.values(), ...this.savingNotes]);
  }

  // ---------------------------------------------------------------------------------------------
  // The patient's side

  /** This device's own vault, if it has one. */
  get vault(): VaultId | undefined {
    return this.own;
  }

  /** Creates this device's vault (its genesis entry). */
  async createVault(label: string | null = null): Promise<VaultId> {
    if (this.own) throw new NodeError('INVALID_INPUT', 'this device already has a vault');
    const { writer, vault, genesis } = await LogWriter.createVault(this.identity, { subject: this.identity.did, devices: [this.identity.did], delegates: [], label }, this.now());
    this.writers.set(vault, writer);
    this.replica.track(writer.log);
    this.own = vault;
    await this.store.putSealed(OWN, utf8(vault));
    await this.persistEntries(vault, [genesis]);
    return vault;
  }

  /** The records of this device's vault. */
  async ownRecords(): Promise<RecordsPort> {
    return this.recordsOf(this.requireOwn());
  }

  /**
   * Runs a local edit of the vault's records (import, move, resolve) and hands the changed
   * scope documents to the sync sessions.
   */
  async editRecords<T>(scopes: readonly ScopeName[], edit: (records: RecordsPort) => Promise<T>, options: { vault?: VaultId } = {}): Promise<T> {
    const vault = this.actingVault(options.vault);
    // A guardian whose authority ended (or that is read-only, or facing a dependent-only scope)
    // writes nothing: it could not share it, and its edits must not reach anyone through it.
    const refused = scopes.filter((scope) => !this.writesIn(vault, scope));
    if (refused.length > 0) throw new NodeError('NOT_AUTHORIZED', `this device may not write ${refused.join(', ')} of that vault now`);
    const result = await edit(await this.recordsOf(vault));
    for (const scope of scopes) {
      const target = this.targets.get(`${vault}/${scope}`);
      if (target) await (await target).refresh();
    }
    return result;
  }

  /**
   * A one-time invitation (a `pvault:` string for a QR code or a link) reaching this device at
   * `address`, for this device's own vault or (`vault`) a dependent's vault it holds: approving
   * the request it brings grants in that vault.
   */
  async invite(address: string, options: { ttlMs?: number; vault?: VaultId } = {}): Promise<string> {
    const vault = this.actingVault(options.vault);
    const invitation = newInvitation(this.identity.did, address, { now: this.now(), ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}) });
    await this.store.putSealed(`${INVITE}${toBase64Url(invitation.token)}`, encodeCanonical({ expires: invitation.expires, usedBy: null, vault }));
    return encodeInvitation(invitation);
  }

  /** Requests waiting for the patient. */
  pendingRequests(): PendingRequest[] {
    return this.queue.pending();
  }

  /**
   * Approves a request: grants what it asked (or what `edit` says) and answers the requester.
   * `append: true` writes the one grant with the `append` action too (the provider may then push
   * results into its inbox here).
   */
  async approve(requestId: string, edit: { scopes?: readonly ScopeName[]; days?: number; purpose?: GrantPurpose; append?: boolean } = {}): Promise<EntryId> {
    const request = this.queue.get(requestId);
    if (!request) throw new NodeError('NOT_FOUND', 'no such request is waiting');
    const scopes = edit.scopes ?? request.request.scopes.filter(isScopeName);
    const days = edit.days ?? request.request.days;
    const expires = this.now() + days * 86_400_000;
    const vault = this.requestVault.get(requestId) ?? this.requireOwn();
    const grant = await this.grant(request.from, { scopes, purpose: edit.purpose ?? request.request.purpose, expires, vault, ...(edit.append === true ? { append: true } : {}) });
    this.queue.approve(requestId, { vault, grant, scopes: [...scopes], expires });
    return grant;
  }

  /** Denies a request. */
  deny(requestId: string): void {
    this.queue.deny(requestId);
  }

  /**
   * Grants `grantee` read access to `scopes`, sealing each scope's keys to it: in this device's own
   * vault, or (`vault`) a dependent's vault it holds as guardian (the grant is signed with this
   * device's key and verified by providers through the guardian's delegation). A guardian cannot
   * share a dependent-only scope (SCOPE_PROTECTED); a device without authority there gets NOT_AUTHORIZED.
   */
  async grant(grantee: Did, options: { scopes: readonly ScopeName[]; purpose: GrantPurpose; expires: number | null; append?: boolean; vault?: VaultId }): Promise<EntryId> {
    const vault = this.actingVault(options.vault);
    if (options.scopes.length === 0) throw new NodeError('INVALID_INPUT', 'a grant needs at least one scope');
    const scopes = [...new Set(options.scopes)].sort();
    this.refuseProtected(vault, scopes);
    const records = await this.recordsOf(vault);
    const keys = (await Promise.all(scopes.map((scope) => sealScopeKeys(grantee, vault, records.exportScopeKeys(scope))))).flat();
    keys.sort((a, b) => (a.scope === b.scope ? a.epoch - b.epoch : a.scope < b.scope ? -1 : 1));
    // 'append' lets the grantee push results into its inbox for this patient (never into a scope).
    const body: GrantBody = { grantee, scopes, actions: options.append === true ? ['append', 'read'] : ['read'], purpose: options.purpose, expires: options.expires, keys };
    const entry = await this.write(vault, 'grant', body);
    this.emit('granted', { vault, grant: entry.id, grantee, scopes });
    return entry.id;
  }

  /**
   * Revokes a grant: writes the `revoke` entry, rotates the key of each of its scopes and seals
   * the new epoch to every remaining live grantee of that scope (`rekey`), and ends the revoked
   * party's streams at once. What it already copied cannot be recalled ({@link COPIED_DATA_NOTICE}).
   */
  async revoke(grant: EntryId, reason: string | null = null): Promise<RevokeResult> {
    // The vault is the one (own or held) whose log holds the grant: entry ids are unique hashes.
    const vault = this.actingVaults().find((v) => this.replica.log(v)?.entry(grant)?.header.type === 'grant');
    if (vault === undefined) throw new NodeError('NOT_FOUND', `no grant ${grant} in a vault this device acts in`);
    const writer = this.writerOf(vault);
    const found = writer.log.entry(grant);
    if (!found || found.body === undefined) throw new NodeError('NOT_FOUND', `no grant ${grant} in this vault`);
    const body = found.body as GrantBody;
    const revoke = await this.write(vault, 'revoke', { grant, reason });
    const streamsEnded = await this.docs.reauthorize((s) => s.vault === vault && s.remote === body.grantee);
    await this.forgetSyncStates(body.grantee, vault, body.scopes);
    const records = await this.recordsOf(vault);
    const rotated: { scope: ScopeName; epoch: number }[] = [];
    const rekeyed: EntryId[] = [];
    for (const scope of body.scopes) rotated.push({ scope, epoch: await records.rotateScopeKey(scope) });
    for (const live of this.liveGrants(vault)) {
      const scopes = live.scopes.filter((s) => body.scopes.includes(s));
      if (scopes.length === 0) continue;
      const keys = (
        await Promise.all(scopes.map((scope) => sealScopeKeys(live.grantee, vault, records.exportScopeKeys(scope, [rotated.find((r) => r.scope === scope)!.epoch]), { withIndexKey: false })))
      ).flat();
      const rekey: RekeyBody = { grant: live.entry, keys };
      const entry = await this.write(vault, 'rekey', rekey);
      rekeyed.push(entry.id);
    }
    // Co-guardians and emergency contacts hold the scope keys through their delegations: they get
    // the new epochs the same way (a fresh delegation with the same terms), or they could not open
    // what is written from now on.
    rekeyed.push(...(await this.redelegate(vault, rotated)));
    let droppedAtRelays = 0;
    for (const relay of this.relays.values()) {
      for (const name of [...body.scopes, 'log']) {
        const doc = slotDocName({ depositor: this.identity.did, recipient: body.grantee, name });
        droppedAtRelays += (await this.mailbox.drop(relay, vault, doc).catch(() => false)) ? 1 : 0;
      }
    }
    this.emit('revoked', { vault, grant, grantee: body.grantee });
    return { revoked: revoke.id, rotated, rekeyed, streamsEnded, droppedAtRelays, notice: COPIED_DATA_NOTICE };
  }

  /** Live grants of this device's own vault now, or of a dependent's vault it holds (`vault`). */
  liveGrants(vault?: VaultId): LiveGrant[] {
    return [...this.writerOf(this.actingVault(vault)).log.verdict(this.now()).grants];
  }

  /** Every access receipt providers wrote into this vault's log, oldest first. */
  accessTrail(vault: VaultId = this.requireOwn()): AccessReceipt[] {
    const log = this.replica.log(vault);
    if (!log) return [];
    const out: AccessReceipt[] = [];
    for (const e of log.entries()) {
      const id = entryIdOf(e.header, e.signature);
      const entry = log.entry(id);
      if (!entry || entry.header.type !== 'access' || entry.body === undefined || entry.status !== 'valid') continue;
      const body = entry.body as AccessBody;
      out.push({ entry: id, by: entry.header.author, grant: body.grant, scope: body.scope, heads: body.heads, at: entry.header.ts });
    }
    return out.sort((a, b) => a.at - b.at);
  }

  /** The log copy of `vault` (own, held, or shared and loaded now: see {@link loadVault}). */
  log(vault: VaultId): LogVerifier | undefined {
    return this.replica.log(vault);
  }

  /** Pushes this vault's log to `peer` (and takes what it has: receipts). */
  async exchangeLog(peer: Multiaddr | Multiaddr[], vault: VaultId = this.requireOwn()): Promise<void> {
    await this.logs.exchange(peer, vault);
  }

  /**
   * Joins another device of the patient to this vault: a `device.add` entry carrying every scope's
   * keys sealed to it. The new device then calls {@link join}.
   */
  async addDevice(device: Did, label: string | null = null): Promise<EntryId> {
    const vault = this.requireOwn();
    const records = await this.recordsOf(vault);
    const scopes = SCOPES_IN_ORDER;
    const keys = (await Promise.all(scopes.map((scope) => sealScopeKeys(device, vault, records.exportScopeKeys(scope))))).flat();
    keys.sort((a, b) => (a.scope === b.scope ? a.epoch - b.epoch : a.scope < b.scope ? -1 : 1));
    const entry = await this.replica.exclusive(vault, () => this.writerOf(vault).append(this.identity, 'device.add', { device, label, keys }, { ts: this.now() }));
    await this.noteWritten(vault, [entry]);
    return entry.id;
  }

  /**
   * On a new device of the patient: takes the vault's log from the device at `address` (it must
   * have run {@link addDevice} for this one), opens the keys sealed to it, and syncs every scope
   * both ways. From then on this device owns the vault like the first.
   */
  async join(vault: VaultId, patient: Did, address: string): Promise<void> {
    if (this.own && this.own !== vault) throw new NodeError('INVALID_INPUT', 'this device already has another vault');
    if (!this.replica.log(vault)) this.replica.track(new LogVerifier({ vault }), [patient]);
    const peer = multiaddr(address);
    await this.syncFailure(() => this.logs.exchange(peer, vault));
    const log = this.replica.log(vault)!;
    const sealed = [];
    for (const e of log.entries()) {
      const entry = log.entry(entryIdOf(e.header, e.signature));
      if (entry?.body && entry.status === 'valid' && entry.header.type === 'device.add' && (entry.body as DeviceAddBody).device === this.identity.did) sealed.push(...(entry.body as DeviceAddBody).keys);
    }
    const known = new Map<ScopeName, Uint8Array>();
    for (const box of await openScopeKeys(this.identity, vault, sealed.filter((k) => k.epoch === INDEX_KEY_EPOCH), known)) known.set(box.scope, box.indexKey);
    const exported = await openScopeKeys(this.identity, vault, sealed, known);
    if (exported.length === 0) throw new NodeError('NOT_AUTHORIZED', 'no device.add entry names this device');
    this.own = vault;
    await this.store.putSealed(OWN, utf8(vault));
    if (!this.records.has(vault)) this.records.set(vault, this.openRecords(vault, 'own', exported));
    await this.syncScopes(peer);
  }

  /**
   * Syncs every scope of this vault both ways with another device of the patient at `peer` — or of
   * a dependent's vault (`vault`) with a co-guardian's device or the dependent's. Scopes this
   * device's verified log copy does not entitle it to (a dependent-only scope for a guardian) are
   * skipped; the peer's gate checks the same on its own copy.
   */
  async syncScopes(peer: Multiaddr, options: { live?: boolean; vault?: VaultId } = {}): Promise<DocSession[]> {
    const vault = this.actingVault(options.vault);
    const records = await this.recordsOf(vault);
    const sessions: DocSession[] = [];
    const log = this.replica.log(vault)!;
    const now = this.now();
    for (const scope of SCOPES_IN_ORDER) {
      if (!log.entitlement(this.identity.did, scope, now).entitled) continue;
      const target = await this.targetOf(vault, scope, records);
      const session = await this.syncFailure(() => this.docs.sync(peer, { vault, doc: scope, target, live: options.live ?? false }));
      await session.synced();
      await target.flush();
      sessions.push(session);
    }
    return sessions;
  }

  /** What sync is doing now: sessions, connected peers, banned peers, recorded misbehaviour, forks. */
  syncStatus(): SyncStatus {
    const vaults = [...(this.own ? [this.own] : []), ...this.held.keys(), ...this.shared.keys()] as VaultId[];
    return {
      sessions: this.docs.sessions().map((s) => ({ remote: s.remote, vault: s.vault, doc: s.doc, role: s.role })),
      peers: this.libp2p.getPeers().map((p) => p.toString()),
      bans: this.bans.list(),
      misbehaviour: this.logs.recorded(),
      forks: vaults.flatMap((vault) => (this.replica.log(vault) ? this.replica.forks(vault).map((f) => ({ vault, signer: f.signer, size: f.size })) : (this.summaries.get(vault)?.forks ?? []))),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Store and forward through a relay

  /**
   * Leaves at `relay`, for every live grantee of this vault, each granted scope document and the
   * log entries it may read (bodies per entitlement), so it can pull them while this device is
   * offline. The relay receives sealed documents only and cannot change ours (`accept: false`).
   * Returns the slots written.
   */
  async deposit(relay: Multiaddr): Promise<number> {
    const vault = this.requireOwn();
    this.relays.set(relay.toString(), relay);
    const log = this.writerOf(vault).log;
    const records = await this.recordsOf(vault);
    let slots = 0;
    const grantees = new Map<Did, Set<ScopeName>>();
    for (const g of this.liveGrants()) for (const scope of g.scopes) (grantees.get(g.grantee) ?? grantees.set(g.grantee, new Set()).get(g.grantee)!).add(scope);
    for (const [grantee, scopes] of grantees) {
      for (const scope of [...scopes].sort()) {
        const target = await this.targetOf(vault, scope, records);
        const session = await this.syncFailure(() => this.docs.sync(relay, { vault, doc: slotDocName({ depositor: this.identity.did, recipient: grantee, name: scope }), target, accept: false }));
        await session.synced();
        slots++;
      }
      await this.depositEntries(relay, vault, grantee, log.entries({ for: grantee, now: this.now() }));
      slots++;
    }
    return slots;
  }

  /**
   * Takes what waits for this device at `relay`: log entries (verified like any others) and scope
   * documents of vaults shared with it; writes an access receipt for each scope pulled and leaves
   * the receipts at the relay for the patient. Returns the scopes pulled per vault.
   */
  async collect(relay: Multiaddr): Promise<{ vault: VaultId; scopes: ScopeName[]; entries: number }[]> {
    this.relays.set(relay.toString(), relay);
    const slots = await this.syncFailure(() => this.mailbox.list(relay));
    const byVault = new Map<VaultId, { depositor: Did; scopes: ScopeName[]; log: boolean }>();
    for (const slot of slots) {
      const address = parseSlotDocName(slot.doc);
      if (!address || address.recipient !== this.identity.did || (!this.replica.log(slot.vault) && !this.shared.has(slot.vault))) continue;
      const item = byVault.get(slot.vault as VaultId) ?? { depositor: address.depositor, scopes: [], log: false };
      if (address.name === 'log') item.log = true;
      else if (isScopeName(address.name)) item.scopes.push(address.name);
      byVault.set(slot.vault as VaultId, item);
    }
    const out: { vault: VaultId; scopes: ScopeName[]; entries: number }[] = [];
    for (const [vault, item] of byVault) out.push(await this.withVault(vault, () => this.collectVault(relay, vault, item)));
    return out;
  }

  /** {@link collect} of one vault (loaded). */
  private async collectVault(relay: Multiaddr, vault: VaultId, item: { depositor: Did; scopes: ScopeName[]; log: boolean }): Promise<{ vault: VaultId; scopes: ScopeName[]; entries: number }> {
    let entries = 0;
    if (item.log) entries = await this.collectEntries(relay, vault, item.depositor);
    const log = this.replica.log(vault)!;
    const pulled: ScopeName[] = [];
    if (vault !== this.own) {
      await this.importKeys(vault, log);
      const mine = log.verdict(this.now()).grants.filter((g) => g.grantee === this.identity.did);
      const records = await this.recordsOf(vault);
      const receipts: SignedEntry[] = [];
      for (const scope of item.scopes.sort()) {
        const grant = mine.find((g) => g.scopes.includes(scope));
        if (!grant) continue;
        const target = await this.targetOf(vault, scope, records);
        const session = await this.syncFailure(() => this.docs.sync(relay, { vault, doc: slotDocName({ depositor: item.depositor, recipient: this.identity.did, name: scope }), target }));
        await session.synced();
        await target.flush();
        pulled.push(scope);
        const receipt = await this.writeReceipt(vault, grant.entry, scope, headsOf(target));
        if (receipt) receipts.push(receipt);
      }
      // The patient reads its receipts from the relay later: everything this device wrote.
      const own = log.entries().filter((e) => log.entry(entryIdOf(e.header, e.signature))?.header.author === this.identity.did);
      if (own.length > 0) await this.depositEntries(relay, vault, item.depositor, own);
    }
    return { vault, scopes: pulled, entries };
  }

  private async depositEntries(relay: Multiaddr, vault: VaultId, recipient: Did, entries: readonly SignedEntry[]): Promise<void> {
    // Entries sit at the root under their ids: documents deposited at different times (by fresh
    // actors) then merge key by key at the relay, where one shared container would conflict.
    const handle = new DocumentHandle<Record<string, Uint8Array>>();
    handle.change((d) => {
      for (const entry of entries) d[entryIdOf(entry.header, entry.signature)] = encodeCanonical(entry.body === undefined ? { header: entry.header, signature: entry.signature } : { ...entry });
    });
    const doc = slotDocName({ depositor: this.identity.did, recipient, name: 'log' });
    const session = await this.syncFailure(() => this.docs.sync(relay, { vault, doc, target: handle, accept: false }));
    await session.synced();
  }

  private async collectEntries(relay: Multiaddr, vault: VaultId, depositor: Did): Promise<number> {
    const handle = new DocumentHandle<Record<string, Uint8Array>>();
    const session = await this.syncFailure(() => this.docs.sync(relay, { vault, doc: slotDocName({ depositor, recipient: this.identity.did, name: 'log' }), target: handle }));
    await session.synced();
    const entries: SignedEntry[] = [];
    for (const bytes of Object.values(handle.current())) {
      try {
        const e = decodeCanonical(bytes) as { header: Uint8Array; signature: Uint8Array; body?: Uint8Array };
        entries.push(e.body === undefined ? { header: e.header, signature: e.signature } : { header: e.header, signature: e.signature, body: e.body });
      } catch {
        // Not an entry: the verifier below would refuse it as well; skip it.
      }
    }
    const verdict = await this.replica.receive(depositor, vault, entries);
    if (!verdict.ok) this.emit('misbehaviour', { remote: depositor, vault, code: verdict.code, detail: verdict.detail, via: 'relay' });
    return entries.length;
  }

  // ---------------------------------------------------------------------------------------------
  // Families (issue 8): dependents' vaults, delegations, handover, dependent-only scopes, emergency
  // access. The rules are src/grants' (docs/log-format.md "Families"); docs/families.md says how
  // the engine uses them.

  /**
   * Creates a dependent's vault (a child, or an elderly parent who asks for help) held on this
   * device beside its own: the dependent is the vault's subject and this device acts in it as the
   * first guardian, with its own key, under the delegation the genesis names (until `expires`).
   * Without `subject` the dependent gets a placeholder identity whose secret key is dropped at
   * once: nobody acts as that subject, and the handover later names the dependent's real one.
   * The vault's records live in their own store (`openRecords(vault, 'held')`). Pass the returned
   * id as `vault` to the other methods to act in it.
   */
  async createDependentVault(options: { label?: string | null; subject?: Did; expires?: number | null } = {}): Promise<VaultId> {
    const subject = options.subject ?? generateIdentity().did;
    if (subject === this.identity.did) throw new NodeError('INVALID_INPUT', 'a guardian cannot be the subject of the dependent\u2019s vault');
    const body: GenesisBody = { subject, devices: [], delegates: [{ delegate: this.identity.did, role: 'guardian', expires: options.expires ?? null }], label: options.label ?? null };
    let created: Awaited<ReturnType<typeof LogWriter.createVault>>;
    try {
      created = await LogWriter.createVault(this.identity, body, this.now());
    } catch (error) {
      throw asNodeError(error, 'genesis');
    }
    const { writer, vault, genesis } = created;
    this.writers.set(vault, writer);
    this.replica.track(writer.log);
    await this.keepHeld(vault, body.label);
    await this.persistEntries(vault, [genesis]);
    await this.recordsOf(vault); // makes the scope keys now, before anyone is delegated
    return vault;
  }

  /**
   * On a second guardian's device: takes the dependent's vault from the device at `address` (whose
   * key is `from`; it must have delegated this device with {@link delegate}), opens the scope
   * keys sealed to it in its delegation, and syncs the scopes it may hold. From then on this
   * device acts in the vault on its own, with its own key.
   */
  async joinDependent(vault: VaultId, from: Did, address: string): Promise<void> {
    if (vault === this.own || this.held.has(vault)) throw new NodeError('INVALID_INPUT', 'this device already holds that vault');
    const peer = dialAddress(address);
    if (!this.replica.log(vault)) this.replica.track(new LogVerifier({ vault }), [from]);
    await this.syncFailure(() => this.logs.exchange(peer, vault));
    const log = this.replica.log(vault)!;
    if (!delegationsOf(log, this.now()).some((d) => d.delegate === this.identity.did && d.role === 'guardian')) {
      throw new NodeError('NOT_AUTHORIZED', 'no live guardian delegation names this device in that vault');
    }
    const exported = await this.openSealedToMe(vault, log, ['delegate']);
    if (exported.length === 0) throw new NodeError('NOT_AUTHORIZED', 'no scope key is sealed to this device in that vault');
    await this.keepHeld(vault, genesisLabel(log));
    this.records.set(vault, this.openRecords(vault, 'held', exported));
    await this.syncScopes(peer, { vault });
  }

  /**
   * Names a guardian (role 'guardian', optional expiry) or an emergency contact (role
   * 'emergency': the scopes it may ask for and the wait before access opens) in this device's
   * own vault or a dependent's vault it holds. The scope keys travel sealed in the delegation: a
   * guardian gets every scope's keys except dependent-only ones; a contact gets its scopes' keys at
   * once, so access can open while the patient is unreachable (the sync gate still refuses it
   * until the wait ends undenied). Returns the `delegate` entry.
   */
  async delegate(delegate: Did, options: DelegateOptions): Promise<EntryId> {
    const vault = this.actingVault(options.vault);
    if (delegate === this.identity.did) throw new NodeError('INVALID_INPUT', 'a device cannot delegate to itself');
    let scopes: ScopeName[] = [];
    let wait: number | null = null;
    let keyScopes: ScopeName[];
    if (options.role === 'guardian') {
      const shielded = new Set(this.protectedNow(vault));
      keyScopes = SCOPES_IN_ORDER.filter((scope) => !shielded.has(scope));
    } else if (options.role === 'emergency') {
      if (!Array.isArray(options.scopes) || options.scopes.length === 0 || !options.scopes.every(isScopeName)) {
        throw new NodeError('INVALID_INPUT', 'an emergency contact needs at least one known scope');
      }
      if (!Number.isSafeInteger(options.waitMs) || options.waitMs < 0) throw new NodeError('INVALID_INPUT', '"waitMs" expected milliseconds (an integer ≥ 0)');
      scopes = [...new Set(options.scopes)].sort();
      wait = options.waitMs;
      this.refuseProtected(vault, scopes);
      keyScopes = scopes;
    } else {
      throw new NodeError('INVALID_INPUT', '"role" expected guardian or emergency');
    }
    const keys = await this.sealKeysTo(delegate, vault, keyScopes);
    const [first] = await this.writeDelegation(vault, { delegate, role: options.role, expires: options.expires ?? null, scopes, wait }, keys);
    return first!;
  }

  /**
   * Ends every live delegation of `delegate` (guardian or emergency contact) in the vault and
   * ends its running streams at once. Returns the `undelegate` entries.
   */
  async undelegate(delegate: Did, options: { vault?: VaultId } = {}): Promise<EntryId[]> {
    const vault = this.actingVault(options.vault);
    const ending = delegationsOf(this.replica.log(vault)!, this.now()).filter((d) => d.delegate === delegate);
    if (ending.length === 0) throw new NodeError('NOT_FOUND', `no live delegation of ${delegate} in this vault`);
    const out: EntryId[] = [];
    for (const d of ending) out.push((await this.write(vault, 'undelegate', { delegation: d.entry, delegate })).id);
    await this.docs.reauthorize((s) => s.vault === vault && s.remote === delegate);
    await this.forgetSyncStates(delegate, vault, SCOPES_IN_ORDER);
    return out;
  }

  /** Live delegations (guardians and emergency contacts) of a vault this device holds. */
  delegations(vault?: VaultId): Delegation[] {
    return delegationsOf(this.heldLog(vault), this.now());
  }

  /**
   * The dependent takes over (at majority, or when the guardian chooses): this guardian device
   * seals every scope key — dependent-only ones included — to the dependent's devices in a
   * delegation, then signs the `handover` naming `subject` (the dependent's own identity) and its
   * owner devices. From then on the guardians' authority ends (`guardians: 'end'`) or continues
   * read-only (`'read'`); grants made before stay live until the new owner revokes them. The
   * dependent's device then calls {@link acceptHandover}. Returns the `handover` entry.
   */
  async handover(subject: Did, options: HandoverOptions): Promise<EntryId> {
    const vault = this.actingVault(options.vault);
    if (options.guardians !== 'end' && options.guardians !== 'read') throw new NodeError('INVALID_INPUT', '"guardians" expected end or read');
    const devices = [...new Set(options.devices ?? [subject])].sort();
    if (devices.length === 0) throw new NodeError('INVALID_INPUT', 'a handover needs at least one owner device');
    const body = { subject, devices, guardians: options.guardians };
    // Checked first, so no delegation is written for a handover that would be refused.
    if (!this.replica.log(vault)!.mayWrite(this.identity.did, 'handover', { body, ts: this.now() })) {
      throw new NodeError('NOT_AUTHORIZED', 'this device may not hand this vault over (not an owner or a live guardian)');
    }
    for (const device of [...new Set([subject, ...devices])].sort()) {
      await this.writeDelegation(vault, { delegate: device, role: 'guardian', expires: null, scopes: [], wait: null }, await this.sealKeysTo(device, vault, SCOPES_IN_ORDER));
    }
    return (await this.write(vault, 'handover', body)).id;
  }

  /**
   * On the dependent's device after a {@link handover}: takes the vault from the guardian's device
   * at `address` (key `from`), checks that the handover names this device as an owner, opens the
   * keys sealed to it and syncs every scope. The vault becomes this device's own (or, if it already
   * has one, a held vault beside it). Dependent-only scopes then get a new key epoch, which no
   * guardian's device ever held. Grants made by the guardians stay live until this device revokes them.
   */
  async acceptHandover(vault: VaultId, from: Did, address: string): Promise<void> {
    const peer = dialAddress(address);
    if (!this.replica.log(vault)) this.replica.track(new LogVerifier({ vault }), [from]);
    await this.syncFailure(() => this.logs.exchange(peer, vault));
    const log = this.replica.log(vault)!;
    const authority = authorityOf(log, this.now());
    if (authority.handover === null || !authority.owners.includes(this.identity.did)) {
      throw new NodeError('NOT_AUTHORIZED', 'no handover in that vault names this device as an owner');
    }
    const exported = await this.openSealedToMe(vault, log, ['delegate', 'device.add']);
    if (exported.length === 0) throw new NodeError('NOT_AUTHORIZED', 'no scope key is sealed to this device in that vault');
    if (this.own === undefined) {
      this.own = vault;
      await this.store.putSealed(OWN, utf8(vault));
    } else if (this.own !== vault) {
      await this.keepHeld(vault, genesisLabel(log));
    }
    if (!this.records.has(vault)) this.records.set(vault, this.openRecords(vault, this.kindOf(vault), exported));
    await this.syncScopes(peer, { vault });
    if (authority.protectedScopes.length > 0) await this.rotateAndRekey(vault, authority.protectedScopes);
  }

  /**
   * Marks scopes dependent-only from `from` (default now): guardians can neither read nor share
   * them from then on — the verifier refuses their grants (SCOPE_PROTECTED), the sync gate refuses
   * them the scope, and their running streams of it end at once. Delegations written later seal
   * no key of these scopes to guardians. Returns the `protect` entry.
   */
  async protect(scopes: readonly ScopeName[], options: { vault?: VaultId; from?: number } = {}): Promise<EntryId> {
    const vault = this.actingVault(options.vault);
    if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every(isScopeName)) throw new NodeError('INVALID_INPUT', 'protect needs at least one known scope');
    const from = options.from ?? this.now();
    if (!Number.isSafeInteger(from) || from < 0) throw new NodeError('INVALID_INPUT', '"from" expected milliseconds since the epoch');
    return (await this.write(vault, 'protect', { scopes: [...new Set(scopes)].sort(), from })).id;
  }

  /** Who holds authority over a vault this device holds (own, held or shared): providers read the change of authority here. */
  authority(vault?: VaultId): Authority {
    return authorityOf(this.heldLog(vault), this.now());
  }

  /** Emergency requests of a vault this device holds, each with its state now (waiting, open, denied, ended). */
  emergencies(vault?: VaultId): EmergencyAccess[] {
    return [...this.heldLog(vault).verdict(this.now()).emergencies];
  }

  /** Denies an emergency request during its wait (owner or guardian). Returns the `emergency.deny` entry. */
  async denyEmergency(request: EntryId, reason: string | null = null): Promise<EntryId> {
    const vault = this.actingVaults().find((v) => this.replica.log(v)?.entry(request)?.header.type === 'emergency.request');
    if (vault === undefined) throw new NodeError('NOT_FOUND', `no emergency request ${request} in a vault this device acts in`);
    return (await this.write(vault, 'emergency.deny', { request, reason })).id;
  }

  /**
   * On an emergency contact's device: keeps a copy of the log of `vault` (whose patient device is
   * `patient`, reached at `address`) in which this device was named an emergency contact. The
   * contact can then {@link requestEmergency} and, once access opened, {@link pull}.
   */
  async followVault(vault: VaultId, patient: Did, address: string): Promise<Delegation> {
    if (vault === this.own || this.held.has(vault)) throw new NodeError('INVALID_INPUT', 'this device already acts in that vault');
    const peer = dialAddress(address);
    if (!this.replica.log(vault)) this.replica.track(new LogVerifier({ vault }), [patient]);
    await this.syncFailure(() => this.logs.exchange(peer, vault));
    const mine = delegationsOf(this.replica.log(vault)!, this.now()).find((d) => d.delegate === this.identity.did && d.role === 'emergency');
    if (!mine) throw new NodeError('NOT_AUTHORIZED', 'no live emergency delegation names this device in that vault');
    // Kept only once the delegation is verified, so a refused follow leaves nothing behind.
    await this.adoptShared({ vault, patient, address });
    return mine;
  }

  /**
   * Asks for emergency access (a signed `emergency.request` under this device's delegation) and
   * delivers it to the patient's device. Access to the delegation's scopes opens at `opensAt`
   * unless the patient denies it before; `delivered` is false when the patient's device could not
   * be reached (the request is kept and goes with the next exchange).
   */
  async requestEmergency(vault: VaultId, reason: string | null = null): Promise<{ request: EntryId; opensAt: number; delivered: boolean }> {
    return this.withVault(vault, () => this.requestEmergencyNow(vault, reason));
  }

  private async requestEmergencyNow(vault: VaultId, reason: string | null): Promise<{ request: EntryId; opensAt: number; delivered: boolean }> {
    const shared = this.shared.get(vault);
    if (!shared) throw new NodeError('NOT_FOUND', 'this vault is not shared with this device');
    const peer = multiaddr(shared.address);
    await this.logs.exchange(peer, vault).catch(() => undefined);
    const mine = delegationsOf(this.replica.log(vault)!, this.now())
      .filter((d) => d.delegate === this.identity.did && d.role === 'emergency')
      .sort((a, b) => (b.waitMs ?? 0) - (a.waitMs ?? 0));
    const delegation = mine.at(-1); // the shortest wait
    if (!delegation) throw new NodeError('NOT_AUTHORIZED', 'no live emergency delegation names this device in that vault');
    const entry = await this.write(vault, 'emergency.request', { delegation: delegation.entry, reason });
    const delivered = await this.logs.exchange(peer, vault).then(
      () => true,
      () => false,
    );
    return { request: entry.id, opensAt: this.replica.log(vault)!.entry(entry.id)!.header.ts + (delegation.waitMs ?? 0), delivered };
  }

  /** Every vault this device holds — its own, dependents' (held) and shared ones — and what it may do in each now (for a vault switcher). */
  vaults(): VaultSummary[] {
    const out: VaultSummary[] = [];
    const now = this.now();
    const ids = [...(this.own ? [this.own] : []), ...this.held.keys(), ...this.shared.keys()] as VaultId[];
    for (const vault of [...new Set(ids)]) {
      const log = this.replica.log(vault);
      if (!log) {
        // An unloaded shared vault: as of its unload. Once a grant of it may have expired since,
        // it is loaded again in the background (and its summary renewed when it leaves).
        const kept = this.summaries.get(vault);
        if (!kept) continue;
        if (now >= kept.until) void this.loadVault(vault).catch(() => undefined);
        out.push(kept.summary);
        continue;
      }
      out.push({ vault, kind: this.kindOf(vault), label: genesisLabel(log), subject: log.verdict(now).subject, as: this.standing(log, now) });
    }
    return out;
  }

  /** The records of any vault this device holds (own, held or shared: a shared one opens with the keys its grants carry). */
  async vaultRecords(vault: VaultId): Promise<RecordsPort> {
    if (vault !== this.own && !this.held.has(vault) && !this.shared.has(vault)) throw new NodeError('NOT_FOUND', 'this device holds no such vault');
    return this.withVault(vault, () => this.recordsOf(vault));
  }

  /**
   * The access trail of a vault this device holds: grants, revocations, access receipts,
   * delegations, handovers, protections, emergency requests, denials and openings (judged at
   * this device's `now`), and servings to emergency contacts this device noted. Oldest first.
   * ({@link accessTrail} is its receipts alone.)
   */
  trail(vault?: VaultId): TrailItem[] {
    const log = this.heldLog(vault);
    return trailOf(log, this.now(), this.served.get(log.vault) ?? []);
  }

  // ---------------------------------------------------------------------------------------------
  // A provider's side

  /** Vaults shared with this device. */
  sharedVaults(): SharedVault[] {
    return [...this.shared.values()];
  }

  /**
   * Redeems an invitation with a request, waits for the patient's approval, then pulls what was
   * granted. Throws the SyncError of a refused invitation (TOKEN_USED, TOKEN_EXPIRED, DENIED…).
   */
  async redeem(invitationText: string, request: ShareRequest, options: { address?: string } = {}): Promise<PullResult> {
    const invitation = decodeInvitation(invitationText);
    const result = await this.invites.redeem(invitation, request);
    const vault = result.approval.vault as VaultId;
    const address = options.address ?? invitationDialAddress(invitation);
    await this.adoptShared({ vault, patient: result.patient, address });
    // The invitation is used up now: a first pull that fails for a passing reason (a stream reset
    // or a timeout on a loaded machine or network) is tried again rather than losing the share.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.pull(vault);
      } catch (error) {
        if (!(error instanceof NodeError && error.code === 'SYNC_FAILED') || attempt >= REDEEM_PULL_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** (attempt - 1)));
      }
    }
  }

  /**
   * Pulls a shared vault: the log (verified), then every scope this device holds a live grant for,
   * each followed by a signed `access` receipt pushed back to the patient's log.
   */
  async pull(vault: VaultId, options: { live?: boolean; address?: string } = {}): Promise<PullResult> {
    return this.withVault(vault, () => this.pullNow(vault, options));
  }

  private async pullNow(vault: VaultId, options: { live?: boolean; address?: string }): Promise<PullResult> {
    let shared = this.shared.get(vault);
    if (!shared) throw new NodeError('NOT_FOUND', 'this vault is not shared with this device');
    if (options.address !== undefined && options.address !== shared.address) {
      // The vault is now reached elsewhere (e.g. the dependent's own device after a handover).
      dialAddress(options.address);
      shared = { ...shared, address: options.address };
      await this.adoptShared(shared);
    }
    const peer = multiaddr(shared.address);
    const exchanged = await this.syncFailure(() => this.logs.exchange(peer, vault));
    const log = this.replica.log(vault)!;
    const now = this.now();
    if (exchanged.remote !== shared.patient && log.verdict(now).devices.some((d) => d.did === exchanged.remote)) {
      // Served now by an owner device of the vault (proven by the connection and by the verified
      // log): results pushed from here on are sealed to it (the dependent after a handover).
      shared = { ...shared, patient: exchanged.remote };
      await this.adoptShared(shared);
    }
    const mine = log.verdict(now).grants.filter((g) => g.grantee === this.identity.did);
    await this.importKeys(vault, log);
    const records = await this.recordsOf(vault);
    // An emergency contact whose request opened reads the delegation's scopes (no grant, no receipt:
    // the request is in the log, and the serving device notes each serving in the patient's trail).
    const opened = log.verdict(now).emergencies.filter((e) => e.contact === this.identity.did && e.state === 'open').flatMap((e) => e.scopes);
    const scopes = [...new Set([...mine.flatMap((g) => g.scopes), ...opened])].sort();
    const sessions: DocSession[] = [];
    const receipts: EntryId[] = [];
    for (const scope of scopes) {
      const target = await this.targetOf(vault, scope, records);
      const session = await this.syncFailure(() => this.docs.sync(peer, { vault, doc: scope, target, live: options.live ?? false }));
      await session.synced();
      await target.flush();
      sessions.push(session);
      const grant = mine.find((g) => g.scopes.includes(scope));
      if (grant === undefined) continue;
      const receipt = await this.writeReceipt(vault, grant.entry, scope, headsOf(target));
      if (receipt) receipts.push(receipt.id);
    }
    if (receipts.length > 0) await this.syncFailure(() => this.logs.exchange(peer, vault));
    return { vault, scopes, receipts, sessions };
  }

  /**
   * Signs the `access` receipt of one pull — unless it would say nothing new (the same heads as
   * this device's last receipt for that grant and scope) or break the patient's receipt limit
   * ({@link ReceiptLimit}: the patient refuses more). A receipt skipped for the limit is kept
   * (in the store) and written as soon as the window allows: by the next pull of that vault, even
   * one that reads nothing new, or by a timer set for that moment ({@link writeDueReceipts}).
   */
  private writeReceipt(vault: VaultId, grant: EntryId, scope: ScopeName, heads: string[]): Promise<(SignedEntry & { id: EntryId }) | undefined> {
    // One at a time: a pull and the timer deciding about the same receipt at once would both write it.
    const next = this.receipting.then(() => this.writeReceiptNow(vault, grant, scope, heads));
    this.receipting = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  private async writeReceiptNow(vault: VaultId, grant: EntryId, scope: ScopeName, heads: string[]): Promise<(SignedEntry & { id: EntryId }) | undefined> {
    const key = `${vault}/${grant}/${scope}`;
    const last = this.replica.lastReceiptHeads(vault, grant, scope);
    if (last !== undefined && last.length === heads.length && last.every((h) => heads.includes(h))) {
      await this.dropDueReceipt(key);
      return undefined;
    }
    // The writer dates an entry just past what it cites (the patient's entries, the grant among their past).
    const ts = Math.max(this.now(), (this.replica.log(vault)?.entry(grant)?.header.ts ?? -1) + 1);
    if (!this.replica.mayWriteReceipt(vault, this.identity.did, grant, ts)) {
      const due = { vault, grant, scope, heads };
      this.dueReceipts.set(key, { ...due, notBefore: this.replica.receiptAllowedAt(vault, this.identity.did, ts) ?? ts });
      await this.store.putSealed(`${RECEIPT_DUE}${key}`, encodeCanonical({ ...due }));
      this.scheduleDueReceipts();
      return undefined;
    }
    const receipt = await this.replica.exclusive(vault, () => this.writerOf(vault).append(this.identity, 'access', { grant, scope, heads }, { ts: this.now() }));
    await this.noteWritten(vault, [receipt]);
    await this.dropDueReceipt(key);
    return receipt;
  }

  private async dropDueReceipt(key: string): Promise<void> {
    if (!this.dueReceipts.delete(key)) return;
    await this.store.batchSealed([{ type: 'delete', key: `${RECEIPT_DUE}${key}` }]);
  }

  /**
   * Writes the receipts skipped for the receipt limit whose window now allows them, and brings
   * them to the patient (a log exchange; if it cannot be reached, the next exchange carries them).
   * Runs by itself on a timer set for when the window allows; a receipt whose grant is no longer
   * live is dropped (this device may not sign under it any more). Returns the receipts written.
   */
  async writeDueReceipts(): Promise<EntryId[]> {
    const written: EntryId[] = [];
    const byVault = new Map<VaultId, { key: string; grant: EntryId; scope: ScopeName; heads: string[] }[]>();
    for (const [key, due] of this.dueReceipts) (byVault.get(due.vault) ?? byVault.set(due.vault, []).get(due.vault)!).push({ key, grant: due.grant, scope: due.scope, heads: due.heads });
    for (const [vault, dues] of byVault) {
      if (!this.shared.has(vault)) {
        for (const due of dues) await this.dropDueReceipt(due.key);
        continue;
      }
      const mine = await this.withVault(vault, async () => {
        const out: EntryId[] = [];
        const live = new Set(
          this.replica
            .log(vault)!
            .verdict(this.now())
            .grants.filter((g) => g.grantee === this.identity.did)
            .map((g) => g.entry),
        );
        for (const due of dues) {
          if (!this.dueReceipts.has(due.key)) continue;
          if (!live.has(due.grant)) {
            await this.dropDueReceipt(due.key);
            continue;
          }
          const receipt = await this.writeReceipt(vault, due.grant, due.scope, due.heads);
          if (receipt) out.push(receipt.id);
        }
        if (out.length > 0) await this.logs.exchange(multiaddr(this.shared.get(vault)!.address), vault).catch(() => undefined);
        return out;
      });
      written.push(...mine);
    }
    this.scheduleDueReceipts();
    return written;
  }

  /** Sets the timer for the earliest moment a skipped receipt may be written (none when none waits). */
  private scheduleDueReceipts(): void {
    if (this.receiptTimer !== undefined) clearTimeout(this.receiptTimer);
    this.receiptTimer = undefined;
    if (this.stopped || this.dueReceipts.size === 0) return;
    const now = this.now();
    let at = Infinity;
    // notBefore was worked out when the receipt was skipped (its vault loaded); one read back at
    // start is worked out now if its vault is loaded, else tried soon.
    for (const due of this.dueReceipts.values()) {
      if (due.notBefore === undefined) {
        const allowed = this.replica.receiptAllowedAt(due.vault, this.identity.did, now);
        if (allowed !== undefined) due.notBefore = allowed;
      }
      at = Math.min(at, due.notBefore ?? now);
    }
    this.receiptTimer = setTimeout(() => void this.writeDueReceipts().catch(() => undefined), Math.max(RECEIPT_RETRY_MIN_MS, at - now));
    // A waiting receipt never keeps a Node process alive.
    (this.receiptTimer as { unref?: () => void }).unref?.();
  }

  /** The records of a vault shared with this device (opened with the keys its grants carry). */
  async sharedRecords(vault: VaultId): Promise<RecordsPort> {
    if (!this.shared.has(vault)) throw new NodeError('NOT_FOUND', 'this vault is not shared with this device');
    return this.withVault(vault, () => this.recordsOf(vault));
  }

  // ---------------------------------------------------------------------------------------------
  // Inbox: results a provider pushes, which the patient accepts into a scope or rejects

  /**
   * Pushes a result (a FHIR resource) into this provider's inbox at the patient of `vault`. It is
   * sealed to the patient; it never touches the patient's scopes until the patient accepts it.
   * Needs a live grant with 'append' (NOT_AUTHORIZED otherwise). Returns the item's id.
   */
  async pushResult(vault: VaultId, resource: Record<string, unknown>): Promise<string> {
    const shared = this.shared.get(vault);
    if (!shared) throw new NodeError('NOT_FOUND', 'this vault is not shared with this device');
    const id = toBase64Url(randomBytes(12));
    const sealed = await sealTo(shared.patient, utf8(JSON.stringify(resource)), inboxAd(vault, this.identity.did, id));
    const handle = await this.inboxOf(this.identity.did, vault);
    handle.change((d) => {
      d[id] = sealed;
    });
    try {
      const session = await this.syncFailure(() => this.docs.sync(multiaddr(shared.address), { vault, doc: `${INBOX_DOC}${this.identity.did}`, target: handle }));
      await session.synced();
    } catch (error) {
      // Refused or unreachable: the result is not kept for a later push; the caller decides.
      handle.change((d) => {
        delete d[id];
      });
      throw error;
    }
    await this.persistInbox(vault, this.identity.did, handle);
    return id;
  }

  /**
   * Results waiting in this vault's inboxes (or in a dependent's vault this device holds, `vault`),
   * opened: they are sealed to the device the provider reached, so a guardian sees those pushed to it.
   */
  async inbox(vault: VaultId = this.requireOwn()): Promise<InboxItem[]> {
    this.actingVault(vault);
    // Inboxes kept from before a restart load on first look.
    for await (const { key } of this.store.rangeSealed(`${INBOX}${vault}/`)) await this.inboxOf(key.slice(`${INBOX}${vault}/`.length) as Did, vault);
    const out: InboxItem[] = [];
    for (const handle of this.inboxes.values()) {
      if (handle.vault !== vault) continue;
      const from = handle.from;
      for (const [id, sealed] of Object.entries(handle.doc.current())) {
        try {
          const resource = JSON.parse(fromUtf8(await openSealed(this.identity, sealed, inboxAd(vault, from, id)))) as Record<string, unknown>;
          out.push({ id, from, resource });
        } catch {
          // Not sealed to this patient for this inbox: never shown, never imported.
        }
      }
    }
    return out;
  }

  /** Accepts a pushed result into `scope` of the patient's records (or of a held vault, `vault`) and removes it from the inbox. */
  async acceptResult(from: Did, id: string, scope: ScopeName, options: { vault?: VaultId } = {}): Promise<void> {
    const vault = this.actingVault(options.vault);
    const item = (await this.inbox(vault)).find((i) => i.from === from && i.id === id);
    if (!item) throw new NodeError('NOT_FOUND', 'no such result in the inbox');
    await this.editRecords([scope], async (records) => {
      if (!records.importResources) throw new NodeError('INVALID_INPUT', 'this records store cannot import');
      await records.importResources([
        { resource: item.resource, scope, provenance: { source: 'fhir-json', verified: false, importedAt: new Date(this.now()).toISOString() }, sourceKey: `inbox:${from}:${id}` },
      ]);
    }, { vault });
    await this.dropInboxItem(from, id, vault);
  }

  /** Rejects a pushed result: it is removed from the inbox and never imported. */
  async rejectResult(from: Did, id: string, options: { vault?: VaultId } = {}): Promise<void> {
    await this.dropInboxItem(from, id, this.actingVault(options.vault));
  }

  private async dropInboxItem(from: Did, id: string, vault: VaultId): Promise<void> {
    const handle = await this.inboxOf(from, vault);
    handle.change((d) => {
      delete d[id];
    });
    await this.persistInbox(vault, from, handle);
  }

  /** The inbox document of `from` at vault `vault` (default: this device's own vault), loaded once. */
  private async inboxOf(from: Did, vault: VaultId = this.requireOwn()): Promise<DocumentHandle<Record<string, Uint8Array>>> {
    const key = `${vault}/${from}`;
    let entry = this.inboxes.get(key);
    if (!entry) {
      const saved = await this.store.getSealed(`${INBOX}${key}`);
      const handle = new DocumentHandle<Record<string, Uint8Array>>(saved ? Automerge.load(saved) : undefined);
      // Results a provider pushes are kept as they arrive, so none is lost if the patient's node stops.
      handle.subscribe(() => void this.persistInbox(vault, from, handle).catch(() => undefined));
      entry = { vault, from, doc: handle };
      this.inboxes.set(key, entry);
    }
    return entry.doc;
  }

  private async persistInbox(vault: VaultId, from: Did, handle: DocumentHandle<Record<string, Uint8Array>>): Promise<void> {
    await this.store.putSealed(`${INBOX}${vault}/${from}`, Automerge.save(handle.current()));
  }

  // ---------------------------------------------------------------------------------------------
  // Inside

  /** The vault a patient-side method acts in: `vault` if given (own or held), else this device's own. */
  private actingVault(vault?: VaultId): VaultId {
    const v = vault ?? this.own;
    if (v === undefined) throw new NodeError('NOT_FOUND', 'this device has no vault of its own');
    if (v !== this.own && !this.held.has(v)) throw new NodeError('NOT_FOUND', `this device does not act in vault ${v}`);
    return v;
  }

  private actingVaults(): VaultId[] {
    return [...(this.own ? [this.own] : []), ...([...this.held.keys()] as VaultId[])];
  }

  /** The log of a vault this device holds in any way (default: its own). */
  private heldLog(vault?: VaultId): LogVerifier {
    const v = vault ?? this.own;
    const log = v === undefined ? undefined : this.replica.log(v);
    if (!log || (v !== this.own && !this.held.has(v!) && !this.shared.has(v!))) {
      throw new NodeError('NOT_FOUND', v !== undefined && this.shared.has(v) ? 'that shared vault is not loaded now (await loadVault first)' : 'this device holds no such vault');
    }
    return log;
  }

  /** Whether this device may write `scope` of a vault it acts in now (an owner, or a live guardian for a scope that is not dependent-only). */
  private writesIn(vault: VaultId, scope: ScopeName): boolean {
    const as = this.replica.log(vault)?.entitlement(this.identity.did, scope, this.now()).as;
    return as === 'owner' || as === 'guardian';
  }

  private kindOf(vault: VaultId): VaultKind {
    return vault === this.own ? 'own' : this.held.has(vault) ? 'held' : 'shared';
  }

  private async keepHeld(vault: VaultId, label: string | null): Promise<void> {
    this.held.set(vault, { vault, label });
    await this.store.putSealed(`${HELD}${vault}`, encodeCanonical({ vault, label }));
  }

  /** What this device is in a vault now (see {@link VaultSummary.as}). */
  private standing(log: LogVerifier, now: number): VaultSummary['as'] {
    const me = this.identity.did;
    const held = new Set(SCOPES_IN_ORDER.map((scope) => log.entitlement(me, scope, now).as));
    for (const as of ['owner', 'guardian', 'reader', 'grant', 'emergency'] as const) if (held.has(as)) return as;
    return log.verdict(now).delegations.some((d) => d.delegate === me && d.role === 'emergency') ? 'contact' : 'none';
  }

  /** Dependent-only scopes in force now in `vault`. */
  private protectedNow(vault: VaultId): ScopeName[] {
    return authorityOf(this.replica.log(vault)!, this.now()).protectedScopes as ScopeName[];
  }

  /** A guardian (not an owner) may not share a dependent-only scope: SCOPE_PROTECTED before anything is signed. */
  private refuseProtected(vault: VaultId, scopes: readonly ScopeName[]): void {
    const log = this.replica.log(vault)!;
    const now = this.now();
    if (log.verdict(now).devices.some((d) => d.did === this.identity.did)) return;
    const shielded = this.protectedNow(vault).filter((s) => scopes.includes(s));
    if (shielded.length > 0) throw new NodeError('SCOPE_PROTECTED', `dependent-only scope(s) ${shielded.join(', ')}: a guardian cannot share them`);
  }

  /** Every epoch (and the index key) of each scope, sealed to `recipient`, in the order bodies keep them. */
  private async sealKeysTo(recipient: Did, vault: VaultId, scopes: readonly ScopeName[]): Promise<SealedScopeKey[]> {
    const records = await this.recordsOf(vault);
    let keys: SealedScopeKey[];
    try {
      keys = (await Promise.all(scopes.map((scope) => sealScopeKeys(recipient, vault, records.exportScopeKeys(scope))))).flat();
    } catch (error) {
      throw new NodeError('INVALID_INPUT', `cannot seal keys to ${recipient}: not a usable did:key`, { cause: error });
    }
    return keys.sort((a, b) => (a.scope === b.scope ? a.epoch - b.epoch : a.scope < b.scope ? -1 : 1));
  }

  /** Opens the scope keys sealed to this device in valid entries of the given types. */
  private async openSealedToMe(vault: VaultId, log: LogVerifier, types: readonly ('delegate' | 'device.add')[]): Promise<ScopeKeyExport[]> {
    const sealed: SealedScopeKey[] = [];
    for (const e of log.entries()) {
      const entry = log.entry(entryIdOf(e.header, e.signature));
      if (!entry?.body || entry.status !== 'valid' || !(types as readonly string[]).includes(entry.header.type)) continue;
      const body = entry.body as DelegateBody | DeviceAddBody;
      const to = 'delegate' in body ? body.delegate : body.device;
      if (to === this.identity.did) sealed.push(...body.keys);
    }
    const known = new Map<ScopeName, Uint8Array>();
    for (const box of await openScopeKeys(this.identity, vault, sealed.filter((k) => k.epoch === INDEX_KEY_EPOCH), known)) known.set(box.scope, box.indexKey);
    return openScopeKeys(this.identity, vault, sealed, known);
  }

  /** Rotates the scopes' keys and seals the new epochs to every live grantee and delegate that holds them. */
  private async rotateAndRekey(vault: VaultId, scopes: readonly ScopeName[]): Promise<void> {
    const records = await this.recordsOf(vault);
    const rotated: { scope: ScopeName; epoch: number }[] = [];
    for (const scope of scopes) rotated.push({ scope, epoch: await records.rotateScopeKey(scope) });
    for (const live of this.liveGrants(vault)) {
      const mine = rotated.filter((r) => live.scopes.includes(r.scope));
      if (mine.length === 0) continue;
      const keys = (await Promise.all(mine.map((r) => sealScopeKeys(live.grantee, vault, records.exportScopeKeys(r.scope, [r.epoch]), { withIndexKey: false })))).flat();
      await this.write(vault, 'rekey', { grant: live.entry, keys });
    }
    await this.redelegate(vault, rotated);
  }

  /**
   * After a rotation: each other live guardian (for scopes that are not dependent-only) and each
   * emergency contact (for its scopes) gets the new epochs in a fresh delegation with the same
   * terms; each other live owner device in a fresh `device.add`.
   */
  private async redelegate(vault: VaultId, rotated: readonly { scope: ScopeName; epoch: number }[]): Promise<EntryId[]> {
    const records = await this.recordsOf(vault);
    const shielded = new Set(this.protectedNow(vault));
    const out: EntryId[] = [];
    for (const d of delegationsOf(this.replica.log(vault)!, this.now())) {
      if (d.delegate === this.identity.did) continue;
      const mine = rotated.filter((r) => (d.role === 'guardian' ? !shielded.has(r.scope) : d.scopes.includes(r.scope)));
      if (mine.length === 0) continue;
      const keys = (await Promise.all(mine.map((r) => sealScopeKeys(d.delegate, vault, records.exportScopeKeys(r.scope, [r.epoch]), { withIndexKey: false })))).flat();
      keys.sort((a, b) => (a.scope === b.scope ? a.epoch - b.epoch : a.scope < b.scope ? -1 : 1));
      out.push(...(await this.writeDelegation(vault, { delegate: d.delegate, role: d.role, expires: d.expires, scopes: [...d.scopes], wait: d.waitMs }, keys)));
    }
    // The owner's other devices (the dependent's second phone after a handover) get them in a
    // `device.add` of the device again, which an owner may write (it adds nothing else).
    const log = this.replica.log(vault)!;
    if (log.mayWrite(this.identity.did, 'device.add', { ts: this.now() })) {
      for (const device of log.verdict(this.now()).devices) {
        if (device.did === this.identity.did || device.role !== 'device') continue;
        const keys = (await Promise.all(rotated.map((r) => sealScopeKeys(device.did, vault, records.exportScopeKeys(r.scope, [r.epoch]), { withIndexKey: false })))).flat();
        keys.sort((a, b) => (a.scope === b.scope ? a.epoch - b.epoch : a.scope < b.scope ? -1 : 1));
        for (let at = 0; at < keys.length; at += MAX_LIST_ITEMS) out.push((await this.write(vault, 'device.add', { device: device.did, label: null, keys: keys.slice(at, at + MAX_LIST_ITEMS) })).id);
      }
    }
    return out;
  }

  /**
   * Writes a delegation carrying `keys`: a body holds at most {@link MAX_LIST_ITEMS} sealed keys
   * (docs/log-format.md "Limits"), so after many rotations the keys go in several delegations of
   * the same terms; the delegate opens the keys of all of them. Returns the entries, first first.
   */
  private async writeDelegation(vault: VaultId, terms: Omit<DelegateBody, 'keys'>, keys: readonly SealedScopeKey[]): Promise<EntryId[]> {
    const out: EntryId[] = [];
    for (let at = 0; at === 0 || at < keys.length; at += MAX_LIST_ITEMS) {
      out.push((await this.write(vault, 'delegate', { ...terms, keys: keys.slice(at, at + MAX_LIST_ITEMS) })).id);
    }
    return out;
  }

  /** Signs and keeps one entry as this device; the writer's refusals become NodeErrors. */
  private async write<T extends EntryType>(vault: VaultId, type: T, body: BodyOf[T]): Promise<SignedEntry & { id: EntryId }> {
    let entry: SignedEntry & { id: EntryId };
    try {
      // One change of the log copy at a time (GrantLogReplica.exclusive): never beside a receive.
      entry = await this.replica.exclusive(vault, () => this.writerOf(vault).append(this.identity, type, body, { ts: this.now() }));
    } catch (error) {
      throw asNodeError(error, type);
    }
    await this.noteWritten(vault, [entry]);
    await this.noticeEntries(vault, [entry], 'local');
    return entry;
  }

  /**
   * Family entries that joined a log (written here, or received): fire their events, and re-ask
   * the sync gate for running streams when authority may have shrunk (undelegate, handover, protect).
   */
  async noticeEntries(vault: VaultId, entries: readonly SignedEntry[], origin: 'local' | 'peer'): Promise<void> {
    const log = this.replica.log(vault);
    if (!log) return;
    let recheck = false;
    for (const e of entries) {
      const id = entryIdOf(e.header, e.signature);
      const entry = log.entry(id);
      if (!entry || entry.body === undefined || entry.status !== 'valid') continue;
      const { header, body } = entry;
      switch (header.type) {
        case 'delegate':
        case 'undelegate':
          this.emit('delegation', { vault, kind: header.type, entry: id, delegate: (body as DelegateBody).delegate, origin });
          recheck ||= header.type === 'undelegate';
          // A fresh delegation of this device carries new key epochs (after a co-guardian's revocation).
          if (header.type === 'delegate' && origin === 'peer' && (body as DelegateBody).delegate === this.identity.did) await this.importDelegatedKeys(vault, (body as DelegateBody).keys);
          break;
        case 'handover': {
          const b = body as { subject: Did; devices: readonly Did[]; guardians: 'end' | 'read' };
          this.emit('handover', { vault, entry: id, subject: b.subject, devices: b.devices, guardians: b.guardians, origin });
          recheck = true;
          break;
        }
        case 'protect': {
          const b = body as { scopes: readonly ScopeName[]; from: number };
          this.emit('protected', { vault, entry: id, scopes: b.scopes, from: b.from, origin });
          recheck = true;
          break;
        }
        case 'emergency.request': {
          const opensAt = log.verdict(this.now()).emergencies.find((x) => x.request === id)?.opensAt ?? null;
          this.emit('emergency', { vault, kind: 'request', request: id, contact: header.author, opensAt, origin });
          break;
        }
        case 'emergency.deny': {
          const request = (body as { request: EntryId }).request;
          this.emit('emergency', { vault, kind: 'deny', request, contact: log.entry(request)?.header.author ?? header.author, opensAt: null, origin });
          break;
        }
        case 'device.add':
          if (origin === 'peer' && (body as DeviceAddBody).device === this.identity.did) await this.importDelegatedKeys(vault, (body as DeviceAddBody).keys);
          break;
        default:
          break;
      }
    }
    if (recheck) await this.docs.reauthorize((s) => s.vault === vault);
    if (origin === 'peer' && this.loadedShared.has(vault)) {
      // Entries from the patient may end this device's access (a revoke): the vault then leaves
      // memory first when room is needed, or (unloadEnded) once the change running now is over.
      const until = this.accessEnds(vault);
      this.accessUntil.set(vault, until);
      if (this.unloadEnded && this.now() >= until) void this.replica.idle(vault).then(() => this.evictIdle());
    }
  }

  /**
   * Adds scope keys sealed to this device in a delegation or a device.add to the records of a vault
   * it acts in (only once those records are open: joining a vault opens them from the whole log).
   */
  private async importDelegatedKeys(vault: VaultId, sealed: readonly SealedScopeKey[]): Promise<void> {
    if (!this.records.has(vault) || (vault !== this.own && !this.held.has(vault))) return;
    const records = await this.recordsOf(vault);
    const known = new Map<ScopeName, Uint8Array>(SCOPES_IN_ORDER.map((scope) => [scope, records.exportScopeKeys(scope).indexKey]));
    for (const keys of await openScopeKeys(this.identity, vault, sealed, known)) await records.importScopeKeys(keys);
  }

  /** Notes (at most once a minute per contact and scope) that this device served an emergency contact. */
  private noteServed(vault: VaultId, contact: Did, scope: ScopeName, now: number): void {
    const key = `${vault}/${contact}/${scope}`;
    if (now - (this.servedLast.get(key) ?? -Infinity) < SERVED_NOTE_INTERVAL_MS) return;
    // Entries older than the interval suppress nothing any more: dropped, so the map holds only
    // the servings of the last minute.
    for (const [k, at] of this.servedLast) if (now - at >= SERVED_NOTE_INTERVAL_MS) this.servedLast.delete(k);
    this.servedLast.set(key, now);
    const note: ServedNote = { at: now, contact, scope };
    const list = this.served.get(vault) ?? [];
    list.push(note);
    this.served.set(vault, list);
    const saving = this.store.putSealed(`${SERVED}${vault}/${String(now).padStart(15, '0')}-${toBase64Url(randomBytes(6))}`, encodeCanonical({ ...note })).catch(() => undefined);
    // The gate answers synchronously; stop() waits for notes still being written.
    this.savingNotes.add(saving);
    void saving.then(() => this.savingNotes.delete(saving));
  }


  private emit(type: VaultNodeEvent, detail: unknown): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  private requireOwn(): VaultId {
    if (!this.own) throw new NodeError('NOT_FOUND', 'this device has no vault of its own');
    return this.own;
  }

  private writerOf(vault: VaultId): LogWriter {
    let writer = this.writers.get(vault);
    if (!writer) {
      const log = this.replica.log(vault);
      if (!log) throw new NodeError('NOT_FOUND', `no log of vault ${vault} here`);
      writer = new LogWriter(log);
      this.writers.set(vault, writer);
    }
    return writer;
  }

  private recordsOf(vault: VaultId): Promise<RecordsPort> {
    let records = this.records.get(vault);
    if (!records) {
      records = this.openRecords(vault, this.kindOf(vault));
      this.records.set(vault, records);
    }
    return records;
  }

  private targetOf(vault: VaultId, scope: ScopeName, records: RecordsPort): Promise<ScopeTarget> {
    const key = `${vault}/${scope}`;
    let target = this.targets.get(key);
    if (!target) {
      target = ScopeTarget.open(records, scope);
      this.targets.set(key, target);
    }
    return target;
  }

  private async noteWritten(vault: VaultId, entries: readonly SignedEntry[]): Promise<void> {
    this.replica.noteWritten(vault, entries);
    await this.persistEntries(vault, entries);
  }

  /** @internal Appends entries to the kept copy of a log (arrival order, replayed at start). */
  async persistEntries(vault: VaultId, entries: readonly SignedEntry[]): Promise<void> {
    let n = this.logCounters.get(vault) ?? 0;
    const ops = entries.map((e) => ({
      type: 'put' as const,
      key: `${LOG}${vault}/${String(n++).padStart(10, '0')}`,
      value: encodeCanonical(e.body === undefined ? { header: e.header, signature: e.signature } : { header: e.header, signature: e.signature, body: e.body }),
    }));
    this.logCounters.set(vault, n);
    if (ops.length > 0) await this.store.batchSealed(ops);
  }

  private async load(): Promise<void> {
    const own = await this.store.getSealed(OWN);
    if (own) this.own = fromUtf8(own) as VaultId;
    for await (const { value } of this.store.rangeSealed(SHARED)) {
      const s = decodeCanonical(value) as { vault: string; patient: string; address: string };
      this.shared.set(s.vault, { vault: s.vault as VaultId, patient: s.patient as Did, address: s.address });
    }
    for await (const { value } of this.store.rangeSealed(HELD)) {
      const h = decodeCanonical(value) as { vault: string; label: string | null };
      this.held.set(h.vault, { vault: h.vault as VaultId, label: h.label });
    }
    for await (const { key, value } of this.store.rangeSealed(RECEIPT_DUE)) {
      try {
        const due = decodeCanonical(value) as { vault: VaultId; grant: EntryId; scope: ScopeName; heads: string[] };
        this.dueReceipts.set(key.slice(RECEIPT_DUE.length), { vault: due.vault, grant: due.grant, scope: due.scope, heads: [...due.heads] });
      } catch {
        // Unreadable: nothing to write from it.
      }
    }
    for await (const { key, value } of this.store.rangeSealed(SERVED)) {
      const vault = key.slice(SERVED.length).split('/')[0]!;
      const list = this.served.get(vault) ?? [];
      list.push(decodeCanonical(value) as ServedNote);
      this.served.set(vault, list);
    }
    for (const vault of [...(this.own ? [this.own] : []), ...this.held.keys()] as VaultId[]) this.replica.track(await this.readLog(vault));
    // Shared vaults pass through memory one by one (their summaries and standing are computed on
    // the way); at most maxLoadedShared of them stay.
    for (const vault of [...this.shared.keys()]) {
      if (this.kindOf(vault as VaultId) === 'shared') await this.loadShared(vault);
    }
    await this.evictIdle();
  }

  /** The kept copy of a vault's log, verified again as it is read. */
  private async readLog(vault: VaultId): Promise<LogVerifier> {
    const entries: SignedEntry[] = [];
    // An entry kept first without its body and later with it (a body that came late) is one
    // entry, in its first place, with the body.
    const at = new Map<string, number>();
    let count = 0;
    for await (const { value } of this.store.rangeSealed(`${LOG}${vault}/`)) {
      const e = decodeCanonical(value) as { header: Uint8Array; signature: Uint8Array; body?: Uint8Array };
      const entry: SignedEntry = e.body === undefined ? { header: e.header, signature: e.signature } : { header: e.header, signature: e.signature, body: e.body };
      const id = entryIdOf(entry.header, entry.signature);
      const seen = at.get(id);
      if (seen === undefined) {
        at.set(id, entries.length);
        entries.push(entry);
      } else if (entries[seen]!.body === undefined && entry.body !== undefined) {
        entries[seen] = entry;
      }
      count++;
    }
    const log = new LogVerifier({ vault });
    await log.add(entries, { order: 'given' });
    this.logCounters.set(vault, count);
    return log;
  }

  // ---------------------------------------------------------------------------------------------
  // Loading and unloading shared vaults (memory bound: MAX_LOADED_SHARED_VAULTS)

  /**
   * Makes sure the log copy of a vault shared with this device is in memory (loading it from the
   * store if it was unloaded); resolves false when no such vault is kept here. Own and held vaults
   * are always loaded. Concurrent calls for one vault share one load.
   */
  private loadShared(vault: string): Promise<boolean> {
    if (this.replica.log(vault)) {
      this.touch(vault);
      return Promise.resolve(true);
    }
    if (this.kindOf(vault as VaultId) !== 'shared' || !this.shared.has(vault)) return Promise.resolve(false);
    let loading = this.loading.get(vault);
    if (loading) return loading;
    loading = (async () => {
      await this.unloading.get(vault);
      if (!this.replica.log(vault)) {
        const log = await this.readLog(vault as VaultId);
        // Tracked only if nothing else tracked it meanwhile (a new share adopted while it was read).
        if (!this.replica.log(vault)) this.replica.track(log, [this.shared.get(vault)!.patient]);
      }
      this.summaries.delete(vault);
      this.accessUntil.set(vault, this.accessEnds(vault));
      this.touch(vault);
      return true;
    })();
    const running = loading;
    this.loading.set(vault, running);
    const done = (): void => {
      if (this.loading.get(vault) === running) this.loading.delete(vault);
      void this.evictIdle();
    };
    running.then(done, done);
    return running;
  }

  /** Marks a loaded shared vault as just used (least recently used ones are unloaded first). */
  private touch(vault: string): void {
    // Only adopted shared vaults: one being followed or joined is not adopted until verified.
    if (this.kindOf(vault as VaultId) !== 'shared' || !this.shared.has(vault) || !this.replica.log(vault)) return;
    this.loadedShared.delete(vault);
    this.loadedShared.set(vault, true);
  }

  /** Shared vaults whose log copy is in memory now, least recently used first. */
  loadedSharedVaults(): VaultId[] {
    return [...this.loadedShared.keys()] as VaultId[];
  }

  /**
   * Makes sure a vault's log copy is in memory and returns it (a shared vault may have been
   * unloaded); undefined when this device holds no such vault. The synchronous readers
   * ({@link log}, {@link trail}, {@link authority}, {@link delegations}, {@link emergencies}) see a
   * shared vault only while it is loaded: call this first.
   */
  async loadVault(vault: VaultId): Promise<LogVerifier | undefined> {
    // Held until the current run of the event loop is over, so the caller's synchronous reads
    // after the await find it even when its access ended (an ended vault is unloaded when idle).
    this.pins.set(vault, (this.pins.get(vault) ?? 0) + 1);
    setTimeout(() => void this.unpin(vault), 0);
    await this.loadShared(vault);
    return this.replica.log(vault);
  }

  /** Runs `run` with the shared vault (if it is one) loaded and kept loaded until it ends. */
  private async withVault<T>(vault: VaultId, run: () => Promise<T>): Promise<T> {
    this.pins.set(vault, (this.pins.get(vault) ?? 0) + 1);
    try {
      await this.loadShared(vault);
      return await run();
    } finally {
      // The operation ends once what it made idle left memory (so memory stays within the bound).
      await this.unpin(vault);
    }
  }

  private unpin(vault: string): Promise<void> {
    const left = (this.pins.get(vault) ?? 1) - 1;
    if (left <= 0) this.pins.delete(vault);
    else this.pins.set(vault, left);
    return this.evictIdle();
  }

  /**
   * Unloads now what may leave memory: idle shared vaults beyond {@link VaultNodeInit.maxLoadedShared}
   * (least recently used first) and those where this device's access ended. The engine runs this
   * itself after each use of a shared vault; a host may call it on a timer (a grant that expires
   * while nothing happens) or under memory pressure.
   */
  unloadIdle(): Promise<void> {
    return this.evictIdle();
  }

  /**
   * When this device's access to a loaded shared vault may next end by time alone: the earliest
   * expiry of its live grants and delegations there; -Infinity when it holds none now.
   */
  private accessEnds(vault: string): number {
    const log = this.replica.log(vault);
    if (!log) return -Infinity;
    const now = this.now();
    const me = this.identity.did;
    const verdict = log.verdict(now);
    const ends = [
      ...verdict.grants.filter((g) => g.grantee === me).map((g) => g.expires ?? Infinity),
      ...delegationsOf(log, now)
        .filter((d) => d.delegate === me)
        .map((d) => d.expires ?? Infinity),
    ];
    return ends.length === 0 ? -Infinity : Math.min(...ends);
  }

  /** Whether a loaded shared vault may leave memory now: nothing uses it. */
  private idle(vault: string): boolean {
    return !this.pins.has(vault) && !this.loading.has(vault) && !this.replica.busy(vault) && !this.docs.sessions().some((s) => s.vault === vault);
  }

  /**
   * Unloads idle shared vaults beyond maxLoadedShared: first those where this device's access
   * ended (revoked, expired, undelegated), then the least recently used; with `unloadEnded`,
   * ended ones at once. One pass at a time; a call during a pass runs another after it.
   */
  private evictIdle(): Promise<void> {
    const pass = async (): Promise<void> => {
      const now = this.now();
      const ended: string[] = [];
      for (const vault of this.loadedShared.keys()) {
        let until = this.accessUntil.get(vault) ?? -Infinity;
        if (now >= until) {
          until = this.accessEnds(vault);
          this.accessUntil.set(vault, until);
        }
        if (now >= until) ended.push(vault);
      }
      // Ended ones leave first (at once with unloadEnded), then the least recently used.
      for (const vault of ended) {
        if (!this.unloadEnded && this.loadedShared.size <= this.maxLoadedShared) break;
        if (this.idle(vault)) await this.unload(vault);
      }
      for (const vault of [...this.loadedShared.keys()]) {
        if (this.loadedShared.size <= this.maxLoadedShared) break;
        if (this.idle(vault)) await this.unload(vault);
      }
    };
    const previous = this.evicting ?? Promise.resolve();
    const next = previous.then(pass).catch(() => undefined);
    this.evicting = next;
    void next.then(() => {
      if (this.evicting === next) this.evicting = undefined;
    });
    return next;
  }

  /** Takes a shared vault out of memory: its log copy, writer, records store, scope documents, index keys and inbox; all stay in the store. */
  private async unload(vault: string): Promise<void> {
    const log = this.replica.log(vault);
    if (!log) return;
    const now = this.now();
    const summary: VaultSummary = { vault: vault as VaultId, kind: 'shared', label: genesisLabel(log), subject: log.verdict(now).subject, as: this.standing(log, now) };
    const forks = this.replica.forks(vault).map((f) => ({ vault: vault as VaultId, signer: f.signer, size: f.size }));
    if (!this.replica.untrack(vault)) return;
    this.summaries.set(vault, { summary, until: this.accessUntil.get(vault) ?? -Infinity, forks });
    this.loadedShared.delete(vault);
    this.accessUntil.delete(vault);
    this.writers.delete(vault);
    this.indexKeys.delete(vault);
    this.records.delete(vault);
    const targets: Promise<ScopeTarget>[] = [];
    for (const scope of SCOPES_IN_ORDER) {
      const target = this.targets.get(`${vault}/${scope}`);
      if (target) targets.push(target);
      this.targets.delete(`${vault}/${scope}`);
    }
    for (const [key, inbox] of this.inboxes) if (inbox.vault === vault) this.inboxes.delete(key);
    const writing = (async () => {
      for (const target of targets) await (await target).flush().catch(() => undefined);
    })();
    this.unloading.set(vault, writing);
    await writing;
    if (this.unloading.get(vault) === writing) this.unloading.delete(vault);
    this.emit('unloaded', { vault });
  }

  private async adoptShared(shared: SharedVault): Promise<void> {
    if (!this.shared.has(shared.vault) && !this.replica.log(shared.vault)) {
      this.replica.track(new LogVerifier({ vault: shared.vault }), [shared.patient]);
    }
    this.shared.set(shared.vault, shared);
    this.touch(shared.vault);
    await this.store.putSealed(`${SHARED}${shared.vault}`, encodeCanonical({ ...shared }));
  }

  /**
   * Opens the scope keys sealed to this device in its grants and rekeys, and gives them to the
   * shared vault's records store (seeding it when it is first opened).
   */
  private async importKeys(vault: VaultId, log: LogVerifier): Promise<void> {
    const known = this.indexKeys.get(vault) ?? new Map<ScopeName, Uint8Array>();
    this.indexKeys.set(vault, known);
    const sealed = [];
    const mine = new Set<string>();
    for (const e of log.entries()) {
      const id = entryIdOf(e.header, e.signature);
      const entry = log.entry(id);
      if (!entry?.body || entry.status !== 'valid') continue;
      if (entry.header.type === 'grant' && (entry.body as GrantBody).grantee === this.identity.did) {
        mine.add(id);
        sealed.push(...(entry.body as GrantBody).keys);
      }
      // An emergency contact's keys come with its delegation (sealed before any request, so
      // access can open while the patient is unreachable).
      if (entry.header.type === 'delegate' && (entry.body as DelegateBody).delegate === this.identity.did) sealed.push(...(entry.body as DelegateBody).keys);
    }
    for (const e of log.entries()) {
      const id = entryIdOf(e.header, e.signature);
      const entry = log.entry(id);
      if (entry?.body && entry.status === 'valid' && entry.header.type === 'rekey' && mine.has((entry.body as RekeyBody).grant)) sealed.push(...(entry.body as RekeyBody).keys);
    }
    // Index keys first, so rekeys (which carry none) can be grouped with them.
    for (const box of await openScopeKeys(this.identity, vault, sealed.filter((k) => k.epoch === INDEX_KEY_EPOCH), known)) known.set(box.scope, box.indexKey);
    const exported = await openScopeKeys(this.identity, vault, sealed, known);
    if (exported.length === 0) return;
    if (!this.records.has(vault)) {
      this.records.set(vault, this.openRecords(vault, 'shared', exported));
      return;
    }
    const records = await this.recordsOf(vault);
    for (const keys of exported) await records.importScopeKeys(keys);
  }

  private authorize(remote: Did, vault: string, doc: string): AccessMode | false | Promise<AccessMode | false> {
    // An unloaded shared vault is loaded first (the gate runs on every message: loaded, it answers at once).
    if (!this.replica.log(vault) && this.shared.has(vault)) return this.loadShared(vault).then(() => this.authorizeLoaded(remote, vault, doc));
    this.touch(vault);
    return this.authorizeLoaded(remote, vault, doc);
  }

  private authorizeLoaded(remote: Did, vault: string, doc: string): AccessMode | false {
    const log = this.replica.log(vault);
    if (log && (vault === this.own || (this.held.has(vault) && this.writesIn(vault as VaultId, 'summary'))) && doc === `${INBOX_DOC}${remote}`) {
      // A provider's own inbox at the patient: writable while it holds a live grant with 'append'.
      const now = this.now();
      return log.verdict(now).grants.some((g) => g.grantee === remote && g.actions.includes('append')) ? 'write' : false;
    }
    if (!log || !isScopeName(doc)) return false;
    const now = this.now();
    // The gate is src/grants' entitlement on this device's verified copy: dependent-only scopes
    // are refused to guardians (and readers) there, emergency access only opens after the wait.
    const read = log.entitlement(remote, doc, now, 'read');
    if (!read.entitled) return false;
    // A dependent's vault is served to grantees and guardians only while this device acts in it:
    // an ex-guardian's copy (after a handover or an undelegate, or read-only) is a source for the
    // owners alone (the dependent taking the data over), never for anyone else.
    if (this.held.has(vault) && !this.writesIn(vault as VaultId, doc) && read.as !== 'owner') return false;
    if (read.as === 'emergency') this.noteServed(vault as VaultId, remote, doc, now);
    // Owners (the patient's own devices) and live guardians sync both ways; grantees, guardians
    // kept read-only by a handover and emergency contacts read.
    return read.as === 'owner' || read.as === 'guardian' ? 'write' : 'read';
  }

  private async resolveTarget(vault: string, doc: string): Promise<SyncTarget | undefined> {
    if ((vault === this.own || this.held.has(vault)) && doc.startsWith(INBOX_DOC)) return this.inboxOf(doc.slice(INBOX_DOC.length) as Did, vault as VaultId);
    if (!isScopeName(doc) || !(await this.loadShared(vault) || this.replica.log(vault))) return undefined;
    return this.targetOf(vault as VaultId, doc, await this.recordsOf(vault as VaultId));
  }

  private syncStates(): SyncStateStore {
    return {
      load: (remote, vault, doc) => this.store.getSealed(`${SYNC}${remote}/${vault}/${doc}`),
      save: async (remote, vault, doc, state) => {
        await this.store.putSealed(`${SYNC}${remote}/${vault}/${doc}`, state);
        await this.noteSeen(remote);
      },
    };
  }

  /**
   * Keeps when each remote last synced (its sync states age out from there); written at most once
   * a day per remote, so an incremental sync costs no second write.
   */
  private async noteSeen(remote: Did): Promise<void> {
    const now = this.now();
    const last = this.syncSeen.get(remote);
    if (last !== undefined && now - last < SYNC_SEEN_RESOLUTION_MS) return;
    this.syncSeen.set(remote, now);
    await this.store.putSealed(`${SYNC_SEEN}${remote}`, encodeCanonical({ at: now }));
  }

  /**
   * Deletes persisted sync states that can no longer serve (docs/families.md "Bounds"): of a
   * party no longer entitled to that scope here (revoked, expired, undelegated), of a shared scope
   * this device is no longer entitled to, of a vault it no longer holds, and of any remote not
   * seen for {@link SYNC_STATE_MAX_AGE_MS}. Runs at start; revoking drops the revoked party's at
   * once. A session started later simply begins afresh. Returns how many were deleted.
   */
  async pruneSyncStates(): Promise<number> {
    const now = this.now();
    const stale = new Set<string>();
    for await (const { key, value } of this.store.rangeSealed(SYNC_SEEN)) {
      const remote = key.slice(SYNC_SEEN.length) as Did;
      let at = 0;
      try {
        at = (decodeCanonical(value) as { at: number }).at;
      } catch {
        // Unreadable: treated as never seen, so its states go.
      }
      if (typeof at === 'number' && now - at <= SYNC_STATE_MAX_AGE_MS) this.syncSeen.set(remote, at);
      else stale.add(remote);
    }
    const deletes: { type: 'delete'; key: string }[] = [];
    const unseen = new Set<Did>();
    const keys: string[] = [];
    for await (const { key } of this.store.rangeSealed(SYNC)) keys.push(key);
    for (const key of keys) {
      const [remote, vault, ...rest] = key.slice(SYNC.length).split('/');
      const doc = rest.join('/');
      if (remote === undefined || vault === undefined) continue;
      if (stale.has(remote) || !(await this.keepsSyncState(remote as Did, vault as VaultId, doc, now))) deletes.push({ type: 'delete', key });
      // States written before last-seen times were kept: they age out from now.
      else if (!this.syncSeen.has(remote as Did)) unseen.add(remote as Did);
    }
    for (const remote of stale) deletes.push({ type: 'delete', key: `${SYNC_SEEN}${remote}` });
    if (deletes.length > 0) await this.store.batchSealed(deletes);
    for (const remote of unseen) await this.noteSeen(remote);
    return deletes.length - stale.size;
  }

  /** Whether a persisted sync state with `remote` of `doc` in `vault` may still serve a session. */
  private async keepsSyncState(remote: Did, vault: VaultId, doc: string, now: number): Promise<boolean> {
    const log = (await this.loadVault(vault)) ?? this.replica.log(vault);
    if (!log || (vault !== this.own && !this.held.has(vault) && !this.shared.has(vault))) return false;
    // Inboxes and relay slots have no scope to be entitled to: they age out with the remote.
    if (!isScopeName(doc)) return true;
    const mine = vault === this.own || this.held.has(vault) ? remote : this.identity.did;
    return log.entitlement(mine, doc, now).entitled;
  }

  /** Deletes the persisted sync states with `remote` of `scopes` in `vault` (after its grant was revoked). */
  private async forgetSyncStates(remote: Did, vault: VaultId, scopes: readonly ScopeName[]): Promise<void> {
    const now = this.now();
    const log = this.replica.log(vault);
    const gone = scopes.filter((scope) => !log?.entitlement(remote, scope, now).entitled);
    if (gone.length > 0) await this.store.batchSealed(gone.map((scope) => ({ type: 'delete' as const, key: `${SYNC}${remote}/${vault}/${scope}` })));
  }

  private invitationBook(): InvitationBook {
    const book: InvitationBook = {
      consume: async (token: Uint8Array, remote: Did, now: number): Promise<TokenVerdict> => {
        const key = `${INVITE}${toBase64Url(token)}`;
        const stored = await this.store.getSealed(key);
        if (!stored) return 'unknown';
        const record = decodeCanonical(stored) as { expires: number; usedBy: string | null; vault?: string };
        if (record.usedBy !== null) return 'used';
        if (record.expires <= now) return 'expired';
        await this.store.putSealed(key, encodeCanonical({ ...record, usedBy: remote }));
        // Invitations written before dependents' vaults existed name no vault: the device's own.
        const vault = (record.vault as VaultId | undefined) ?? this.own;
        if (vault !== undefined) this.noteRedeemed({ remote, at: now, vault });
        return 'ok';
      },
    };
    return {
      // Atomic per token (InvitationBook's contract): two redemptions of one token give one 'ok'.
      consume: (token, remote, now) => {
        const key = toBase64Url(token);
        const running = this.consuming.get(key);
        const next = (running ?? Promise.resolve('unknown' as TokenVerdict)).then(
          () => book.consume(token, remote, now),
          () => book.consume(token, remote, now),
        );
        this.consuming.set(key, next);
        const done = (): void => {
          if (this.consuming.get(key) === next) this.consuming.delete(key);
        };
        next.then(done, done);
        return next;
      },
    };
  }

  /** Keeps a consumed token's vault until its request is queued; a redemption whose request never was (queue full, stream gone) ages out. */
  private noteRedeemed(item: { remote: Did; at: number; vault: VaultId }): void {
    while (this.redeemed.length > 0 && (this.redeemed.length >= MAX_UNQUEUED_REDEMPTIONS || this.redeemed[0]!.at < item.at - UNQUEUED_REDEMPTION_MS)) this.redeemed.shift();
    this.redeemed.push(item);
  }

  private async syncFailure<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof SyncError) throw error;
      throw new NodeError('SYNC_FAILED', 'the peer could not be reached', { cause: error });
    }
  }
}


function headsOf(target: ScopeTarget): string[] {
  return Automerge.getHeads(target.current());
}

/** The writer's refusals as the engine's errors (messages name the entry type, never content). */
function asNodeError(error: unknown, type: string): unknown {
  if (error instanceof GrantsError && error.code === 'NOT_AUTHORIZED') return new NodeError('NOT_AUTHORIZED', `this device may not write ${type} in that vault now`, { cause: error });
  if (error instanceof GrantsError && error.code === 'INVALID_INPUT') return new NodeError('INVALID_INPUT', error.message, { cause: error });
  return error;
}

/** A peer address given by a caller, parsed (INVALID_INPUT when it is not a multiaddr). */
function dialAddress(address: string): Multiaddr {
  try {
    return multiaddr(address);
  } catch (error) {
    throw new NodeError('INVALID_INPUT', '"address" expected a multiaddr', { cause: error });
  }
}

function genesisLabel(log: LogVerifier): string | null {
  const body = log.entry(log.vault)?.body as GenesisBody | undefined;
  return body?.label ?? null;
}
