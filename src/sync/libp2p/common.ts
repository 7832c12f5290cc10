import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify, type Identify } from '@libp2p/identify';
import type { Libp2p, PrivateKey } from '@libp2p/interface';
import { ping, type Ping } from '@libp2p/ping';
import { libp2pPrivateKey, type Identity } from '../../crypto/index.js';
import type { PeerBans } from './bans.js';
import {
  INBOUND_CONNECTION_THRESHOLD,
  MAX_CONNECTIONS,
  MAX_PENDING_INBOUND_CONNECTIONS,
  MAX_STREAMS_PER_CONNECTION,
  MAX_STREAM_READ_BUFFER_BYTES,
  PING_MAX_STREAMS,
} from './limits.js';

/** The services every Patient Vault node runs. */
export type BaseServices = {
  identify: Identify;
  ping: Ping;
};

/** A libp2p node of this project: its PeerId is the device's Ed25519 identity. */
export type SyncLibp2p = Libp2p<BaseServices>;

/** Options common to the Node and the browser factory. */
export interface SyncNodeInitBase {
  /** The device identity: its Ed25519 key is the PeerId, so Noise proves the did. */
  readonly identity: Identity;
  /** Multiaddrs to listen on (see each factory for its default). */
  readonly listen?: readonly string[];
  /** Peers refused for misbehaving; shared with the protocols that ban. @default a new, empty list */
  readonly bans?: PeerBans;
  /** Start the node before returning. @default true */
  readonly start?: boolean;
}

/** The pieces both factories share: identity, Noise, Yamux sized for our frames, limits. */
export function sharedOptions(identity: Identity): {
  privateKey: PrivateKey;
  connectionEncrypters: [ReturnType<typeof noise>];
  streamMuxers: [ReturnType<typeof yamux>];
  connectionManager: {
    maxConnections: number;
    maxIncomingPendingConnections: number;
    inboundConnectionThreshold: number;
  };
} {
  return {
    privateKey: libp2pPrivateKey(identity),
    connectionEncrypters: [noise()],
    streamMuxers: [
      yamux({
        maxInboundStreams: MAX_STREAMS_PER_CONNECTION,
        maxOutboundStreams: MAX_STREAMS_PER_CONNECTION,
        streamOptions: { maxReadBufferLength: MAX_STREAM_READ_BUFFER_BYTES },
      }),
    ],
    connectionManager: {
      maxConnections: MAX_CONNECTIONS,
      maxIncomingPendingConnections: MAX_PENDING_INBOUND_CONNECTIONS,
      inboundConnectionThreshold: INBOUND_CONNECTION_THRESHOLD,
    },
  };
}

/**
 * identify + ping, both allowed over limited (relayed) connections. Ping gets a few streams each
 * way: a finished ping stream still counts until its close completes, so back-to-back pings at
 * ping's default (one outbound) fail with TooManyOutboundProtocolStreamsError (seen in the bench).
 */
export function baseServices(): { identify: ReturnType<typeof identify>; ping: ReturnType<typeof ping> } {
  return {
    identify: identify({ runOnLimitedConnection: true }),
    ping: ping({ runOnLimitedConnection: true, maxOutboundStreams: PING_MAX_STREAMS, maxInboundStreams: PING_MAX_STREAMS }),
  };
}
