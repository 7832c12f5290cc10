import * as Automerge from '@automerge/automerge';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { decodeCanonical, encodeCanonical, openSealed, randomBytes, sealTo, toBase64Url, utf8, fromUtf8, type Did, type Identity } from '../crypto/index.js';
import {
  LogVerifier,
  LogWriter,
  entryIdOf,
  isScopeName,
  SCOPE_NAMES,
  type DeviceAddBody,
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
import { GrantLogReplica } from './log-replica.js';
import { INDEX_KEY_EPOCH, openScopeKeys, sealScopeKeys, type RecordsPort, type ScopeKeyExport } from './records-port.js';
import { ScopeTarget } from './scope-target.js';

/** What the engine keeps at rest: src/store's Vault (sealed records) has this shape. */
export interface EngineStore {
  getSealed(key: string): Promise<Uint8Array | undefined>;
  putSealed(key: string, value: Uint8Array): Promise<void>;
  rangeSealed(prefix: string): AsyncIterable<{ key: string; value: Uint8Array }>;
  batchSealed(operations: readonly ({ type: 'put'; key: string; value: Uint8Array } | { type: 'delete'; key: string })[]): Promise<void>;
}

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
  readonly openRecords: (vault: VaultId, role: 'own' | 'shared', seed?: readonly ScopeKeyExport[]) => Promise<RecordsPort>;
  /** The ban list the libp2p node's gater reads. @default a new one */
  readonly bans?: PeerBans;
  /** @default Date.now */
  readonly now?: () => number;
}

/** What revoking did; `notice` is what a UI must show. */
export interface RevokeResult {
  readonly revoked: EntryId;
  /** Scopes whose key was rotated, with the new epoch. */
  readonly rotated: readonly { scope: ScopeName; epoch: number }[];
  /** Live grants that received the new keys (rekey entries). */
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

/** Engine events (a `CustomEvent` each). */
export type VaultNodeEvent = 'request' | 'granted' | 'revoked' | 'received' | 'misbehaviour' | 'log';

const OWN = 'engine/own';
/** Every scope, sorted (the order keys are sealed in). */
const SCOPES_IN_ORDER: readonly ScopeName[] = [...SCOPE_NAMES].sort();
const LOG = 'engine/log/';
const SHARED = 'engine/shared/';
const INVITE = 'engine/invite/';
const SYNC = 'engine/sync/';
const INBOX = 'engine/inbox/';
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
 * Events: see {@link VaultNodeEvent}.
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
  /** Relays this device deposited at (to drop a revoked party's slots there). */
  private readonly relays = new Map<string, Multiaddr>();
  private readonly mailbox: MailboxClient;
  /** Inbox documents by `<vault>/<provider did>`. */
  private readonly inboxes = new Map<string, { vault: VaultId; from: Did; doc: DocumentHandle<Record<string, Uint8Array>> }>();

  private constructor(init: VaultNodeInit, replica: GrantLogReplica) {
    super();
    this.identity = init.identity;
    this.libp2p = init.libp2p;
    this.store = init.store;
    this.openRecords = init.openRecords;
    this.now = init.now ?? Date.now;
    this.bans = init.bans ?? new PeerBans();
    this.replica = replica;
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
    this.queue.addEventListener('request', (e) => this.emit('request', (e as CustomEvent<PendingRequest>).detail));
  }

  /** Starts the engine: loads the logs and shared vaults it keeps, registers the protocols. */
  static async start(init: VaultNodeInit): Promise<VaultNode> {
    const holder: { node?: VaultNode } = {};
    const replica = new GrantLogReplica({
      identity: init.identity,
      ...(init.now ? { now: init.now } : {}),
      onAdded: (vault, entries) => holder.node!.persistEntries(vault, entries),
    });
    const node = new VaultNode(init, replica);
    holder.node = node;
    await node.load();
    await node.docs.start();
    await node.logs.start();
    await node.invites.start();
    return node;
  }

  /** Stops the protocols (the libp2p node is the caller's) and flushes scope documents. */
  async stop(): Promise<void> {
    await this.docs.stop();
    await this.logs.stop();
    await this.invites.stop();
    for (const target of this.targets.values()) await (await target).flush().catch(() => undefined);
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
  async editRecords<T>(scopes: readonly ScopeName[], edit: (records: RecordsPort) => Promise<T>): Promise<T> {
    const vault = this.requireOwn();
    const result = await edit(await this.recordsOf(vault));
    for (const scope of scopes) {
      const target = this.targets.get(`${vault}/${scope}`);
      if (target) await (await target).refresh();
    }
    return result;
  }

  /** A one-time invitation (a `pvault:` string for a QR code or a link) reaching this device at `address`. */
  async invite(address: string, options: { ttlMs?: number } = {}): Promise<string> {
    this.requireOwn();
    const invitation = newInvitation(this.identity.did, address, { now: this.now(), ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}) });
    await this.store.putSealed(`${INVITE}${toBase64Url(invitation.token)}`, encodeCanonical({ expires: invitation.expires, usedBy: null }));
    return encodeInvitation(invitation);
  }

  /** Requests waiting for the patient. */
  pendingRequests(): PendingRequest[] {
    return this.queue.pending();
  }

  /** Approves a request: grants what it asked (or what `edit` says) and answers the requester. */
  async approve(requestId: string, edit: { scopes?: readonly ScopeName[]; days?: number; purpose?: GrantPurpose } = {}): Promise<EntryId> {
    const request = this.queue.get(requestId);
    if (!request) throw new NodeError('NOT_FOUND', 'no such request is waiting');
    const scopes = edit.scopes ?? request.request.scopes.filter(isScopeName);
    const days = edit.days ?? request.request.days;
    const expires = this.now() + days * 86_400_000;
    const grant = await this.grant(request.from, { scopes, purpose: edit.purpose ?? request.request.purpose, expires });
    this.queue.approve(requestId, { vault: this.requireOwn(), grant, scopes: [...scopes], expires });
    return grant;
  }

  /** Denies a request. */
  deny(requestId: string): void {
    this.queue.deny(requestId);
  }

  /** Grants `grantee` read access to `scopes`, sealing each scope's keys to it. */
  async grant(grantee: Did, options: { scopes: readonly ScopeName[]; purpose: GrantPurpose; expires: number | null; append?: boolean }): Promise<EntryId> {
    const vault = this.requireOwn();
    if (options.scopes.length === 0) throw new NodeError('INVALID_INPUT', 'a grant needs at least one scope');
    const records = await this.recordsOf(vault);
    const scopes = [...new Set(options.scopes)].sort();
    const keys = (await Promise.all(scopes.map((scope) => sealScopeKeys(grantee, vault, records.exportScopeKeys(scope))))).flat();
    keys.sort((a, b) => (a.scope === b.scope ? a.epoch - b.epoch : a.scope < b.scope ? -1 : 1));
    // 'append' lets the grantee push results into its inbox for this patient (never into a scope).
    const body: GrantBody = { grantee, scopes, actions: options.append === true ? ['append', 'read'] : ['read'], purpose: options.purpose, expires: options.expires, keys };
    const entry = await this.writerOf(vault).append(this.identity, 'grant', body, { ts: this.now() });
    await this.noteWritten(vault, [entry]);
    this.emit('granted', { grant: entry.id, grantee, scopes });
    return entry.id;
  }

  /**
   * Revokes a grant: writes the `revoke` entry, rotates the key of each of its scopes and seals
   * the new epoch to every remaining live grantee of that scope (`rekey`), and ends the revoked
   * party's streams at once. What it already copied cannot be recalled ({@link COPIED_DATA_NOTICE}).
   */
  async revoke(grant: EntryId, reason: string | null = null): Promise<RevokeResult> {
    const vault = this.requireOwn();
    const writer = this.writerOf(vault);
    const found = writer.log.entry(grant);
    if (!found || found.header.type !== 'grant' || found.body === undefined) throw new NodeError('NOT_FOUND', `no grant ${grant} in this vault`);
    const body = found.body as GrantBody;
    const revoke = await writer.append(this.identity, 'revoke', { grant, reason }, { ts: this.now() });
    await this.noteWritten(vault, [revoke]);
    const streamsEnded = await this.docs.reauthorize((s) => s.vault === vault && s.remote === body.grantee);
    const records = await this.recordsOf(vault);
    const rotated: { scope: ScopeName; epoch: number }[] = [];
    const rekeyed: EntryId[] = [];
    for (const scope of body.scopes) rotated.push({ scope, epoch: await records.rotateScopeKey(scope) });
    for (const live of this.liveGrants()) {
      const scopes = live.scopes.filter((s) => body.scopes.includes(s));
      if (scopes.length === 0) continue;
      const keys = (
        await Promise.all(scopes.map((scope) => sealScopeKeys(live.grantee, vault, records.exportScopeKeys(scope, [rotated.find((r) => r.scope === scope)!.epoch]), { withIndexKey: false })))
      ).flat();
      const rekey: RekeyBody = { grant: live.entry, keys };
      const entry = await writer.append(this.identity, 'rekey', rekey, { ts: this.now() });
      await this.noteWritten(vault, [entry]);
      rekeyed.push(entry.id);
    }
    let droppedAtRelays = 0;
    for (const relay of this.relays.values()) {
      for (const name of [...body.scopes, 'log']) {
        const doc = slotDocName({ depositor: this.identity.did, recipient: body.grantee, name });
        droppedAtRelays += (await this.mailbox.drop(relay, vault, doc).catch(() => false)) ? 1 : 0;
      }
    }
    this.emit('revoked', { grant, grantee: body.grantee });
    return { revoked: revoke.id, rotated, rekeyed, streamsEnded, droppedAtRelays, notice: COPIED_DATA_NOTICE };
  }

  /** Live grants of this device's vault now. */
  liveGrants(): LiveGrant[] {
    const vault = this.requireOwn();
    return [...this.writerOf(vault).log.verdict(this.now()).grants];
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

  /** The log copy of `vault` (own or shared). */
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
    const entry = await this.writerOf(vault).append(this.identity, 'device.add', { device, label, keys }, { ts: this.now() });
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

  /** Syncs every scope of this vault both ways with another device of the patient at `peer`. */
  async syncScopes(peer: Multiaddr, options: { live?: boolean } = {}): Promise<DocSession[]> {
    const vault = this.requireOwn();
    const records = await this.recordsOf(vault);
    const sessions: DocSession[] = [];
    for (const scope of SCOPES_IN_ORDER) {
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
    const vaults = [...(this.own ? [this.own] : []), ...this.shared.keys()] as VaultId[];
    return {
      sessions: this.docs.sessions().map((s) => ({ remote: s.remote, vault: s.vault, doc: s.doc, role: s.role })),
      peers: this.libp2p.getPeers().map((p) => p.toString()),
      bans: this.bans.list(),
      misbehaviour: this.logs.recorded(),
      forks: vaults.flatMap((vault) => this.replica.forks(vault).map((f) => ({ vault, signer: f.signer, size: f.size }))),
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
      if (!address || address.recipient !== this.identity.did || !this.replica.log(slot.vault)) continue;
      const item = byVault.get(slot.vault as VaultId) ?? { depositor: address.depositor, scopes: [], log: false };
      if (address.name === 'log') item.log = true;
      else if (isScopeName(address.name)) item.scopes.push(address.name);
      byVault.set(slot.vault as VaultId, item);
    }
    const out: { vault: VaultId; scopes: ScopeName[]; entries: number }[] = [];
    for (const [vault, item] of byVault) {
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
          const receipt = await this.writerOf(vault).append(this.identity, 'access', { grant: grant.entry, scope, heads: headsOf(target) }, { ts: this.now() });
          await this.noteWritten(vault, [receipt]);
          receipts.push(receipt);
        }
        // The patient reads its receipts from the relay later: everything this device wrote.
        const own = log.entries().filter((e) => log.entry(entryIdOf(e.header, e.signature))?.header.author === this.identity.did);
        if (own.length > 0) await this.depositEntries(relay, vault, item.depositor, own);
      }
      out.push({ vault, scopes: pulled, entries });
    }
    return out;
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
    return this.pull(vault);
  }

  /**
   * Pulls a shared vault: the log (verified), then every scope this device holds a live grant for,
   * each followed by a signed `access` receipt pushed back to the patient's log.
   */
  async pull(vault: VaultId, options: { live?: boolean } = {}): Promise<PullResult> {
    const shared = this.shared.get(vault);
    if (!shared) throw new NodeError('NOT_FOUND', 'this vault is not shared with this device');
    const peer = multiaddr(shared.address);
    await this.syncFailure(() => this.logs.exchange(peer, vault));
    const log = this.replica.log(vault)!;
    const now = this.now();
    const mine = log.verdict(now).grants.filter((g) => g.grantee === this.identity.did);
    await this.importKeys(vault, log);
    const records = await this.recordsOf(vault);
    const scopes = [...new Set(mine.flatMap((g) => g.scopes))].sort();
    const sessions: DocSession[] = [];
    const receipts: EntryId[] = [];
    const writer = this.writerOf(vault);
    for (const scope of scopes) {
      const target = await this.targetOf(vault, scope, records);
      const session = await this.syncFailure(() => this.docs.sync(peer, { vault, doc: scope, target, live: options.live ?? false }));
      await session.synced();
      await target.flush();
      sessions.push(session);
      const grant = mine.find((g) => g.scopes.includes(scope))!;
      const receipt = await writer.append(this.identity, 'access', { grant: grant.entry, scope, heads: headsOf(target) }, { ts: this.now() });
      await this.noteWritten(vault, [receipt]);
      receipts.push(receipt.id);
    }
    if (receipts.length > 0) await this.syncFailure(() => this.logs.exchange(peer, vault));
    return { vault, scopes, receipts, sessions };
  }

  /** The records of a vault shared with this device (opened with the keys its grants carry). */
  async sharedRecords(vault: VaultId): Promise<RecordsPort> {
    if (!this.shared.has(vault)) throw new NodeError('NOT_FOUND', 'this vault is not shared with this device');
    return this.recordsOf(vault);
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

  /** Results waiting in this vault's inboxes, opened (they are sealed to this patient). */
  async inbox(): Promise<InboxItem[]> {
    const vault = this.requireOwn();
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

  /** Accepts a pushed result into `scope` of the patient's records and removes it from the inbox. */
  async acceptResult(from: Did, id: string, scope: ScopeName): Promise<void> {
    const item = (await this.inbox()).find((i) => i.from === from && i.id === id);
    if (!item) throw new NodeError('NOT_FOUND', 'no such result in the inbox');
    await this.editRecords([scope], async (records) => {
      if (!records.importResources) throw new NodeError('INVALID_INPUT', 'this records store cannot import');
      await records.importResources([
        { resource: item.resource, scope, provenance: { source: 'fhir-json', verified: false, importedAt: new Date(this.now()).toISOString() }, sourceKey: `inbox:${from}:${id}` },
      ]);
    });
    await this.dropInboxItem(from, id);
  }

  /** Rejects a pushed result: it is removed from the inbox and never imported. */
  async rejectResult(from: Did, id: string): Promise<void> {
    await this.dropInboxItem(from, id);
  }

  private async dropInboxItem(from: Did, id: string): Promise<void> {
    const vault = this.requireOwn();
    const handle = await this.inboxOf(from);
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
      records = this.openRecords(vault, vault === this.own ? 'own' : 'shared');
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
    const vaults = [...(this.own ? [this.own] : []), ...this.shared.keys()] as VaultId[];
    for (const vault of vaults) {
      const entries: SignedEntry[] = [];
      let count = 0;
      for await (const { value } of this.store.rangeSealed(`${LOG}${vault}/`)) {
        const e = decodeCanonical(value) as { header: Uint8Array; signature: Uint8Array; body?: Uint8Array };
        entries.push(e.body === undefined ? { header: e.header, signature: e.signature } : { header: e.header, signature: e.signature, body: e.body });
        count++;
      }
      const log = new LogVerifier({ vault });
      await log.add(entries, { order: 'given' });
      this.logCounters.set(vault, count);
      const patient = this.shared.get(vault)?.patient;
      this.replica.track(log, patient ? [patient] : []);
    }
  }

  private async adoptShared(shared: SharedVault): Promise<void> {
    if (!this.shared.has(shared.vault)) {
      this.replica.track(new LogVerifier({ vault: shared.vault }), [shared.patient]);
    }
    this.shared.set(shared.vault, shared);
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

  private authorize(remote: Did, vault: string, doc: string): AccessMode | false {
    const log = this.replica.log(vault);
    if (log && vault === this.own && doc === `${INBOX_DOC}${remote}`) {
      // A provider's own inbox at the patient: writable while it holds a live grant with 'append'.
      const now = this.now();
      return log.verdict(now).grants.some((g) => g.grantee === remote && g.actions.includes('append')) ? 'write' : false;
    }
    if (!log || !isScopeName(doc)) return false;
    const now = this.now();
    const read = log.entitlement(remote, doc, now, 'read');
    if (!read.entitled) return false;
    // Owners (the patient's own devices) and guardians sync both ways; grantees read.
    return read.as === 'grant' ? 'read' : 'write';
  }

  private async resolveTarget(vault: string, doc: string): Promise<SyncTarget | undefined> {
    if (vault === this.own && doc.startsWith(INBOX_DOC)) return this.inboxOf(doc.slice(INBOX_DOC.length) as Did);
    if (!isScopeName(doc) || !this.replica.log(vault)) return undefined;
    return this.targetOf(vault as VaultId, doc, await this.recordsOf(vault as VaultId));
  }

  private syncStates(): SyncStateStore {
    return {
      load: (remote, vault, doc) => this.store.getSealed(`${SYNC}${remote}/${vault}/${doc}`),
      save: (remote, vault, doc, state) => this.store.putSealed(`${SYNC}${remote}/${vault}/${doc}`, state),
    };
  }

  private invitationBook(): InvitationBook {
    return {
      consume: async (token: Uint8Array, remote: Did, now: number): Promise<TokenVerdict> => {
        const key = `${INVITE}${toBase64Url(token)}`;
        const stored = await this.store.getSealed(key);
        if (!stored) return 'unknown';
        const record = decodeCanonical(stored) as { expires: number; usedBy: string | null };
        if (record.usedBy !== null) return 'used';
        if (record.expires <= now) return 'expired';
        await this.store.putSealed(key, encodeCanonical({ expires: record.expires, usedBy: remote }));
        return 'ok';
      },
    };
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


