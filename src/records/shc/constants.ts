/**
 * Limits from the SMART Health Cards specification (spec.smarthealth.cards, "Health Cards as QR
 * Codes" and FAQ/qr.md), and our own caps where the spec sets none.
 */

/** A JWS longer than this SHALL be split into chunks (the most a Version 22 QR holds at level L). */
export const MAX_SINGLE_QR_JWS_CHARS = 1195;
/** Each chunk of a chunked JWS SHALL be at most this long. */
export const MAX_CHUNK_JWS_CHARS = 1191;
/**
 * Most chunks accepted. The spec sets no number (chunking is deprecated); 10 Version-22 QR codes
 * carry ~11.9 k characters, far more than any card issued in practice.
 */
export const MAX_QR_CHUNKS = 10;
/** Our cap on a JWS from a file or raw text (no QR limit applies there). */
export const MAX_JWS_CHARS = 1024 * 1024;
/** Our cap on the inflated payload: a DEFLATE bomb stops here. */
export const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;
/** Cards in one `.smart-health-card` file. */
export const MAX_CARDS_PER_FILE = 100;
/** Clock skew tolerated on `nbf` and `exp`, in seconds. */
export const CLOCK_SKEW_SECONDS = 60;
/** The credential type every health card carries (spec "Modeling W3C Verifiable Credentials"). */
export const HEALTH_CARD_TYPE = 'https://smarthealth.cards#health-card';
/**
 * Largest JWKS document read: fetched from an issuer, or a trust file given by the user. A JWKS of a
 * few keys is a few KiB (the spec example's, with an x5c chain, is 2.6 KiB).
 */
export const MAX_JWKS_BYTES = 256 * 1024;
/** Where an issuer publishes its keys, relative to `iss`. */
export const JWKS_PATH = '/.well-known/jwks.json';
/** Image limits for QR decoding (pixels and decoder memory). */
export const MAX_IMAGE_PIXELS = 40_000_000;
export const MAX_IMAGE_DECODE_MB = 512;
