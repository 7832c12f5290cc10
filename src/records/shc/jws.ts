/**
 * Compact JWS as SMART Health Cards use it (spec "Health Cards are Compact"): header
 * `{"alg":"ES256","zip":"DEF","kid":…}`, payload raw-DEFLATE-compressed minified JSON, signature
 * ES256 (r‖s, 64 bytes). Parsing here checks shape and inflates; signatures are checked in jwk.ts.
 */
import { inflateSync } from 'fflate';
import { fromBase64Url, fromUtf8 } from '../../crypto/index.js';
import { RecordsError } from '../errors.js';
import { MAX_JWS_CHARS, MAX_PAYLOAD_BYTES } from './constants.js';

/** A compact JWS split and decoded, not yet verified. */
export interface ParsedJws {
  header: { alg: 'ES256'; zip: 'DEF'; kid: string };
  /** The inflated payload, parsed. */
  payload: Record<string, unknown>;
  /** ASCII bytes of `header.payload`: what the signature covers. */
  signingInput: Uint8Array;
  signature: Uint8Array;
}

const JWS_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** True if `text` has the shape of a compact JWS (three base64url parts). */
export function looksLikeJws(text: string): boolean {
  return text.length <= MAX_JWS_CHARS && JWS_SHAPE.test(text);
}

function b64(part: string, what: string): Uint8Array {
  try {
    return fromBase64Url(part, what);
  } catch {
    throw new RecordsError('SHC_MALFORMED', `The JWS ${what} is not valid base64url`);
  }
}

/** Raw DEFLATE (RFC 1951) with an output cap: more than `limit` bytes is refused, never allocated. */
export function inflateCapped(data: Uint8Array, limit = MAX_PAYLOAD_BYTES): Uint8Array {
  const out = new Uint8Array(limit + 1);
  let result: Uint8Array;
  try {
    result = inflateSync(data, { out });
  } catch {
    throw new RecordsError('SHC_BAD_PAYLOAD', 'The card payload is not raw DEFLATE data (zip: DEF)');
  }
  if (result.length > limit) throw new RecordsError('SHC_TOO_LARGE', `The card payload inflates to more than ${limit} bytes`);
  return result;
}

/** Splits, decodes and inflates a compact JWS; checks the header the spec requires. */
export function parseJws(jws: string): ParsedJws {
  if (jws.length > MAX_JWS_CHARS) throw new RecordsError('SHC_TOO_LARGE', `The JWS is longer than ${MAX_JWS_CHARS} characters`);
  if (!JWS_SHAPE.test(jws)) throw new RecordsError('SHC_MALFORMED', 'Not a compact JWS (header.payload.signature)');
  const [h, p, s] = jws.split('.') as [string, string, string];
  let header: unknown;
  try {
    header = JSON.parse(fromUtf8(b64(h, 'header')));
  } catch (e) {
    if (e instanceof RecordsError) throw e;
    throw new RecordsError('SHC_MALFORMED', 'The JWS header is not JSON');
  }
  if (typeof header !== 'object' || header === null) throw new RecordsError('SHC_BAD_HEADER', 'The JWS header is not an object');
  const hdr = header as Record<string, unknown>;
  if (hdr.alg !== 'ES256') throw new RecordsError('SHC_BAD_HEADER', 'The JWS header alg must be ES256');
  if (hdr.zip !== 'DEF') throw new RecordsError('SHC_BAD_HEADER', 'The JWS header zip must be DEF (raw DEFLATE)');
  if (typeof hdr.kid !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(hdr.kid)) throw new RecordsError('SHC_BAD_HEADER', 'The JWS header kid is missing or not base64url');
  if (hdr.crit !== undefined) throw new RecordsError('SHC_BAD_HEADER', 'The JWS header has critical extensions this verifier does not know');
  const signature = b64(s, 'signature');
  if (signature.length !== 64) throw new RecordsError('SHC_BAD_SIGNATURE', 'An ES256 signature is 64 bytes');
  const inflated = inflateCapped(b64(p, 'payload'));
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(inflated));
  } catch {
    throw new RecordsError('SHC_BAD_PAYLOAD', 'The card payload is not UTF-8 JSON');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new RecordsError('SHC_BAD_PAYLOAD', 'The card payload is not a JSON object');
  return {
    header: { alg: 'ES256', zip: 'DEF', kid: hdr.kid },
    payload: payload as Record<string, unknown>,
    signingInput: new TextEncoder().encode(`${h}.${p}`),
    signature,
  };
}
