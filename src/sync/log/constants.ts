/** Grant-log replication (ARCHITECTURE.md "The grant log", "Sync over libp2p"). */
export const LOG_PROTOCOL = '/patient-vault/log/1.0.0';

/** Largest message: one batch of entries. */
export const MAX_LOG_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Largest signed header (src/grants refuses larger ones too). */
export const MAX_WIRE_HEADER_BYTES = 16 * 1024;
/** Largest entry body (a grant carrying sealed scope keys, a FHIR Consent). */
export const MAX_WIRE_BODY_BYTES = 256 * 1024;
/** Entries per batch message. */
export const MAX_ENTRIES_PER_BATCH = 256;
/** Authors a frontier may name (devices, delegates, grantees writing receipts). */
export const MAX_FRONTIER_AUTHORS = 4096;
/**
 * Entry ids a `hello` may list in `want` (entries held without their body, whose body the other
 * side may send if the sender is entitled to it now). 1,024 ids are ~46 KB; a side holding more
 * lists them in turns over successive exchanges.
 */
export const MAX_WANTED_BODIES = 1024;
/** Largest signed tree head. */
export const MAX_TREE_HEAD_BYTES = 4096;
/** Entries one exchange may carry in total, each way (a log of more must be split over sessions). */
export const MAX_ENTRIES_PER_EXCHANGE = 1_000_000;
/** Wait for each message. */
export const LOG_READ_TIMEOUT_MS = 30_000;
/** Concurrent inbound log streams per connection (one per vault shared with the remote). */
export const LOG_MAX_INBOUND_STREAMS = 8;
/** Concurrent outbound log streams per connection. */
export const LOG_MAX_OUTBOUND_STREAMS = 16;
