/**
 * `/patient-vault/log/1.0.0`: grant-log replication. Heads and signed tree heads first, then the
 * missing entries both ways (bodies only to the parties entitled), verified before storing.
 * @packageDocumentation
 */
export {
  LOG_PROTOCOL,
  MAX_LOG_MESSAGE_BYTES,
  MAX_WIRE_HEADER_BYTES,
  MAX_WIRE_BODY_BYTES,
  MAX_ENTRIES_PER_BATCH,
  MAX_FRONTIER_AUTHORS,
  MAX_WANTED_BODIES,
  MAX_TREE_HEAD_BYTES,
  MAX_ENTRIES_PER_EXCHANGE,
  LOG_READ_TIMEOUT_MS,
  LOG_MAX_INBOUND_STREAMS,
  LOG_MAX_OUTBOUND_STREAMS,
} from './constants.js';
export { LOG_END_CODES, type LogEndCode } from './errors.js';
export type { FrontierItem, WireEntry } from './messages.js';
export {
  LogSync,
  type LogReplica,
  type ReceiveResult,
  type LogExchangeResult,
  type Misbehaviour,
  type LogSyncInit,
  type LogSyncComponents,
} from './log-sync.js';

import { LogSync, type LogSyncComponents, type LogSyncInit } from './log-sync.js';

/** Creates the log protocol service; call `start()` to register it. */
export function logSync(components: LogSyncComponents, init: LogSyncInit): LogSync {
  return new LogSync(components, init);
}
