import { MAX_FRAME_BYTES } from '../libp2p/index.js';

/** The Automerge sync protocol for one document (ARCHITECTURE.md "Sync over libp2p"). */
export const DOC_PROTOCOL = '/patient-vault/doc/1.0.0';

/**
 * Largest message: a snapshot (`Automerge.save`) or one sync message. 10,000 sealed resources save
 * to 7.7 MB (STACK.md); this leaves room for ~80,000 before a scope must be split.
 */
export const MAX_DOC_MESSAGE_BYTES = MAX_FRAME_BYTES;
/** Longest vault id on the wire. */
export const MAX_VAULT_ID_CHARS = 128;
/** Longest document name on the wire (a scope, `inbox/<did>`, or a mailbox slot name). */
export const MAX_DOC_NAME_CHARS = 512;
/** Most heads a peer may announce (a document has one head per concurrent branch). */
export const MAX_HEADS = 256;
/** How long the serving side waits for `open`, and either side for a reply during a round. */
export const DOC_READ_TIMEOUT_MS = 30_000;
/** Concurrent inbound doc streams per connection (one per scope synced at once). */
export const DOC_MAX_INBOUND_STREAMS = 16;
/** Concurrent outbound doc streams per connection. */
export const DOC_MAX_OUTBOUND_STREAMS = 32;
/** Document sessions one remote may hold at once on a node, over all its connections. */
export const DOC_MAX_SESSIONS_PER_PEER = 64;
/** Document sessions a node holds at once, over all peers (each holds an Automerge sync state). */
export const DOC_MAX_SESSIONS = 4096;
