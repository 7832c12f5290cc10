import type { Connection, DialOptions, Stream, PeerId, StreamHandler, StreamHandlerOptions } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { didFromPeerId, type Did } from '../crypto/index.js';
import { SyncError } from './errors.js';

/**
 * The part of a libp2p node a protocol needs. A `Libp2p` satisfies it; protocols take it as a
 * component instead of importing a global node, so tests can give each its own.
 */
export interface ProtocolHost {
  handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>;
  unhandle(protocol: string): Promise<void>;
  dial(peer: PeerId | Multiaddr | Multiaddr[], options?: DialOptions): Promise<Connection>;
  hangUp(peer: PeerId | Multiaddr): Promise<void>;
}

/** Where a protocol may be dialed: a PeerId already known to the peer store, or addresses. */
export type DialTarget = PeerId | Multiaddr | Multiaddr[];

/**
 * The did of a connection's remote peer. Noise has proven the peer holds this key, so this is
 * who the remote is; a peer with a non-Ed25519 key has no did and is refused.
 */
export function remoteDidOf(connection: Pick<Connection, 'remotePeer'>): Did {
  try {
    return didFromPeerId(connection.remotePeer);
  } catch (cause) {
    throw new SyncError('NOT_AUTHORIZED', 'remote peer is not identified by an Ed25519 key', { cause });
  }
}

/**
 * Opens a protocol stream to `peer`, dialing if needed, and names the remote. Relayed (limited)
 * connections are allowed by default: browsers reach each other through the relay (STACK.md).
 */
export async function openStream(
  host: ProtocolHost,
  peer: DialTarget,
  protocol: string,
  options: { signal?: AbortSignal; runOnLimitedConnection?: boolean } = {},
): Promise<{ stream: Stream; connection: Connection; remote: Did }> {
  const signal = options.signal ? { signal: options.signal } : {};
  const streamOptions = { runOnLimitedConnection: options.runOnLimitedConnection ?? true, ...signal };
  // A failed dial propagates as libp2p reports it (src/node reports those as SYNC_FAILED).
  const connection = await host.dial(peer, signal);
  const remote = remoteDidOf(connection);
  try {
    return { stream: await connection.newStream(protocol, streamOptions), connection, remote };
  } catch (error) {
    // A connection reused from before the remote restarted can be dead without our knowing yet:
    // then (only then) dial afresh once. A live connection is never closed here: it carries
    // other sessions, and its failure (a refused protocol, a stream limit) is the answer.
    if (connection.status === 'open' || options.signal?.aborted === true) throw error;
    const fresh = await host.dial(peer, signal);
    return { stream: await fresh.newStream(protocol, streamOptions), connection: fresh, remote: remoteDidOf(fresh) };
  }
}
