import type { Connection, Stream } from '@libp2p/interface';
import { SyncError, describeError, type SyncErrorCode } from '../errors.js';
import { FramedStream, RemoteEndError, WIRE_VERSION } from '../framing.js';
import { openStream, remoteDidOf, type DialTarget, type ProtocolHost } from '../host.js';
import type { PeerBans } from '../libp2p/index.js';
import type { Did } from '../../crypto/index.js';
import {
  LOG_MAX_INBOUND_STREAMS,
  LOG_MAX_OUTBOUND_STREAMS,
  LOG_PROTOCOL,
  LOG_READ_TIMEOUT_MS,
  MAX_ENTRIES_PER_BATCH,
  MAX_ENTRIES_PER_EXCHANGE,
  MAX_LOG_MESSAGE_BYTES,
  MAX_WANTED_BODIES,
} from './constants.js';
import { ackSchema, helloSchema, streamMessageSchema, type FrontierItem, type HelloMessage, type WireEntry } from './messages.js';

/**
 * The verdict on entries (or a tree head) a remote sent. `INVALID_ENTRY` ends the exchange and
 * bans the remote; `FORK` ends it and records the proof; `LIMIT_REACHED` ends it without a ban or
 * a record (entries over a bound of the replica — a grantee's access receipts over its limit —
 * that are refused and not kept, but prove no misbehaviour: a clock running ahead, say).
 */
export type ReceiveResult =
  | { readonly ok: true; readonly added: number }
  | { readonly ok: false; readonly code: 'INVALID_ENTRY' | 'FORK' | 'LIMIT_REACHED'; readonly detail: string; readonly entryId?: string };

/**
 * One vault's log as this node holds it. src/node implements it over src/grants (verify before
 * storing) and the store; the protocol only moves bytes and enforces limits.
 */
export interface LogReplica {
  /** Whether `remote` may exchange this vault's log at all (a party of it: owner device, grantee, delegate). */
  mayReplicate(remote: Did, vault: string): boolean | Promise<boolean>;
  /** The newest entry per author held here; undefined if this vault is not held here. */
  frontier(vault: string): Promise<readonly FrontierItem[] | undefined>;
  /** This side's signed tree head of the vault's log, if it has one. */
  signedTreeHead(vault: string): Promise<Uint8Array | undefined>;
  /**
   * The entries `remote` lacks given its frontier, parents first, each with its body only where
   * `remote` is entitled to it (its own grants, their revocations, delegations giving authority);
   * then, of the entries `wanted` names (ids `remote` holds without a body, distinct, at most
   * MAX_WANTED_BODIES), those whose body `remote` is entitled to now, with it. Ids it does not
   * hold, or whose body `remote` may not have, are passed over.
   */
  entriesFor(remote: Did, vault: string, remoteFrontier: readonly FrontierItem[], wanted?: readonly string[]): Promise<readonly WireEntry[]>;
  /**
   * Ids of entries held here without their body, at most `limit`, for `hello.want` (so a peer
   * sends bodies this side became entitled to after it took their headers). A replica holding more
   * returns the next ones in turn on each call. Omitted: no `want` is sent.
   */
  bodiless?(vault: string, limit: number): Promise<readonly string[]>;
  /** Verifies and stores a batch from `remote`; never stores anything of a batch it refuses. */
  receive(remote: Did, vault: string, entries: readonly WireEntry[]): Promise<ReceiveResult>;
  /** Checks the remote's signed tree head against what is held (consistency, fork: kept as proof). */
  receiveTreeHead(remote: Did, vault: string, sth: Uint8Array): Promise<ReceiveResult>;
}

/** What one exchange did. */
export interface LogExchangeResult {
  readonly remote: Did;
  readonly vault: string;
  readonly sent: number;
  readonly received: number;
  readonly remoteFrontier: readonly FrontierItem[];
}

/** A remote that sent an invalid entry or a forked tree head, recorded with the reason. */
export interface Misbehaviour {
  readonly remote: Did;
  readonly peer: string;
  readonly vault: string;
  readonly code: SyncErrorCode;
  readonly detail: string;
  readonly entryId?: string;
  readonly at: number;
}

/** Options of {@link LogSync}. */
export interface LogSyncInit {
  readonly replica: LogReplica;
  /** Told of every refused exchange with a remote's fault (invalid entry, fork, malformed message). */
  readonly onMisbehaviour?: (event: Misbehaviour) => void;
  /** Told of every finished exchange. */
  readonly onExchange?: (result: LogExchangeResult) => void;
  /** @default MAX_LOG_MESSAGE_BYTES (4 MiB) */
  readonly maxMessageBytes?: number;
  /** @default LOG_READ_TIMEOUT_MS (30 s) */
  readonly readTimeoutMs?: number;
  /** @default LOG_MAX_INBOUND_STREAMS (8) */
  readonly maxInboundStreams?: number;
  /** @default LOG_MAX_OUTBOUND_STREAMS (16) */
  readonly maxOutboundStreams?: number;
  /** @default true */
  readonly runOnLimitedConnection?: boolean;
  /** Clock for the records of misbehaviour. @default Date.now */
  readonly now?: () => number;
}

/** Components of {@link LogSync}. */
export interface LogSyncComponents {
  readonly host: ProtocolHost;
  /** A peer that sends an invalid entry is banned here (and disconnected). */
  readonly bans?: PeerBans;
}

/** Codes for which the remote is disconnected and banned. */
const DISCONNECT: ReadonlySet<SyncErrorCode> = new Set(['INVALID_ENTRY', 'MALFORMED_MESSAGE', 'MESSAGE_TOO_LARGE', 'UNEXPECTED_MESSAGE']);

/**
 * `/patient-vault/log/1.0.0`: both sides say `hello {vault, frontier, sth}` (the listener only
 * after `mayReplicate`), then each sends the entries the other lacks in batches and `done`, and
 * verifies what it receives before storing it. An invalid entry ends the stream, disconnects and
 * bans the peer and records the reason; a fork is reported (the replica keeps both heads as proof).
 */
export class LogSync {
  private readonly host: ProtocolHost;
  private readonly bans: PeerBans | undefined;
  private readonly init: LogSyncInit;
  private readonly maxMessageBytes: number;
  private readonly readTimeoutMs: number;
  private readonly misbehaviours: Misbehaviour[] = [];
  private started = false;

  constructor(components: LogSyncComponents, init: LogSyncInit) {
    this.host = components.host;
    this.bans = components.bans;
    this.init = init;
    this.maxMessageBytes = init.maxMessageBytes ?? MAX_LOG_MESSAGE_BYTES;
    this.readTimeoutMs = init.readTimeoutMs ?? LOG_READ_TIMEOUT_MS;
  }

  /** Registers the protocol handler. */
  async start(): Promise<void> {
    if (this.started) return;
    await this.host.handle(LOG_PROTOCOL, (stream, connection) => this.handleInbound(stream, connection), {
      maxInboundStreams: this.init.maxInboundStreams ?? LOG_MAX_INBOUND_STREAMS,
      maxOutboundStreams: this.init.maxOutboundStreams ?? LOG_MAX_OUTBOUND_STREAMS,
      runOnLimitedConnection: this.init.runOnLimitedConnection ?? true,
    });
    this.started = true;
  }

  /** Unregisters the handler. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.host.unhandle(LOG_PROTOCOL);
  }

  /** Every misbehaviour recorded since start (newest last, at most 1,000 kept). */
  recorded(): readonly Misbehaviour[] {
    return [...this.misbehaviours];
  }

  /** Exchanges `vault`'s log with `peer` both ways. Throws {@link SyncError} with the reason. */
  async exchange(peer: DialTarget, vault: string, options: { signal?: AbortSignal } = {}): Promise<LogExchangeResult> {
    const { stream, connection, remote } = await openStream(this.host, peer, LOG_PROTOCOL, {
      runOnLimitedConnection: this.init.runOnLimitedConnection ?? true,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const framed = this.framedFor(stream);
    try {
      await framed.write(await this.hello(vault));
      const theirs = await framed.read(helloSchema);
      if (theirs.vault !== vault) throw new SyncError('UNEXPECTED_MESSAGE', 'remote answered for another vault');
      return await this.run(framed, connection, remote, vault, theirs);
    } catch (error) {
      throw await this.fail(framed, connection, remote, vault, error);
    }
  }

  private framedFor(stream: Stream): FramedStream {
    return new FramedStream(stream, { maxMessageBytes: this.maxMessageBytes, readTimeoutMs: this.readTimeoutMs });
  }

  private async hello(vault: string): Promise<HelloMessage> {
    const frontier = (await this.init.replica.frontier(vault)) ?? [];
    const sth = await this.init.replica.signedTreeHead(vault);
    const want = [...new Set((await this.init.replica.bodiless?.(vault, MAX_WANTED_BODIES)) ?? [])].slice(0, MAX_WANTED_BODIES);
    return { v: WIRE_VERSION, t: 'hello', vault, frontier: [...frontier], ...(sth ? { sth } : {}), ...(want.length > 0 ? { want } : {}) };
  }

  private async handleInbound(stream: Stream, connection: Connection): Promise<void> {
    const framed = this.framedFor(stream);
    let remote = '' as Did;
    let vault = '';
    try {
      remote = remoteDidOf(connection);
      const theirs = await framed.read(helloSchema);
      vault = theirs.vault;
      const held = await this.init.replica.frontier(vault);
      if (held === undefined || !(await this.init.replica.mayReplicate(remote, vault))) {
        throw new SyncError('NOT_AUTHORIZED', 'this node shares no log of that vault with the remote');
      }
      await framed.write(await this.hello(vault));
      await this.run(framed, connection, remote, vault, theirs);
    } catch (error) {
      await this.fail(framed, connection, remote, vault, error);
    }
  }

  /** Sends what the remote lacks while receiving what we lack; both until `done`. */
  private async run(framed: FramedStream, connection: Connection, remote: Did, vault: string, theirs: HelloMessage): Promise<LogExchangeResult> {
    const sending = this.send(framed, remote, vault, theirs.frontier, [...new Set(theirs.want ?? [])]);
    // Whichever fails first ends the exchange; the other is left to fail on the closed stream.
    sending.catch(() => undefined);
    const received = await this.receiveAll(framed, remote, vault);
    if (theirs.sth) {
      const verdict = await this.init.replica.receiveTreeHead(remote, vault, theirs.sth);
      if (!verdict.ok) throw new SyncError(verdict.code, verdict.detail);
    }
    const sent = await sending;
    // Each side tells the other it verified and stored everything; only then is the exchange done
    // (without it a dialer whose entries were refused would see a clean end).
    await framed.write({ v: WIRE_VERSION, t: 'ack', accepted: received });
    const ack = await framed.read(ackSchema);
    if (ack.accepted !== sent) throw new SyncError('UNEXPECTED_MESSAGE', `remote acknowledged ${ack.accepted} of ${sent} entries`);
    await framed.close();
    const result: LogExchangeResult = { remote, vault, sent, received, remoteFrontier: theirs.frontier };
    this.init.onExchange?.(result);
    void connection;
    return result;
  }

  private async send(framed: FramedStream, remote: Did, vault: string, frontier: readonly FrontierItem[], wanted: readonly string[]): Promise<number> {
    const entries = await this.init.replica.entriesFor(remote, vault, frontier, wanted);
    let batch: WireEntry[] = [];
    let batchBytes = 0;
    const limit = this.maxMessageBytes - 1024;
    for (const entry of entries) {
      const size = entry.header.length + entry.signature.length + (entry.body?.length ?? 0) + 32;
      if (batch.length > 0 && (batch.length >= MAX_ENTRIES_PER_BATCH || batchBytes + size > limit)) {
        await framed.write({ v: WIRE_VERSION, t: 'entries', entries: batch });
        batch = [];
        batchBytes = 0;
      }
      batch.push(entry.body === undefined ? { header: entry.header, signature: entry.signature } : entry);
      batchBytes += size;
    }
    if (batch.length > 0) await framed.write({ v: WIRE_VERSION, t: 'entries', entries: batch });
    await framed.write({ v: WIRE_VERSION, t: 'done', count: entries.length });
    return entries.length;
  }

  private async receiveAll(framed: FramedStream, remote: Did, vault: string): Promise<number> {
    let received = 0;
    for (;;) {
      const message = await framed.read(streamMessageSchema);
      if (message.t === 'done') {
        if (message.count !== received) throw new SyncError('UNEXPECTED_MESSAGE', `remote announced ${message.count} entries but sent ${received}`);
        return received;
      }
      received += message.entries.length;
      if (received > MAX_ENTRIES_PER_EXCHANGE) throw new SyncError('LIMIT_REACHED', `more than ${MAX_ENTRIES_PER_EXCHANGE} entries in one exchange`);
      const verdict = await this.init.replica.receive(remote, vault, message.entries);
      if (!verdict.ok) {
        const error = new SyncError(verdict.code, verdict.detail);
        if (verdict.entryId !== undefined) (error as SyncError & { entryId?: string }).entryId = verdict.entryId;
        throw error;
      }
    }
  }

  /** Ends the exchange with the reason; records, disconnects and bans where the remote is at fault. */
  private async fail(framed: FramedStream, connection: Connection, remote: Did, vault: string, error: unknown): Promise<SyncError> {
    const failure = error instanceof SyncError ? error : new SyncError('INTERNAL', describeError(error), { cause: error });
    if (error instanceof RemoteEndError) {
      framed.abort(failure);
      return failure;
    }
    await framed.end(failure.code, failure.message);
    if (DISCONNECT.has(failure.code) || failure.code === 'FORK') {
      const entryId = (failure as SyncError & { entryId?: string }).entryId;
      const record: Misbehaviour = {
        remote,
        peer: connection.remotePeer.toString(),
        vault,
        code: failure.code,
        detail: failure.message,
        at: (this.init.now ?? Date.now)(),
        ...(entryId !== undefined ? { entryId } : {}),
      };
      this.misbehaviours.push(record);
      if (this.misbehaviours.length > 1000) this.misbehaviours.shift();
      this.init.onMisbehaviour?.(record);
    }
    if (DISCONNECT.has(failure.code)) {
      this.bans?.ban(connection.remotePeer, failure.code);
      await this.host.hangUp(connection.remotePeer).catch(() => undefined);
    }
    return failure;
  }
}
