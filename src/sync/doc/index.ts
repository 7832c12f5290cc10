/**
 * `/patient-vault/doc/1.0.0`: the Automerge sync protocol for one scope document, gated by the
 * serving side's `authorize` before the first message and on every message.
 * @packageDocumentation
 */
export {
  DOC_PROTOCOL,
  MAX_DOC_MESSAGE_BYTES,
  MAX_DOC_NAME_CHARS,
  MAX_VAULT_ID_CHARS,
  MAX_HEADS,
  DOC_READ_TIMEOUT_MS,
  DOC_MAX_INBOUND_STREAMS,
  DOC_MAX_OUTBOUND_STREAMS,
  DOC_MAX_SESSIONS_PER_PEER,
  DOC_MAX_SESSIONS,
} from './constants.js';
export { DOC_END_CODES, type DocEndCode } from './errors.js';
export { DocumentHandle, type SyncTarget, type ChangeOrigin } from './document-handle.js';
export {
  DocSync,
  DocSession,
  type AccessMode,
  type DocAuthorizer,
  type DocAdmission,
  type DocResolver,
  type SyncStateStore,
  type ReceivedEvent,
  type SessionEnd,
  type DocSyncInit,
  type DocSyncComponents,
  type SyncOptions,
} from './doc-sync.js';

import type { DocSyncComponents, DocSyncInit } from './doc-sync.js';
import { DocSync } from './doc-sync.js';

/**
 * Creates the doc protocol service. Call `start()` to register it on the node.
 * @param components - the libp2p node (as a {@link ProtocolHost}) and the ban list
 * @param init - authorize, resolve and the optional limits (each with its default)
 */
export function docSync(components: DocSyncComponents, init: DocSyncInit): DocSync {
  return new DocSync(components, init);
}
