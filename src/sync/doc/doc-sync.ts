import * as Automerge from '@automerge/automerge';
import type { Connection, Stream } from '@libp2p/interface';
import type { Did } from '../../crypto/index.js';
import { deferred } from '../deferred.js';
import { SyncError, describeError, type SyncErrorCode } from '../errors.js';
import { FramedStream, RemoteEndError, WIRE_VERSION } from '../framing.js';
import { openStream, remoteDidOf, type DialTarget, type ProtocolHost } from '../host.js';
import type { PeerBans } from '../libp2p/index.js';
import {
  DOC_MAX_INBOUND_STREAMS,
  DOC_MAX_OUTBOUND_STREAMS,
  DOC_MAX_SESSIONS,
  DOC_MAX_SESSIONS_PER_PEER,
  DOC_PROTOCOL,
  DOC_READ_TIMEOUT_MS,
  MAX_DOC_MESSAGE_BYTES,
} from './constants.js';
import type { SyncTarget } from './document-handle.js';
import { openSchema, readySchema, sessionMessageSchema, type OpenMessage, type SessionMessage } from './messages.js';

/** What a remote may do with a document: read it, or also write changes into it. */
export type AccessMode = 'read' | 'write';

/**
 * The serving side's decision, asked before the first message and on every message: `false` ends
 * the stream (NOT_AUTHORIZED at first, AUTHORIZATION_ENDED later).
 */
export type DocAuthorizer = (remote: Did, vault: string, doc: string) => AccessMode | false | Promise<AccessMode | false>;

/** The document the serving side holds under (vault, doc), or undefined (NOT_FOUND). */
export type DocResolver = (vault: string, doc: string, remote: Did, access: AccessMode) => SyncTarget | undefined | Promise<SyncTarget | undefined>;

/** Where Automerge sync states are kept between sessions, so a restarted peer resumes. */
export interface SyncStateStore {
  load(remote: Did, vault: string, doc: string): Promise<Uint8Array | undefined>;
  save(remote: Did, vault: string, doc: string, state: Uint8Array): Promise<void>;
}

/** Told each time changes from a remote were applied to a document. */
export interface ReceivedEvent {
  readonly remote: Did;
  readonly vault: string;
  readonly doc: string;
  /** Whether this came as a whole snapshot (a first sync). */
  readonly snapshot: boolean;
  /** The first time this session received anything. */
  readonly first: boolean;
  /** Heads of the document after applying. */
  readonly heads: Automerge.Heads;
  readonly role: 'dialer' | 'listener';
}

/** How a session ended. `code` is undefined for a normal close. */
export interface SessionEnd {
  readonly remote: Did;
  readonly vault: string;
  readonly doc: string;
  readonly role: 'dialer' | 'listener';
  readonly code?: SyncErrorCode;
  readonly detail: string;
  /** Whether the remote (rather than this side) ended it. */
  readonly byRemote: boolean;
}

/**
 * Asked with the length a frame announces, before its body is buffered, for every frame of a
 * session whose remote may write here: throw a {@link SyncError} (LIMIT_REACHED) to refuse it.
 * The session then ends with that code; the node stays up and the remote is not banned.
 */
export type DocAdmission = (session: DocSession, claimedBytes: number) => void;

/** Options of {@link DocSync}. */
export interface DocSyncInit {
  /** Decides what a remote may do with a document (serving side). */
  readonly authorize: DocAuthorizer;
  /** Finds the document to serve. */
  readonly resolve: DocResolver;
  /** Keeps sync states across restarts. @default none: every session starts afresh */
  readonly syncStates?: SyncStateStore;
  /** Told when remote changes were applied (the engine writes an `access` receipt on a pull). */
  readonly onReceived?: (event: ReceivedEvent) => void;
  /** Told when a session ends, with the reason. */
  readonly onSessionEnd?: (event: SessionEnd) => void;
  /** Largest message. @default MAX_DOC_MESSAGE_BYTES (64 MiB) */
  readonly maxMessageBytes?: number;
  /** Wait for a reply during a round. @default DOC_READ_TIMEOUT_MS (30 s) */
  readonly readTimeoutMs?: number;
  /** Inbound doc streams per connection. @default DOC_MAX_INBOUND_STREAMS (16) */
  readonly maxInboundStreams?: number;
  /** Outbound doc streams per connection. @default DOC_MAX_OUTBOUND_STREAMS (32) */
  readonly maxOutboundStreams?: number;
  /** Allow relayed (limited) connections. @default true */
  readonly runOnLimitedConnection?: boolean;
  /** Checks each incoming frame a writing remote announces (a relay's slot quota). @default none */
  readonly admit?: DocAdmission;
  /**
   * Sessions one remote (by did, over all its connections) may hold here at once; more are
   * refused with LIMIT_REACHED. @default DOC_MAX_SESSIONS_PER_PEER (64)
   */
  readonly maxSessionsPerPeer?: number;
  /** Sessions this node holds at once, over all peers. @default DOC_MAX_SESSIONS (4096) */
  readonly maxSessions?: number;
}

/** Components of {@link DocSync}. */
export interface DocSyncComponents {
  readonly host: ProtocolHost;
  /** Peers that send malformed or oversized messages are banned here. */
  readonly bans?: PeerBans;
}

/** Options of {@link DocSync.sync}. */
export interface SyncOptions {
  readonly vault: string;
  readonly doc: string;
  readonly target: SyncTarget;
  /** Keep the stream open and exchange every later change both ways. @default false */
  readonly live?: boolean;
  /**
   * Apply changes the remote sends. False for a deposit at a relay: the relay may only receive, and
   * changes it sends end the session (READ_ONLY). @default true
   */
  readonly accept?: boolean;
  readonly signal?: AbortSignal;
}

/** Codes that show the remote is broken or hostile (not merely unauthorised or gone). */
const MISBEHAVIOUR: ReadonlySet<SyncErrorCode> = new Set(['MALFORMED_MESSAGE', 'MESSAGE_TOO_LARGE', 'UNEXPECTED_MESSAGE']);

/**
 * `/patient-vault/doc/1.0.0`: the Automerge sync protocol for one document.
 *
 * Dialer sends `open {vault, doc, heads}`; the listener asks `authorize` (false → `end
 * NOT_AUTHORIZED`), finds the document, replies `ready {heads, access}`. Then each side that holds
 * data the other lacks entirely sends it as one `snapshot` (Automerge.save; STACK.md: a first sync
 * this way is 13–16× faster than the sync protocol alone), and both run Automerge sync rounds
 * (`sync {msg, heads}`) until each has the other's heads. In live mode the stream stays open and
 * every later change flows at once. The listener re-asks `authorize` on every message it receives
 * and before every message it sends; {@link reauthorize} re-asks at once for all sessions (after a
 * revocation).
 */
export class DocSync {
  private readonly host: ProtocolHost;
  private readonly bans: PeerBans | undefined;
  private readonly init: DocSyncInit;
  private readonly maxMessageBytes: number;
  private readonly readTimeoutMs: number;
  private readonly active = new Set<DocSession>();
  private started = false;

  constructor(components: DocSyncComponents, init: DocSyncInit) {
    this.host = components.host;
    this.bans = components.bans;
    this.init = init;
    this.maxMessageBytes = init.maxMessageBytes ?? MAX_DOC_MESSAGE_BYTES;
    this.readTimeoutMs = init.readTimeoutMs ?? DOC_READ_TIMEOUT_MS;
  }

  /** Registers the protocol handler. */
  async start(): Promise<void> {
    if (this.started) return;
    await this.host.handle(DOC_PROTOCOL, (stream, connection) => this.handleInbound(stream, connection), {
      maxInboundStreams: this.init.maxInboundStreams ?? DOC_MAX_INBOUND_STREAMS,
      maxOutboundStreams: this.init.maxOutboundStreams ?? DOC_MAX_OUTBOUND_STREAMS,
      runOnLimitedConnection: this.init.runOnLimitedConnection ?? true,
    });
    this.started = true;
  }

  /** Unregisters the handler and closes every session. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.host.unhandle(DOC_PROTOCOL);
    await Promise.all([...this.active].map((s) => s.close()));
  }

  /** The sessions running now. */
  sessions(): readonly DocSession[] {
    return [...this.active];
  }

  /**
   * Re-asks `authorize` for every session this side serves (or those `which` selects); those
   * refused end with AUTHORIZATION_ENDED. Returns how many were ended.
   */
  async reauthorize(which: (session: DocSession) => boolean = () => true): Promise<number> {
    const results = await Promise.all([...this.active].filter((s) => s.role === 'listener' && which(s)).map((s) => s.recheck()));
    return results.filter((ended) => ended).length;
  }

  /**
   * Syncs one document with `peer`. Resolves once the handshake is done; await
   * {@link DocSession.synced} for the first time both sides hold the same heads. Without `live`,
   * the session closes itself once synced.
   */
  async sync(peer: DialTarget, options: SyncOptions): Promise<DocSession> {
    const { stream, connection, remote } = await openStream(this.host, peer, DOC_PROTOCOL, {
      runOnLimitedConnection: this.init.runOnLimitedConnection ?? true,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const framed = new FramedStream(stream, { maxMessageBytes: this.maxMessageBytes, readTimeoutMs: this.readTimeoutMs });
    try {
      const localHeads = Automerge.getHeads(options.target.current());
      await framed.write({ v: WIRE_VERSION, t: 'open', vault: options.vault, doc: options.doc, heads: localHeads });
      const ready = await framed.read(readySchema);
      const session = new DocSession(this, framed, {
        role: 'dialer',
        remote,
        vault: options.vault,
        doc: options.doc,
        target: options.target,
        remoteHeads: ready.heads,
        // What the remote may do to *our* copy: what we send is governed by what it granted us.
        remoteMayWrite: options.accept ?? true,
        weMayWrite: ready.access === 'write',
        live: options.live ?? false,
        remotePeer: connection.remotePeer.toString(),
      });
      this.track(session);
      await session.begin();
      return session;
    } catch (error) {
      const failure = asSyncError(error);
      if (!(error instanceof RemoteEndError)) await framed.end(failure.code, failure.message);
      else framed.abort(failure);
      throw failure;
    }
  }

  /** @internal */
  persistence(): SyncStateStore | undefined {
    return this.init.syncStates;
  }

  /** @internal */
  authorizer(): DocAuthorizer {
    return this.init.authorize;
  }

  /** @internal */
  timeout(): number {
    return this.readTimeoutMs;
  }

  /** @internal The admission check of frames a writing remote sends, if any. */
  admission(): DocAdmission | undefined {
    return this.init.admit;
  }

  /** @internal */
  received(event: ReceivedEvent): void {
    try {
      this.init.onReceived?.(event);
    } catch {
      // A listener's failure must not break the session; the engine reports its own errors.
    }
  }

  /** @internal */
  ended(session: DocSession, end: SessionEnd): void {
    this.active.delete(session);
    if (end.code !== undefined && MISBEHAVIOUR.has(end.code) && !end.byRemote) {
      this.bans?.ban(session.remotePeerId, end.code);
    }
    try {
      this.init.onSessionEnd?.(end);
    } catch {
      // as above
    }
  }

  private track(session: DocSession): void {
    this.active.add(session);
  }

  /** Refuses a new session with `remote` when it, or this node, holds the most allowed. */
  private checkCapacity(remote: Did): void {
    if (this.active.size >= (this.init.maxSessions ?? DOC_MAX_SESSIONS)) {
      throw new SyncError('LIMIT_REACHED', 'this node holds the most document sessions it allows');
    }
    let ofRemote = 0;
    for (const session of this.active) if (session.remote === remote) ofRemote++;
    if (ofRemote >= (this.init.maxSessionsPerPeer ?? DOC_MAX_SESSIONS_PER_PEER)) {
      throw new SyncError('LIMIT_REACHED', 'this peer holds the most document sessions allowed here');
    }
  }

  private async handleInbound(stream: Stream, connection: Connection): Promise<void> {
    const framed = new FramedStream(stream, { maxMessageBytes: this.maxMessageBytes, readTimeoutMs: this.readTimeoutMs });
    let open: OpenMessage | undefined;
    let session: DocSession | undefined;
    try {
      const remote = remoteDidOf(connection);
      open = await framed.read(openSchema);
      this.checkCapacity(remote);
      const access = await this.init.authorize(remote, open.vault, open.doc);
      if (access === false) throw new SyncError('NOT_AUTHORIZED', `no live grant for '${open.doc}'`);
      const target = await this.init.resolve(open.vault, open.doc, remote, access);
      if (!target) throw new SyncError('NOT_FOUND', `no document '${open.doc}' in this vault here`);
      // Tracked before `ready` goes out, so the document counts as in use from here on (a relay
      // does not evict a slot a session is about to sync).
      session = new DocSession(this, framed, {
        role: 'listener',
        remote,
        vault: open.vault,
        doc: open.doc,
        target,
        remoteHeads: open.heads,
        remoteMayWrite: access === 'write',
        weMayWrite: true,
        live: true,
        remotePeer: connection.remotePeer.toString(),
      });
      this.track(session);
      await framed.write({ v: WIRE_VERSION, t: 'ready', heads: Automerge.getHeads(target.current()), access });
      await session.begin();
    } catch (error) {
      if (session) this.active.delete(session);
      const failure = asSyncError(error);
      if (error instanceof RemoteEndError) {
        framed.abort(failure);
        return;
      }
      await framed.end(failure.code, failure.message);
      if (MISBEHAVIOUR.has(failure.code)) {
        this.bans?.ban(connection.remotePeer, failure.code);
        await this.host.hangUp(connection.remotePeer).catch(() => undefined);
      }
      this.init.onSessionEnd?.({
        remote: safeDid(connection),
        vault: open?.vault ?? '',
        doc: open?.doc ?? '',
        role: 'listener',
        code: failure.code,
        detail: failure.message,
        byRemote: false,
      });
    }
  }
}

interface SessionInit {
  readonly role: 'dialer' | 'listener';
  readonly remote: Did;
  readonly vault: string;
  readonly doc: string;
  readonly target: SyncTarget;
  readonly remoteHeads: readonly string[];
  /** Whether changes from the remote may be applied here. */
  readonly remoteMayWrite: boolean;
  /** Whether the remote accepts changes from us (a snapshot is a change). */
  readonly weMayWrite: boolean;
  readonly live: boolean;
  /** The remote's PeerId string, for bans. */
  readonly remotePeer: string;
}

/** One running exchange of one document with one peer. */
export class DocSession {
  readonly role: 'dialer' | 'listener';
  readonly remote: Did;
  readonly vault: string;
  readonly doc: string;
  /** The remote's PeerId, as a string. */
  readonly remotePeerId: string;
  private readonly owner: DocSync;
  private readonly framed: FramedStream;
  private readonly target: SyncTarget;
  private readonly init: SessionInit;
  private state: Automerge.SyncState = Automerge.initSyncState();
  private remoteHeads: readonly string[];
  private queue: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  private receivedAny = false;
  private finished = false;
  private readonly syncedSignal = deferred<void>();
  private readonly closedSignal = deferred<SessionEnd>();

  constructor(owner: DocSync, framed: FramedStream, init: SessionInit) {
    this.owner = owner;
    this.framed = framed;
    this.target = init.target;
    this.init = init;
    this.role = init.role;
    this.remote = init.remote;
    this.vault = init.vault;
    this.doc = init.doc;
    this.remoteHeads = init.remoteHeads;
    this.remotePeerId = init.remotePeer;
    // Nobody may be left with an unhandled rejection if they never await these.
    this.syncedSignal.promise.catch(() => undefined);
  }

  /** Resolves the first time both sides hold the same heads; rejects if the session ends first. */
  synced(): Promise<void> {
    return this.syncedSignal.promise;
  }

  /** Resolves with how the session ended. */
  closed(): Promise<SessionEnd> {
    return this.closedSignal.promise;
  }

  /** Ends the session (normal close, no reason). */
  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.finish(undefined, 'closed', false);
  }

  /** @internal Re-asks authorize; ends the session if refused. Returns whether it ended. */
  async recheck(): Promise<boolean> {
    if (this.finished) return false;
    const allowed = await this.allowed();
    if (allowed) return false;
    await this.finish('AUTHORIZATION_ENDED', 'the grant for this document ended', false);
    return true;
  }

  /** @internal Starts the exchange: first messages, then the read loop and change subscription. */
  async begin(): Promise<void> {
    const persisted = await this.owner.persistence()?.load(this.remote, this.vault, this.doc).catch(() => undefined);
    if (persisted && this.remoteHeads.length > 0) {
      try {
        this.state = Automerge.decodeSyncState(persisted);
      } catch {
        this.state = Automerge.initSyncState();
      }
    }
    const doc = this.target.current();
    const localHeads = Automerge.getHeads(doc);
    if (this.remoteHeads.length === 0 && localHeads.length > 0 && this.init.weMayWrite) {
      await this.framed.write({ v: WIRE_VERSION, t: 'snapshot', bytes: Automerge.save(doc) });
    }
    this.unsubscribe = this.target.subscribe(() => this.enqueue(() => this.sendSyncMessage()));
    if (sameHeads(this.remoteHeads, localHeads)) this.syncedSignal.resolve();
    await this.sendSyncMessage();
    void this.readLoop();
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((error: unknown) => this.fail(error));
  }

  private async allowed(): Promise<boolean> {
    if (this.role !== 'listener') return true;
    try {
      const access = await this.owner.authorizer()(this.remote, this.vault, this.doc);
      return access !== false && (access === 'write' || !this.init.remoteMayWrite);
    } catch {
      return false;
    }
  }

  private async sendSyncMessage(): Promise<void> {
    if (this.finished) return;
    if (!(await this.allowed())) {
      await this.finish('AUTHORIZATION_ENDED', 'the grant for this document ended', false);
      return;
    }
    const doc = this.target.current();
    const [next, message] = Automerge.generateSyncMessage(doc, this.state);
    this.state = next;
    if (message === null) return;
    if (!this.init.weMayWrite && carriesChanges(message)) {
      // We are read-only at the remote, which would end the stream on changes it lacks (local
      // edits we may not share): send the rest of the message without them.
      const decoded = Automerge.decodeSyncMessage(message);
      const withoutChanges = Automerge.encodeSyncMessage({ ...decoded, changes: [] });
      await this.framed.write({ v: WIRE_VERSION, t: 'sync', msg: withoutChanges, heads: Automerge.getHeads(doc) });
      return;
    }
    await this.framed.write({ v: WIRE_VERSION, t: 'sync', msg: message, heads: Automerge.getHeads(doc) });
  }

  private async readLoop(): Promise<void> {
    while (!this.finished) {
      let message: SessionMessage;
      try {
        // A live session waits for the next change as long as the connection lives (yamux
        // keep-alive notices a dead peer); a one-shot one expects each reply in time.
        const admit = this.init.remoteMayWrite ? this.owner.admission() : undefined;
        message = await this.framed.read(sessionMessageSchema, {
          ...(this.init.live ? { timeoutMs: 2 ** 31 - 1 } : {}),
          ...(admit ? { admit: (claimed: number) => admit(this, claimed) } : {}),
        });
      } catch (error) {
        if (this.finished) return;
        const failure = asSyncError(error);
        if (failure.code === 'STREAM_CLOSED') await this.finish(undefined, 'remote closed the stream', true);
        else await this.finish(failure.code, failure.message, error instanceof RemoteEndError);
        return;
      }
      const done = deferred<void>();
      this.enqueue(async () => {
        try {
          await this.receive(message);
        } finally {
          done.resolve();
        }
      });
      await done.promise;
    }
  }

  /**
   * Whether this side holds everything the remote announced and, where this side's changes go to
   * the remote, the remote holds everything this side has.
   */
  private isSynced(): boolean {
    const doc = this.target.current();
    const local = Automerge.getHeads(doc);
    if (this.init.weMayWrite) return sameHeads(this.remoteHeads, local);
    return Automerge.hasHeads(doc, [...this.remoteHeads]);
  }

  private async receive(message: SessionMessage): Promise<void> {
    if (this.finished) return;
    if (!(await this.allowed())) {
      await this.finish('AUTHORIZATION_ENDED', 'the grant for this document ended', false);
      return;
    }
    const first = !this.receivedAny;
    this.receivedAny = true;
    if (message.t === 'snapshot') {
      if (!this.init.remoteMayWrite) throw new SyncError('READ_ONLY', 'a read-only party may not send a snapshot');
      let loaded: Automerge.Doc<unknown>;
      try {
        loaded = Automerge.load<unknown>(message.bytes);
      } catch (cause) {
        throw new SyncError('MALFORMED_MESSAGE', 'snapshot is not an Automerge document', { cause });
      }
      const current = this.target.current();
      const next = Automerge.getHeads(current).length === 0 ? loaded : Automerge.merge(current, loaded);
      this.state = Automerge.initSyncState();
      this.target.apply(next, { local: false, remote: this.remote });
      this.owner.received(this.event(true, first));
      return;
    }
    if (!this.init.remoteMayWrite) this.refuseUnknownChanges(message.msg);
    const before = this.target.current();
    let next: Automerge.Doc<unknown>;
    try {
      [next, this.state] = Automerge.receiveSyncMessage(before, this.state, message.msg);
    } catch (cause) {
      throw new SyncError('MALFORMED_MESSAGE', 'not an Automerge sync message', { cause });
    }
    this.remoteHeads = message.heads;
    if (next !== before && !sameHeads(Automerge.getHeads(next), Automerge.getHeads(before))) {
      this.target.apply(next, { local: false, remote: this.remote });
      this.owner.received(this.event(false, first));
    } else if (next !== before) {
      this.target.apply(next, { local: false, remote: this.remote });
    }
    const store = this.owner.persistence();
    if (store) await store.save(this.remote, this.vault, this.doc, Automerge.encodeSyncState(this.state)).catch(() => undefined);
    await this.sendSyncMessage();
    if (this.isSynced()) {
      this.syncedSignal.resolve();
      if (!this.init.live && this.role === 'dialer') await this.finish(undefined, 'synced', false);
    }
  }

  /** A read-only remote may only send changes this side already holds. */
  private refuseUnknownChanges(message: Uint8Array): void {
    if (!carriesChanges(message)) return;
    let decoded: Automerge.DecodedSyncMessage;
    try {
      decoded = Automerge.decodeSyncMessage(message);
    } catch (cause) {
      throw new SyncError('MALFORMED_MESSAGE', 'not an Automerge sync message', { cause });
    }
    const doc = this.target.current();
    for (const change of decoded.changes) {
      const { hash } = Automerge.decodeChange(change);
      if (!Automerge.hasHeads(doc, [hash])) throw new SyncError('READ_ONLY', 'a read-only party sent changes');
    }
  }

  private event(snapshot: boolean, first: boolean): ReceivedEvent {
    return {
      remote: this.remote,
      vault: this.vault,
      doc: this.doc,
      snapshot,
      first,
      heads: Automerge.getHeads(this.target.current()),
      role: this.role,
    };
  }

  private async fail(error: unknown): Promise<void> {
    const failure = asSyncError(error);
    await this.finish(failure.code, failure.message, error instanceof RemoteEndError);
  }

  private async finish(code: SyncErrorCode | undefined, detail: string, byRemote: boolean): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.unsubscribe?.();
    if (code !== undefined && !byRemote) await this.framed.end(code, detail);
    else if (!byRemote) await this.framed.close();
    else this.framed.abort(new SyncError(code ?? 'STREAM_CLOSED', detail));
    const end: SessionEnd = { remote: this.remote, vault: this.vault, doc: this.doc, role: this.role, detail, byRemote, ...(code !== undefined ? { code } : {}) };
    if (code !== undefined) this.syncedSignal.reject(new SyncError(code, detail));
    else if (!this.isSynced()) this.syncedSignal.reject(new SyncError('STREAM_CLOSED', `session ended before sync: ${detail}`));
    this.owner.ended(this, end);
    this.closedSignal.resolve(end);
  }
}

/** Heads equal as sets. */
function sameHeads(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((h) => set.has(h));
}

/** Whether an encoded sync message carries changes. */
function carriesChanges(message: Uint8Array): boolean {
  return Automerge.decodeSyncMessage(message).changes.length > 0;
}

function asSyncError(error: unknown): SyncError {
  if (error instanceof SyncError) return error;
  return new SyncError('INTERNAL', describeError(error), { cause: error });
}

function safeDid(connection: Connection): Did {
  try {
    return remoteDidOf(connection);
  } catch {
    return '' as Did;
  }
}
