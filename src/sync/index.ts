/**
 * src/sync: peer-to-peer sync over libp2p (ARCHITECTURE.md "Sync over libp2p").
 *
 * - Node factories: {@link createNodeLibp2p} (TCP + WebSockets, Node), {@link createBrowserLibp2p}
 *   (WebSockets, circuit relay, WebRTC; no Node-only module), {@link createRelayLibp2p}. The PeerId is
 *   the device's Ed25519 identity, so every connection proves who the remote is.
 * - Protocols, each a folder with constants, errors and a service class with start/stop:
 *   `/patient-vault/doc/1.0.0` ({@link DocSync}), `/patient-vault/log/1.0.0` ({@link LogSync}),
 *   `/patient-vault/invite/1.0.0` ({@link InviteService}), `/patient-vault/mailbox/1.0.0`
 *   ({@link Mailbox}, {@link MailboxClient}).
 * - {@link startRelay}: circuit-relay-v2 server with the store-and-forward mailbox.
 *
 * Every message is versioned DAG-CBOR in a length-prefixed frame with a named size limit, validated
 * at the door; every failure is a {@link SyncError} with a stable code.
 * @packageDocumentation
 */
export { SyncError, SYNC_ERROR_CODES, isSyncErrorCode, describeError, type SyncErrorCode } from './errors.js';
export { FramedStream, RemoteEndError, parseMessage, bytesMax, WIRE_VERSION, MAX_REASON_CHARS, type FrameLimits, type EndMessage } from './framing.js';
export { remoteDidOf, openStream, type ProtocolHost, type DialTarget } from './host.js';
export { deferred, type Deferred } from './deferred.js';
export * from './libp2p/index.js';
export { createNodeLibp2p, createRelayLibp2p, DEFAULT_NODE_LISTEN, type NodeLibp2pInit, type RelayLibp2pInit, type RelayLibp2p, type RelayServices } from './libp2p/node.js';
export { createBrowserLibp2p, type BrowserLibp2pInit } from './libp2p/browser.js';
export * from './doc/index.js';
export * from './log/index.js';
export * from './invite/index.js';
export * from './mailbox/index.js';
export { startRelay, type Relay, type RelayInit, type RelayLimits } from './relay.js';
