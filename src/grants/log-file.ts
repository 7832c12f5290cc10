import { CryptoError, equalBytes, fromBase64Url, fromUtf8, toBase64Url, utf8, type Did, type Identity } from '../crypto/index.js';
import { LOG_FILE_FORMAT, LOG_VERSION, MAX_JSON_DEPTH, MAX_LOG_ENTRIES, MAX_LOG_FILE_BYTES, MAX_TREE_HEADS } from './constants.js';
import { GrantsError } from './errors.js';
import { LogVerifier } from './log-verifier.js';
import { decodeTreeHead, signTreeHead, type SignedTreeHead } from './tree-head.js';
import type { SignedEntry, VaultId } from './types.js';
import type { Verdict } from './verdict.js';

/**
 * The export file of a log (docs/log-format.md, "Export file"): compact JSON, entries in the
 * exporter's log order, each header as base64url of its canonical bytes (so a re-encoded header is
 * detected, never normalised), bodies absent where withheld, and signed tree heads over that order.
 */
export interface LogFile {
  readonly vault: VaultId;
  readonly entries: readonly SignedEntry[];
  /** Tree heads whose root is that of this file's entries in this order, at their size. */
  readonly treeHeads: readonly SignedTreeHead[];
  /** Other tree heads the exporter saw (e.g. other parties' orders), kept for fork detection. */
  readonly observedHeads: readonly SignedTreeHead[];
}

const TOP_KEYS = ['format', 'version', 'vault', 'count', 'entries', 'treeHeads', 'observedHeads'];
const VAULT_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const LF = 0x0a;

function fail(code: ConstructorParameters<typeof GrantsError>[0], message: string, cause?: unknown): never {
  throw new GrantsError(code, message, cause === undefined ? undefined : { cause });
}

/**
 * One pass over the text before JSON.parse: refuses nesting deeper than the format has (so a
 * hostile file cannot make any parser recurse) and tells a cut-off file from a malformed one.
 */
function scan(text: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) fail('TOO_DEEP', `the file nests deeper than ${MAX_JSON_DEPTH} levels`);
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  if (inString || depth > 0 || text.length === 0) fail('TRUNCATED', 'the file ends before its JSON does (truncated?)');
}

function bytesField(value: unknown, label: string, exactLength?: number): Uint8Array {
  if (typeof value !== 'string') fail('BAD_FORMAT', `${label} is not a base64url string`);
  let bytes: Uint8Array;
  try {
    bytes = fromBase64Url(value, label);
  } catch (cause) {
    fail('BAD_FORMAT', `${label} is not canonical base64url`, cause);
  }
  if (exactLength !== undefined && bytes.length !== exactLength) fail('BAD_FORMAT', `${label} is not ${exactLength} bytes`);
  return bytes;
}

function exactKeys(value: unknown, required: readonly string[], optional: readonly string[], label: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('BAD_FORMAT', `${label} is not an object`);
  const r = value as Record<string, unknown>;
  for (const k of required) if (!Object.hasOwn(r, k)) fail('BAD_FORMAT', `${label} lacks "${k}"`);
  for (const k of Object.keys(r)) if (!required.includes(k) && !optional.includes(k)) fail('BAD_FORMAT', `${label} has an unknown field "${k}"`);
  return r;
}

function headList(value: unknown, label: string): SignedTreeHead[] {
  if (!Array.isArray(value)) fail('BAD_FORMAT', `${label} is not an array`);
  if (value.length > MAX_TREE_HEADS) fail('BAD_FORMAT', `${label} has more than ${MAX_TREE_HEADS} tree heads`);
  return value.map((v, i) => {
    const r = exactKeys(v, ['h', 's'], [], `${label}[${i}]`);
    return { head: bytesField(r.h, `${label}[${i}].h`), signature: bytesField(r.s, `${label}[${i}].s`) };
  });
}

/**
 * Reads an export file. Throws GrantsError: FILE_TOO_LARGE (before reading anything),
 * BAD_JSON, TRUNCATED, TOO_DEEP, BAD_FORMAT (also for any JSON that is not exactly the compact
 * form this code writes), UNSUPPORTED_VERSION, TOO_MANY_ENTRIES, COUNT_MISMATCH. Memory used is
 * a small multiple of the file's size. Entry contents are checked by verification, not here.
 */
export function decodeLogFile(bytes: Uint8Array): LogFile {
  if (!(bytes instanceof Uint8Array)) fail('INVALID_INPUT', '"bytes" expected Uint8Array');
  if (bytes.length > MAX_LOG_FILE_BYTES) fail('FILE_TOO_LARGE', `the file is larger than ${MAX_LOG_FILE_BYTES} bytes`);
  let text: string;
  try {
    text = fromUtf8(bytes.length > 0 && bytes[bytes.length - 1] === LF ? bytes.subarray(0, bytes.length - 1) : bytes);
  } catch (cause) {
    if (cause instanceof CryptoError) fail('BAD_JSON', 'the file is not UTF-8 text', cause);
    throw cause;
  }
  scan(text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    fail('BAD_JSON', 'the file is not valid JSON', cause);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('BAD_FORMAT', 'the file is not a JSON object');
  const top = parsed as Record<string, unknown>;
  if (top.format !== LOG_FILE_FORMAT) fail('BAD_FORMAT', `the file is not a "${LOG_FILE_FORMAT}" file`);
  if (top.version !== LOG_VERSION) fail('UNSUPPORTED_VERSION', `the file's version is not ${LOG_VERSION}`);
  const r = exactKeys(top, TOP_KEYS, [], 'the file');
  if (typeof r.count !== 'number' || !Number.isSafeInteger(r.count) || r.count < 0) fail('BAD_FORMAT', '"count" is not a non-negative integer');
  if (r.count > MAX_LOG_ENTRIES) fail('TOO_MANY_ENTRIES', `the file claims ${r.count} entries; at most ${MAX_LOG_ENTRIES} are read`);
  if (!Array.isArray(r.entries)) fail('BAD_FORMAT', '"entries" is not an array');
  if (r.entries.length > MAX_LOG_ENTRIES) fail('TOO_MANY_ENTRIES', `the file holds more than ${MAX_LOG_ENTRIES} entries`);
  if (r.entries.length !== r.count) fail('COUNT_MISMATCH', `the file claims ${r.count} entries and holds ${r.entries.length} (truncated or padded)`);
  // Only the exact compact form is accepted: a number written as 1e2, an escaped "/" or added
  // whitespace are other encodings of the same file, and a changed byte must never go unnoticed.
  if (JSON.stringify(parsed) !== text) fail('BAD_FORMAT', 'the file is not in the compact form this format is written in');
  if (typeof r.vault !== 'string' || !VAULT_PATTERN.test(r.vault)) fail('BAD_FORMAT', '"vault" is not a vault id');
  const entries = (r.entries as unknown[]).map((v, i): SignedEntry => {
    const e = exactKeys(v, ['h', 's'], ['b'], `entries[${i}]`);
    const header = bytesField(e.h, `entries[${i}].h`);
    const signature = bytesField(e.s, `entries[${i}].s`);
    return e.b === undefined ? { header, signature } : { header, signature, body: bytesField(e.b, `entries[${i}].b`) };
  });
  return { vault: r.vault as VaultId, entries, treeHeads: headList(r.treeHeads, 'treeHeads'), observedHeads: headList(r.observedHeads, 'observedHeads') };
}

/** Writes an export file (compact JSON, one trailing newline). */
export function encodeLogFile(file: LogFile): Uint8Array {
  const heads = (list: readonly SignedTreeHead[]): { h: string; s: string }[] => list.map((t) => ({ h: toBase64Url(t.head), s: toBase64Url(t.signature) }));
  const json = JSON.stringify({
    format: LOG_FILE_FORMAT,
    version: LOG_VERSION,
    vault: file.vault,
    count: file.entries.length,
    entries: file.entries.map((e) =>
      e.body === undefined
        ? { h: toBase64Url(e.header), s: toBase64Url(e.signature) }
        : { h: toBase64Url(e.header), s: toBase64Url(e.signature), b: toBase64Url(e.body) },
    ),
    treeHeads: heads(file.treeHeads),
    observedHeads: heads(file.observedHeads),
  });
  return utf8(`${json}\n`);
}

/**
 * The log as `options.for` may see it at `options.now` (bodies it is not entitled to are left out;
 * without `for`, every body this copy holds). With `signer`, a new tree head over the whole log in
 * this copy's order is signed and included.
 */
export async function exportLog(log: LogVerifier, options: { now: number; for?: Did | string; signer?: Identity }): Promise<LogFile> {
  const entries = log.entries(options.for === undefined ? {} : { for: options.for, now: options.now });
  const treeHeads: SignedTreeHead[] = [];
  const observedHeads: SignedTreeHead[] = [];
  for (const signed of log.signedTreeHeads()) {
    const head = decodeTreeHead(signed);
    if (head.size > 0 && head.size <= log.size && equalBytes(log.rootAt(head.size), head.root)) treeHeads.push(signed);
    else observedHeads.push(signed);
  }
  if (options.signer !== undefined && log.size > 0) {
    const { size, root } = log.treeHead();
    treeHeads.push(await signTreeHead(options.signer, { vault: log.vault, size, root, ts: options.now }));
  }
  return { vault: log.vault, entries, treeHeads, observedHeads };
}

/**
 * Verifies an export file at `now`: its entries in the file's order (the order its tree heads
 * cover), its tree heads against that order, and every head for forks. Entries appearing twice
 * are DUPLICATE_ENTRY.
 */
export async function verifyLogFile(file: LogFile, options: { now: number }): Promise<{ verdict: Verdict; log: LogVerifier }> {
  const log = new LogVerifier({ vault: file.vault });
  await log.add(file.entries, { order: 'given', reportDuplicates: true });
  await log.addTreeHeads(file.treeHeads, { overThisOrder: true });
  await log.addTreeHeads(file.observedHeads);
  return { verdict: log.verdict(options.now), log };
}
