/**
 * Limits and format constants of the grant log. Every size a parser trusts is named here, so a
 * reader can see what a hostile file or peer can make us allocate.
 */

/** Version of the entry header (`v`), of the tree head and of the export file. */
export const LOG_VERSION = 1;

/** Largest canonical header: 9 fields, at most {@link MAX_DEPS} 32-byte deps (~4.4 KiB). */
export const MAX_HEADER_BYTES = 6 * 1024;
/** Largest body. Grants carry one sealed key per scope (~90 bytes each); a FHIR Consent is the largest. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Most other-author heads one entry may cite. A writer with more heads cites them over several entries. */
export const MAX_DEPS = 128;
/** Highest sequence number (the causal index keeps sequence numbers in an Int32Array). */
export const MAX_SEQ = 2 ** 31 - 2;
/** Most distinct members (subject, devices, delegates) one vault's log may name. */
export const MAX_MEMBERS = 4096;

/** Largest export file we read. A 10,000-entry log is ~4 MB; this is room for ~200,000 entries. */
export const MAX_LOG_FILE_BYTES = 64 * 1024 * 1024;
/** Most entries one export file (or one `verify` call on a file) may hold. */
export const MAX_LOG_ENTRIES = 250_000;
/** Most signed tree heads one export file may carry. */
export const MAX_TREE_HEADS = 1024;
/** Deepest JSON nesting of an export file (the format itself nests 3 levels). */
export const MAX_JSON_DEPTH = 4;

/** How far an entry's `ts` may lie after the verifier's `now` before it is reported (clock skew). */
export const MAX_CLOCK_SKEW_MS = 10 * 60 * 1000;

/** Longest free-text field of a body (labels, reasons, notes). */
export const MAX_TEXT_LENGTH = 256;
/** Most items in a body list (devices, scopes, sealed keys, heads). */
export const MAX_LIST_ITEMS = 64;

/** Domain-separation prefix of entry signatures: the same key also signs tree heads and libp2p handshakes. */
export const ENTRY_SIGNING_CONTEXT = 'patient-vault/log-entry/v1\n';
/** Domain-separation prefix of tree-head signatures. */
export const TREE_HEAD_SIGNING_CONTEXT = 'patient-vault/tree-head/v1\n';
/** Associated-data tag of a scope key sealed to a grantee. */
export const SCOPE_KEY_AD_TAG = 'patient-vault/scope-key/v1';
/** The `format` field of an export file. */
export const LOG_FILE_FORMAT = 'patient-vault/log';
