import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { webRTC } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import { createLibp2p } from 'libp2p';
import { PeerBans, gaterFor } from './bans.js';
import { baseServices, sharedOptions, type SyncLibp2p, type SyncNodeInitBase } from './common.js';

/** Options of {@link createBrowserLibp2p}. */
export interface BrowserLibp2pInit extends SyncNodeInitBase {
  /**
   * The relay this browser listens through (a multiaddr ending in its /p2p/ id). With it the node
   * listens on `relay/p2p-circuit` and `/webrtc`, so other browsers can reach it.
   */
  readonly relay?: string;
  /**
   * ICE servers for WebRTC. Empty works between profiles on one machine (STACK.md); between real
   * networks STUN/TURN will be needed. @default []
   */
  readonly iceServers?: readonly RTCIceServer[];
  /** @default derived from `relay`: [relay + '/p2p-circuit', '/webrtc'] */
  readonly listen?: readonly string[];
}

/**
 * A libp2p node for the browser (extension offscreen document): WebSockets, circuit-relay
 * transport, WebRTC (no automatic upgrade: dial `…/p2p-circuit/webrtc/p2p/<peer>` explicitly),
 * Noise, Yamux, identify, ping. Imports no Node-only module. Dialing 127.0.0.1 is allowed, since a
 * local relay is how the demo and the end-to-end tests run.
 */
export async function createBrowserLibp2p(init: BrowserLibp2pInit): Promise<SyncLibp2p> {
  const bans = init.bans ?? new PeerBans();
  const listen = init.listen ?? (init.relay !== undefined ? [`${init.relay}/p2p-circuit`, '/webrtc'] : []);
  return createLibp2p({
    ...sharedOptions(init.identity),
    addresses: { listen: [...listen] },
    transports: [
      webSockets(),
      circuitRelayTransport(),
      webRTC({ rtcConfiguration: { iceServers: [...(init.iceServers ?? [])] } }),
    ],
    connectionGater: gaterFor(bans, { allowLoopbackDials: true }),
    services: baseServices(),
    start: init.start ?? true,
  });
}
