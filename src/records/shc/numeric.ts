/**
 * `shc:/` QR text (spec "Encoding QRs"): each JWS character c becomes two digits, ord(c) − 45.
 * Chunked cards (deprecated but still handed out) carry `shc:/<C>/<N>/` before the digits; the
 * chunks may arrive in any order and are reassembled here, refusing missing, duplicate,
 * contradicting or oversized chunks.
 */
import { RecordsError } from '../errors.js';
import { MAX_CHUNK_JWS_CHARS, MAX_QR_CHUNKS, MAX_SINGLE_QR_JWS_CHARS } from './constants.js';

const QR_LINE = /^shc:\/(?:(\d+)\/(\d+)\/)?(\d*)$/i;

/** One scanned QR code. */
export interface QrChunk {
  /** 1-based position; 1 for an unchunked card. */
  index: number;
  /** Total chunks; 1 for an unchunked card. */
  total: number;
  /** The JWS characters this chunk carries. */
  jws: string;
}

/** Decodes the digits of one QR to JWS characters. */
export function decodeNumeric(digits: string): string {
  if (digits.length % 2 !== 0) throw new RecordsError('SHC_MALFORMED', 'QR numeric data has an odd number of digits');
  let out = '';
  for (let i = 0; i < digits.length; i += 2) {
    const value = (digits.charCodeAt(i) - 48) * 10 + (digits.charCodeAt(i + 1) - 48);
    // 45 + 0..77 covers '-' (45) to 'z' (122), every character a compact JWS can hold.
    if (value > 77) throw new RecordsError('SHC_MALFORMED', 'QR numeric data holds a value outside the JWS alphabet');
    out += String.fromCharCode(value + 45);
  }
  return out;
}

/** Encodes JWS characters as QR digits (for tests and fixtures). */
export function encodeNumeric(jws: string): string {
  let out = '';
  for (let i = 0; i < jws.length; i++) out += (jws.charCodeAt(i) - 45).toString().padStart(2, '0');
  return out;
}

/** Parses one `shc:/…` line. */
export function parseQrLine(line: string): QrChunk {
  const m = QR_LINE.exec(line.trim());
  if (!m) throw new RecordsError('SHC_MALFORMED', 'A QR line is not of the form shc:/[C/N/]digits');
  const chunked = m[1] !== undefined;
  const index = chunked ? Number(m[1]) : 1;
  const total = chunked ? Number(m[2]) : 1;
  if (chunked && (total < 2 || index < 1 || index > total)) throw new RecordsError('SHC_BAD_CHUNKS', 'A QR chunk has an invalid position or count');
  if (total > MAX_QR_CHUNKS) throw new RecordsError('SHC_TOO_LARGE', `A card may be split into at most ${MAX_QR_CHUNKS} QR codes`);
  const digits = m[3] ?? '';
  const limit = chunked ? MAX_CHUNK_JWS_CHARS : MAX_SINGLE_QR_JWS_CHARS;
  if (digits.length / 2 > limit) throw new RecordsError('SHC_TOO_LARGE', `A QR code carries more than the ${limit} JWS characters the spec allows`);
  if (digits.length === 0) throw new RecordsError('SHC_MALFORMED', 'A QR code carries no data');
  return { index, total, jws: decodeNumeric(digits) };
}

/**
 * Reassembles the JWS strings from QR lines, in any order. Lines with no chunk prefix are complete
 * cards on their own; chunked lines must form exactly one complete set (several chunked cards at
 * once cannot be told apart, and are refused as mismatched).
 */
export function assembleQrLines(lines: readonly string[]): string[] {
  const whole: string[] = [];
  const chunks: QrChunk[] = [];
  for (const line of lines) {
    const chunk = parseQrLine(line);
    if (chunk.total === 1) whole.push(chunk.jws);
    else chunks.push(chunk);
  }
  if (chunks.length > 0) {
    const total = chunks[0]!.total;
    if (chunks.some((c) => c.total !== total)) throw new RecordsError('SHC_BAD_CHUNKS', 'QR chunks disagree on how many chunks the card has');
    const byIndex = new Map<number, string>();
    for (const c of chunks) {
      if (byIndex.has(c.index)) throw new RecordsError('SHC_BAD_CHUNKS', `QR chunk ${c.index} of ${total} was given twice`);
      byIndex.set(c.index, c.jws);
    }
    const missing: number[] = [];
    for (let i = 1; i <= total; i++) if (!byIndex.has(i)) missing.push(i);
    if (missing.length > 0) throw new RecordsError('SHC_BAD_CHUNKS', `QR chunk ${missing.join(', ')} of ${total} is missing`);
    let jws = '';
    for (let i = 1; i <= total; i++) jws += byIndex.get(i)!;
    whole.push(jws);
  }
  return whole;
}
