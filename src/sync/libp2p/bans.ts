import type { ConnectionGater, PeerId } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';

/** Why and until when a peer is refused. */
export interface Ban {
  /** The peer's PeerId in its string form. */
  readonly peer: string;
  /** A {@link SyncErrorCode} or short reason; never content. */
  readonly reason: string;
  /** Epoch ms after which the peer may connect again. */
  readonly until: number;
}

/** How long a misbehaving peer is refused. @default 10 minutes */
export const DEFAULT_BAN_MS = 10 * 60 * 1000;
/** At most this many bans are remembered; the oldest go first (a flood of fresh ids cannot grow it). */
export const MAX_BANS = 4096;

/**
 * Peers refused for misbehaving (an invalid log entry, a malformed message): their connections are
 * closed and new ones refused by the connection gater until the ban ends. The clock is injected so
 * tests need no waiting.
 */
export class PeerBans {
  private readonly bans = new Map<string, Ban>();
  private readonly now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
  }

  /** Refuses `peer` for `ms` from now with `reason`. */
  ban(peer: PeerId | string, reason: string, ms = DEFAULT_BAN_MS): Ban {
    const id = peer.toString();
    if (this.bans.size >= MAX_BANS && !this.bans.has(id)) {
      const oldest = this.bans.keys().next();
      if (oldest.done !== true) this.bans.delete(oldest.value);
    }
    const entry: Ban = { peer: id, reason, until: this.now() + ms };
    this.bans.delete(id);
    this.bans.set(id, entry);
    return entry;
  }

  /** Lifts a ban. */
  unban(peer: PeerId | string): void {
    this.bans.delete(peer.toString());
  }

  /** The live ban of `peer`, if any. */
  get(peer: PeerId | string): Ban | undefined {
    const entry = this.bans.get(peer.toString());
    if (entry && entry.until <= this.now()) {
      this.bans.delete(entry.peer);
      return undefined;
    }
    return entry;
  }

  /** Whether `peer` is refused now. */
  isBanned(peer: PeerId | string): boolean {
    return this.get(peer) !== undefined;
  }

  /** Every live ban. */
  list(): Ban[] {
    return [...this.bans.values()].filter((b) => b.until > this.now());
  }
}

/**
 * The connection gater of every node: refuses banned peers both ways. `allowLoopbackDials` lets a
 * browser dial 127.0.0.1 (libp2p's browser default refuses private addresses; STACK.md).
 */
export function gaterFor(bans: PeerBans, options: { allowLoopbackDials?: boolean } = {}): ConnectionGater {
  const gater: ConnectionGater = {
    denyDialPeer: (peer: PeerId) => bans.isBanned(peer),
    denyInboundEncryptedConnection: (peer: PeerId) => bans.isBanned(peer),
    denyOutboundEncryptedConnection: (peer: PeerId) => bans.isBanned(peer),
  };
  if (options.allowLoopbackDials === true) gater.denyDialMultiaddr = (_addr: Multiaddr) => false;
  return gater;
}
