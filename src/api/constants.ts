/**
 * Limits of the page API. Every number a hostile page could push against is a named constant here.
 */

/** Largest request (method + params, as JSON text) a page may send: a 10,000-resource bundle fits. */
export const MAX_REQUEST_CHARS = 32 * 1024 * 1024;
/** Deepest nesting accepted in params (FHIR resources nest ~10 levels; 64 leaves room, stops stack games). */
export const MAX_PARAMS_DEPTH = 64;
/** Most keys in one object of params. */
export const MAX_OBJECT_KEYS = 10_000;
/** Longest property name. */
export const MAX_KEY_CHARS = 256;
/** Longest method name. */
export const MAX_METHOD_CHARS = 64;
/** Longest SMART Health Card text (a file, a JWS or shc:/ chunks). */
export const MAX_SHC_CHARS = 1024 * 1024;
/** Longest free text a page may ask us to show the user (purpose note, label). */
export const MAX_NOTE_CHARS = 500;
/** Longest display name a page may propose for a provider. */
export const MAX_NAME_CHARS = 120;
/** Longest share a page may ask for. */
export const MAX_SHARE_DAYS = 3650;
/** Most records one vault_getRecords call returns. */
export const MAX_RECORDS_PAGE = 500;

/** Token bucket per origin: a burst of this many calls passes… */
export const RATE_BURST = 30;
/** …then this many per second. */
export const RATE_PER_SECOND = 10;
/** Origins whose buckets are remembered at once (least recently used forgotten first). */
export const RATE_MAX_ORIGINS = 1024;
/** Calls of one origin being handled at once. */
export const MAX_IN_FLIGHT_PER_ORIGIN = 16;

/** Prompts waiting behind the one shown, per origin; more are refused with 4290. */
export const MAX_QUEUED_PROMPTS_PER_ORIGIN = 3;
/** Prompts waiting across all origins. */
export const MAX_QUEUED_PROMPTS = 64;
/** A prompt nobody answers is withdrawn (4001) after this long. */
export const PROMPT_TIMEOUT_MS = 10 * 60 * 1000;

/** Tag on every window message of ours, with the protocol version. */
export const PAGE_TAG = 'patientVault/1';

/**
 * Attachments (extension pages only; never the page API). An attachment's bytes cross the runtime
 * port as base64url text, and Chromium refuses a message over 64 MiB: one read returns at most
 * this many bytes (≈ 10.7 MB as text); the UI reads larger ones slice by slice.
 */
export const ATTACHMENT_SLICE_BYTES = 8 * 1024 * 1024;
/**
 * Largest attachment the store keeps (src/records' MAX_ATTACHMENT_BYTES; not imported from there so
 * the pages that load this file do not load the records layer; a test pins the two equal): the
 * bound of a read's offset.
 */
export const MAX_ATTACHMENT_BYTES = 64 * 1024 * 1024;
/** Highest attachment index a read may name (a resource with more attachments is not real data). */
export const MAX_ATTACHMENT_INDEX = 4095;
