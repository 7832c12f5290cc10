/**
 * Transport-level limits shared by every node. Protocol limits (message sizes, per-protocol stream
 * counts) live in each protocol's constants.ts; the muxer's read buffer must hold the largest frame
 * any protocol accepts, so it is derived from them.
 */

/** The largest frame any protocol of ours accepts (the doc protocol's snapshot). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/**
 * Bytes yamux buffers per stream while the reader is paused. Its default (4 MiB) resets streams
 * carrying one 7.7 MB sync message (STACK.md), so it is sized for the largest frame.
 */
export const MAX_STREAM_READ_BUFFER_BYTES = MAX_FRAME_BYTES + 1024 * 1024;

/** Streams (all protocols) one connection may have open at once; more are reset by yamux. */
export const MAX_STREAMS_PER_CONNECTION = 256;

/** Connections a node keeps before it prunes. */
export const MAX_CONNECTIONS = 300;

/** Inbound connections still in their handshake at once (bounds a connection flood). */
export const MAX_PENDING_INBOUND_CONNECTIONS = 32;

/** Inbound connections per second from one host before the rest are refused. */
export const INBOUND_CONNECTION_THRESHOLD = 20;

/** Ping streams per connection, each way (ping's default of one outbound fails on back-to-back pings). */
export const PING_MAX_STREAMS = 4;
