import type { Connection, Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { SyncError, describeError } from '../errors.js';
import { FramedStream, RemoteEndError, WIRE_VERSION } from '../framing.js';
import { openStream, remoteDidOf, type ProtocolHost } from '../host.js';
import type { PeerBans } from '../libp2p/index.js';
import type { Did } from '../../crypto/index.js';
import {
  APPROVAL_WAIT_MS,
  INVITE_MAX_INBOUND_STREAMS,
  INVITE_MAX_OUTBOUND_STREAMS,
  INVITE_PROTOCOL,
  INVITE_READ_TIMEOUT_MS,
  MAX_FAILED_REDEMPTIONS,
  MAX_INVITE_MESSAGE_BYTES,
  MAX_TRACKED_REDEEMERS,
} from './constants.js';
import { invitationDialAddress, type Invitation } from './invitation.js';
import type { InvitationBook } from './invitation-book.js';
import { approvedSchema, queuedSchema, redeemSchema, type Approval, type ShareRequest } from './messages.js';
import type { RequestQueue } from './request-queue.js';

/** Failures that count towards a ban: guessing tokens, or sending what is not a redemption. */
const COUNTED_FAILURES: ReadonlySet<string> = new Set(['UNKNOWN_TOKEN', 'TOKEN_USED', 'TOKEN_EXPIRED', 'MALFORMED_MESSAGE', 'MESSAGE_TOO_LARGE']);

/** Options of {@link InviteService}. */
export interface InviteServiceInit {
  /** The patient's issued invitations; absent on a node that only redeems. */
  readonly book?: InvitationBook;
  /** Where redeemed requests wait; required with `book`. */
  readonly queue?: RequestQueue;
  /** How long a redeeming stream waits for the decision. @default APPROVAL_WAIT_MS (10 min) */
  readonly approvalWaitMs?: number;
  /** @default INVITE_READ_TIMEOUT_MS (15 s) */
  readonly readTimeoutMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/** Components of {@link InviteService}. */
export interface InviteServiceComponents {
  readonly host: ProtocolHost;
  readonly bans?: PeerBans;
}

/** What the redeemer learns. */
export interface RedeemResult {
  /** The request's id in the patient's queue. */
  readonly requestId: string;
  readonly approval: Approval;
  /** The patient, as proven by the connection. */
  readonly patient: Did;
}

/**
 * `/patient-vault/invite/1.0.0`. Redeemer: `redeem {token, request}`. Patient: checks the token
 * (unknown, used, expired → end with that code), queues the request (`queued {id}`), waits for
 * the patient's decision and answers `approved {vault, grant, scopes, expires}` or ends DENIED.
 * A token is consumed by its first redemption, approved or not. A peer with repeated failed
 * redemptions is banned.
 */
export class InviteService {
  private readonly host: ProtocolHost;
  private readonly bans: PeerBans | undefined;
  private readonly init: InviteServiceInit;
  private readonly failures = new Map<string, number>();
  private started = false;

  constructor(components: InviteServiceComponents, init: InviteServiceInit = {}) {
    if ((init.book === undefined) !== (init.queue === undefined)) {
      throw new SyncError('INVALID_INPUT', 'an invitation book needs a request queue and the other way round');
    }
    this.host = components.host;
    this.bans = components.bans;
    this.init = init;
  }

  /** Registers the handler when this node issues invitations. */
  async start(): Promise<void> {
    if (this.started || !this.init.book) return;
    await this.host.handle(INVITE_PROTOCOL, (stream, connection) => this.handleInbound(stream, connection), {
      maxInboundStreams: INVITE_MAX_INBOUND_STREAMS,
      maxOutboundStreams: INVITE_MAX_OUTBOUND_STREAMS,
      runOnLimitedConnection: true,
    });
    this.started = true;
  }

  /** Unregisters the handler. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.host.unhandle(INVITE_PROTOCOL);
  }

  /**
   * Redeems `invitation` with `request` and waits for the patient's decision. Throws
   * {@link SyncError}: UNKNOWN_TOKEN, TOKEN_USED, TOKEN_EXPIRED, DENIED, TIMEOUT, LIMIT_REACHED.
   */
  async redeem(invitation: Invitation, request: ShareRequest, options: { signal?: AbortSignal; onQueued?: (id: string) => void } = {}): Promise<RedeemResult> {
    const now = (this.init.now ?? Date.now)();
    if (invitation.expires <= now) throw new SyncError('TOKEN_EXPIRED', 'the invitation has expired');
    const { stream, remote } = await openStream(this.host, multiaddr(invitationDialAddress(invitation)), INVITE_PROTOCOL, options.signal ? { signal: options.signal } : {});
    const framed = this.framedFor(stream);
    try {
      if (remote !== invitation.did) throw new SyncError('NOT_AUTHORIZED', 'the peer reached is not the one who invited');
      await framed.write({ v: WIRE_VERSION, t: 'redeem', token: invitation.token, request });
      const queued = await framed.read(queuedSchema);
      options.onQueued?.(queued.id);
      const approved = await framed.read(approvedSchema, { timeoutMs: (this.init.approvalWaitMs ?? APPROVAL_WAIT_MS) + 5_000, ...(options.signal ? { signal: options.signal } : {}) });
      await framed.close();
      const { v: _v, t: _t, ...approval } = approved;
      return { requestId: queued.id, approval, patient: remote };
    } catch (error) {
      const failure = error instanceof SyncError ? error : new SyncError('INTERNAL', describeError(error), { cause: error });
      if (error instanceof RemoteEndError) framed.abort(failure);
      else await framed.end(failure.code, failure.message);
      throw failure;
    }
  }

  private framedFor(stream: Stream): FramedStream {
    return new FramedStream(stream, { maxMessageBytes: MAX_INVITE_MESSAGE_BYTES, readTimeoutMs: this.init.readTimeoutMs ?? INVITE_READ_TIMEOUT_MS });
  }

  private async handleInbound(stream: Stream, connection: Connection): Promise<void> {
    const framed = this.framedFor(stream);
    const book = this.init.book!;
    const queue = this.init.queue!;
    try {
      const remote = remoteDidOf(connection);
      const redeem = await framed.read(redeemSchema);
      const now = (this.init.now ?? Date.now)();
      const verdict = await book.consume(redeem.token, remote, now);
      if (verdict !== 'ok') {
        const code = verdict === 'unknown' ? 'UNKNOWN_TOKEN' : verdict === 'used' ? 'TOKEN_USED' : 'TOKEN_EXPIRED';
        throw new SyncError(code, verdict === 'unknown' ? 'no such invitation' : verdict === 'used' ? 'the invitation was already used' : 'the invitation has expired');
      }
      const { pending, decision } = queue.add(remote, redeem.request, now);
      await framed.write({ v: WIRE_VERSION, t: 'queued', id: pending.id });
      const wait = this.init.approvalWaitMs ?? APPROVAL_WAIT_MS;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const outcome = await Promise.race([
        decision,
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), wait);
          // A request left waiting must not keep a stopping process alive.
          (timer as { unref?: () => void }).unref?.();
        }),
      ]);
      clearTimeout(timer);
      if (outcome === 'timeout') throw new SyncError('TIMEOUT', 'the patient has not decided yet; the request stays queued');
      if (!outcome.approved) throw new SyncError('DENIED', outcome.reason);
      await framed.write({ v: WIRE_VERSION, t: 'approved', ...outcome.approval });
      await framed.close();
    } catch (error) {
      const failure = error instanceof SyncError ? error : new SyncError('INTERNAL', describeError(error), { cause: error });
      if (error instanceof RemoteEndError) framed.abort(failure);
      else await framed.end(failure.code, failure.message);
      // Counted after the reason went out, so even the banned peer learns why.
      if (COUNTED_FAILURES.has(failure.code)) this.failed(connection);
    }
  }

  private failed(connection: Connection): void {
    const peer = connection.remotePeer.toString();
    const count = (this.failures.get(peer) ?? 0) + 1;
    // Most recent last; past the cap the oldest goes (clearing all would reset a guesser's count).
    this.failures.delete(peer);
    this.failures.set(peer, count);
    if (this.failures.size > MAX_TRACKED_REDEEMERS) {
      const oldest = this.failures.keys().next();
      if (oldest.done !== true) this.failures.delete(oldest.value);
    }
    if (count >= MAX_FAILED_REDEMPTIONS) {
      this.bans?.ban(connection.remotePeer, 'too many failed redemptions');
      void this.host.hangUp(connection.remotePeer).catch(() => undefined);
    }
  }
}
