/**
 * libp2p node construction: the Node and browser factories, the relay node, bans, limits.
 * @packageDocumentation
 */
export { PeerBans, gaterFor, DEFAULT_BAN_MS, MAX_BANS, type Ban } from './bans.js';
export { type BaseServices, type SyncLibp2p, type SyncNodeInitBase } from './common.js';
export {
  MAX_FRAME_BYTES,
  MAX_STREAM_READ_BUFFER_BYTES,
  MAX_STREAMS_PER_CONNECTION,
  MAX_CONNECTIONS,
  MAX_PENDING_INBOUND_CONNECTIONS,
  INBOUND_CONNECTION_THRESHOLD,
  PING_MAX_STREAMS,
} from './limits.js';
