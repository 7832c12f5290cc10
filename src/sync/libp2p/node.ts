import { circuitRelayServer, circuitRelayTransport, type CircuitRelayService } from '@libp2p/circuit-relay-v2';
import type { Libp2p } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { createLibp2p } from 'libp2p';
import { PeerBans, gaterFor } from './bans.js';
import { baseServices, sharedOptions, type BaseServices, type SyncLibp2p, type SyncNodeInitBase } from './common.js';

/** Options of {@link createNodeLibp2p}. */
export interface NodeLibp2pInit extends SyncNodeInitBase {
  /**
   * Listen addresses. Node peers dial each other over TCP (Node 20 cannot dial WebSockets without
   * a flag; STACK.md); the WebSocket listener is for browsers.
   * @default ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']
   */
  readonly listen?: readonly string[];
}

/** Loopback TCP and WebSocket listeners on free ports. */
export const DEFAULT_NODE_LISTEN: readonly string[] = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'];

/**
 * A libp2p node for Node.js: TCP and WebSocket listeners, the circuit-relay transport (so a node
 * behind NAT can be reached through a relay reservation), Noise, Yamux, identify, ping.
 */
export async function createNodeLibp2p(init: NodeLibp2pInit): Promise<SyncLibp2p> {
  const bans = init.bans ?? new PeerBans();
  return createLibp2p({
    ...sharedOptions(init.identity),
    addresses: { listen: [...(init.listen ?? DEFAULT_NODE_LISTEN)] },
    transports: [tcp(), webSockets(), circuitRelayTransport()],
    connectionGater: gaterFor(bans),
    services: baseServices(),
    start: init.start ?? true,
  });
}

/** Services of the relay node. */
export type RelayServices = BaseServices & {
  relay: CircuitRelayService;
};

/** A relay's libp2p node. */
export type RelayLibp2p = Libp2p<RelayServices>;

/** Options of {@link createRelayLibp2p}. */
export interface RelayLibp2pInit extends SyncNodeInitBase {
  /** @default ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws'] */
  readonly listen?: readonly string[];
  /** Reservations the relay holds at once. @default 1024 */
  readonly maxReservations?: number;
}

/**
 * A circuit-relay-v2 server with TCP and WebSocket listeners. The default per-connection limits
 * of the JS relay (128 KiB / 2 min) cut real data mid-sync (STACK.md, measured), so relayed
 * connections are unlimited here; abuse is bounded by reservations and the connection manager.
 */
export async function createRelayLibp2p(init: RelayLibp2pInit): Promise<RelayLibp2p> {
  const bans = init.bans ?? new PeerBans();
  return createLibp2p({
    ...sharedOptions(init.identity),
    addresses: { listen: [...(init.listen ?? ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws'])] },
    transports: [tcp(), webSockets()],
    connectionGater: gaterFor(bans),
    services: {
      ...baseServices(),
      relay: circuitRelayServer({
        reservations: { applyDefaultLimit: false, maxReservations: init.maxReservations ?? 1024 },
      }),
    },
    start: init.start ?? true,
  });
}
