/**
 * Reading untrusted input as JSON without letting it crash the process: a size cap, a strict
 * UTF-8 decode, and a nesting-depth scan BEFORE JSON.parse (a deeply nested array would otherwise
 * overflow the stack of JSON.parse or of any recursive walk after it).
 */
import { RecordsError } from '../errors.js';

/** Largest input accepted, in bytes (a 50 MB export of a long record still fits). */
export const MAX_IMPORT_BYTES = 64 * 1024 * 1024;
/** Deepest nesting of arrays and objects accepted. FHIR resources in bundles reach ~15–25. */
export const MAX_JSON_DEPTH = 100;

/** Decodes UTF-8 strictly (a byte-order mark is dropped); invalid bytes are refused. */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new RecordsError('INVALID_ENCODING', 'The input is not valid UTF-8 text');
  }
}

/**
 * The deepest nesting of `{`/`[` in `text`, outside strings; stops counting at `limit + 1`.
 * Linear, no recursion. A string is skipped in one jump to its closing quote (the first `"` not
 * escaped by an odd run of backslashes), found by the engine's `indexOf`: strings are most of a
 * FHIR file, and the scan ran over every character of them (10k resources: 63 ms → 28 ms).
 */
export function jsonDepth(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let end = i;
      for (;;) {
        end = text.indexOf('"', end + 1);
        if (end < 0) return max; // unterminated: nothing after it is outside a string
        let k = end - 1;
        while (text.charCodeAt(k) === 0x5c /* \ */) k--; // stops at the opening quote at the latest
        if ((end - 1 - k) % 2 === 0) break;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return max;
}

/**
 * Parses untrusted JSON: refuses text nested deeper than {@link MAX_JSON_DEPTH} (`TOO_DEEP`) and
 * malformed text (`MALFORMED_JSON`, with the position but never the text around it: the engine's
 * own message quotes the input).
 */
export function parseJsonSafely(text: string, what = 'The input'): unknown {
  if (jsonDepth(text) > MAX_JSON_DEPTH) {
    throw new RecordsError('TOO_DEEP', `${what} nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const position = e instanceof SyntaxError ? /position (\d+)/.exec(e.message)?.[1] : undefined;
    throw new RecordsError('MALFORMED_JSON', `${what} is not valid JSON${position ? ` (near character ${position})` : ''}`);
  }
}
