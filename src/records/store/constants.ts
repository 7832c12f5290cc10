/**
 * Limits and fixed names of the record store. Sizes are named here so that every check reads the
 * same number (CONVENTIONS.md §7).
 */

/** Format byte of a sealed record value (see record-codec.ts); bumped if the layout changes. */
export const RECORD_VALUE_FORMAT = 1;
/** Bytes before the AEAD output in a sealed record value: format (1) ‖ key epoch (4, big-endian). */
export const RECORD_VALUE_HEADER_BYTES = 5;
/** Version of the plaintext envelope inside a sealed record value. */
export const ENVELOPE_FORMAT = 1;
/** Version of the scope document layout (`doc.f`). */
export const SCOPE_DOC_FORMAT = 1;

/**
 * Shards per map: the first byte of a record's slot (256 shards, 2 hex digits). Keeps every
 * Automerge map small however large the scope grows.
 */
export const SHARD_HEX_DIGITS = 2;
/** A slot is the first 16 bytes (128 bits) of HMAC-SHA-256(index key, record key), in hex. */
export const SLOT_BYTES = 16;
/** Version ids: 8 random bytes in hex. */
export const VERSION_ID_BYTES = 8;
/** Segment ids: 8 random bytes in hex. */
export const SEGMENT_ID_BYTES = 8;

/**
 * A write of at least this many values goes into a brand-new segment (one hydrated Automerge
 * object, appended at the end of the op set) instead of into existing maps. Measured here
 * (Automerge 3.5, 10k × 700 B values): 2,000 puts into existing maps took 3.3 s and 1.2 GB of
 * memory; the same values as a new object 30–130 ms.
 */
export const BULK_SEGMENT_MIN = 32;

/** Attachment content is cut into chunks of this size (1 MiB) before sealing. */
export const ATTACHMENT_CHUNK_BYTES = 1024 * 1024;
/** Largest attachment accepted (decoded bytes). */
export const MAX_ATTACHMENT_BYTES = 64 * 1024 * 1024;
/** Largest plaintext envelope (one resource without its attachment data). */
export const MAX_ENVELOPE_BYTES = 4 * 1024 * 1024;
/** A saved document is split into parts of at most this size before it goes to the vault. */
export const DOC_PART_BYTES = 8 * 1024 * 1024;
/** Incremental saves kept before the next write compacts them into one snapshot. */
export const MAX_INCREMENTAL_SAVES = 24;
/** Largest resources in one import call. */
export const MAX_IMPORT_RESOURCES = 200_000;
/** Sealing runs in batches of this many values (bounds memory and lets progress be reported). */
export const SEAL_BATCH = 512;

/** Storage keys (all under `records/`). Scope documents are named by an opaque tag, never by scope. */
export const KEYRING_KEY = 'records/keyring';
export const DEVICE_KEY = 'records/device';
export const DOC_PREFIX = 'records/d/';
export const INDEX_PREFIX = 'records/x/';
export const ATTACHMENT_PREFIX = 'records/a/';
