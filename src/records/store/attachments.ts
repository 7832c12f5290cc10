/**
 * Attachment content (Binary.data, Attachment.data in DocumentReference, Media, DiagnosticReport…)
 * does not go into the Automerge documents: it is cut into 1 MiB chunks, each sealed under its own
 * key and stored in the vault under a content address; the resource keeps a reference.
 *
 * Per chunk, with h = SHA-256(chunk) and K = the vault's attachment key (keyring):
 *   key  = HMAC-SHA-256(K, "patient-vault/attachment-key\n" ‖ h)
 *   addr = hex(HMAC-SHA-256(K, "patient-vault/attachment-addr\n" ‖ h))
 *   value = AES-256-GCM(key, chunk, AD = "patient-vault/attachment/1\n" ‖ addr)
 * Equal chunks in one vault get equal addresses (stored once); the address reveals nothing about
 * the content to someone without K; and the chunk keys travel inside the sealed resource, so whoever
 * can read the resource (a grantee of its scope) can read its attachments and nobody else can.
 */
import {
  concatBytes,
  fromBase64Url,
  hmacSha256,
  open,
  seal,
  sha256,
  sha256Async,
  toBase64Url,
  toHex,
  utf8,
  type Digest,
  type SymmetricKey,
} from '../../crypto/index.js';
import { ATTACHMENT_CHUNK_BYTES, ATTACHMENT_PREFIX, MAX_ATTACHMENT_BYTES } from './constants.js';
import { RecordStoreError } from './errors.js';
import type { AttachmentRef, JsonObject } from './types.js';

const KEY_LABEL = utf8('patient-vault/attachment-key\n');
const ADDR_LABEL = utf8('patient-vault/attachment-addr\n');

/** A sealed chunk ready to be written to the vault. */
export interface SealedChunk {
  storageKey: string;
  value: Uint8Array;
}

/** Where a chunk lives in the vault. */
export function chunkStorageKey(addr: string): string {
  return `${ATTACHMENT_PREFIX}${addr}`;
}

function chunkAd(addr: string): Uint8Array {
  return utf8(`patient-vault/attachment/1\n${addr}`);
}

/**
 * Finds inline attachment data: every object with a string `data` and a string `contentType` (the
 * shape of Attachment and of Binary). Returns JSON pointers (RFC 6901), outermost first.
 */
export function findInlineData(resource: JsonObject): string[] {
  const found: string[] = [];
  const path: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const v: unknown = value[i];
        if (typeof v !== 'object' || v === null) continue;
        path.push(String(i));
        walk(v);
        path.pop();
      }
      return;
    }
    const obj = value as JsonObject;
    if (typeof obj.data === 'string' && typeof obj.contentType === 'string' && obj.data.length > 0) {
      found.push(path.length === 0 ? '' : `/${path.map(escapePointer).join('/')}`);
    }
    for (const k in obj) {
      const v = obj[k];
      if (typeof v !== 'object' || v === null) continue;
      path.push(k);
      walk(v);
      path.pop();
    }
  };
  walk(resource);
  return found;
}

/** The result of taking attachment data out of a resource. */
export interface ExtractedAttachments {
  /** The resource without the extracted `data` (a copy; the input is not changed). */
  resource: JsonObject;
  refs: AttachmentRef[];
  chunks: SealedChunk[];
}

/**
 * Below this size content is hashed synchronously: the asynchronous WebCrypto digest is a round trip
 * through a worker thread, which for the few-kilobyte attachments of an import costs more than the
 * hash (and, awaited once per attachment in the import loop, showed up as idle time in its
 * profile), while the synchronous hash blocks for well under a millisecond here.
 */
const SYNC_HASH_BYTES = 64 * 1024;

function digest(bytes: Uint8Array): Digest | Promise<Digest> {
  return bytes.length <= SYNC_HASH_BYTES ? sha256(bytes) : sha256Async(bytes);
}

/**
 * Takes inline data out of `resource`, chunks and seals it. Data whose base64 text would not come
 * back byte-identical after decoding and re-encoding (line breaks, non-canonical padding bits) stays
 * inline, so that an export always returns what was imported.
 */
export async function extractAttachments(resource: JsonObject, attachmentKey: SymmetricKey): Promise<ExtractedAttachments> {
  const pointers = findInlineData(resource);
  if (pointers.length === 0) return { resource, refs: [], chunks: [] };
  const copy = structuredClone(resource);
  const refs: AttachmentRef[] = [];
  const chunks: SealedChunk[] = [];
  for (const pointer of pointers) {
    const holder = resolvePointer(copy, pointer);
    const text = holder.data as string;
    const bytes = decodeBase64(text);
    if (bytes === undefined || !zeroPadBits(text)) continue;
    if (bytes.length > MAX_ATTACHMENT_BYTES) {
      throw new RecordStoreError('TOO_LARGE', `an attachment is over ${MAX_ATTACHMENT_BYTES} bytes`);
    }
    const ref: AttachmentRef = { path: pointer, size: bytes.length, sha256: toHex(await digest(bytes)), chunks: [] };
    for (let offset = 0; offset < bytes.length; offset += ATTACHMENT_CHUNK_BYTES) {
      const chunk = bytes.subarray(offset, Math.min(bytes.length, offset + ATTACHMENT_CHUNK_BYTES));
      const h = await digest(chunk);
      const key = hmacSha256(attachmentKey, concatBytes(KEY_LABEL, h)) as Uint8Array as SymmetricKey;
      const addr = toHex(hmacSha256(attachmentKey, concatBytes(ADDR_LABEL, h)));
      chunks.push({ storageKey: chunkStorageKey(addr), value: await seal(key, chunk, chunkAd(addr)) });
      ref.chunks.push({ addr, key: toBase64Url(key), size: chunk.length });
    }
    delete holder.data;
    refs.push(ref);
  }
  return { resource: copy, refs, chunks };
}

/**
 * Reads an attachment's content back from the vault through `get`, checking every chunk's size and
 * the whole content's SHA-256. A missing or altered chunk is `CORRUPT_RECORD`.
 */
export async function readAttachment(ref: AttachmentRef, get: (storageKey: string) => Promise<Uint8Array | undefined>): Promise<Uint8Array> {
  const out = new Uint8Array(ref.size);
  let offset = 0;
  for (const chunk of ref.chunks) {
    const sealed = await get(chunkStorageKey(chunk.addr));
    if (!sealed) throw new RecordStoreError('ATTACHMENT_MISSING', `attachment chunk ${chunkStorageKey(chunk.addr)} is not in this vault`);
    let plain: Uint8Array;
    try {
      plain = await open(fromBase64Url(chunk.key, 'chunk key') as SymmetricKey, sealed, chunkAd(chunk.addr));
    } catch (cause) {
      throw new RecordStoreError('CORRUPT_RECORD', `attachment chunk ${chunkStorageKey(chunk.addr)} failed authentication`, { cause });
    }
    if (plain.length !== chunk.size || offset + plain.length > out.length) {
      throw new RecordStoreError('CORRUPT_RECORD', `attachment chunk ${chunkStorageKey(chunk.addr)} has the wrong size`);
    }
    out.set(plain, offset);
    offset += plain.length;
  }
  if (offset !== ref.size || toHex(await sha256Async(out)) !== ref.sha256) {
    throw new RecordStoreError('CORRUPT_RECORD', 'an attachment does not match its hash');
  }
  return out;
}

/** A copy of `resource` with each attachment's content put back as base64 `data`. */
export function inlineAttachments(resource: JsonObject, contents: readonly { ref: AttachmentRef; bytes: Uint8Array }[]): JsonObject {
  if (contents.length === 0) return resource;
  const copy = structuredClone(resource);
  for (const { ref, bytes } of contents) resolvePointer(copy, ref.path).data = encodeBase64(bytes);
  return copy;
}

function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function resolvePointer(root: JsonObject, pointer: string): JsonObject {
  let cur: unknown = root;
  if (pointer !== '') {
    for (const raw of pointer.slice(1).split('/')) {
      const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      cur = Array.isArray(cur) ? cur[Number(token)] : typeof cur === 'object' && cur !== null ? (cur as JsonObject)[token] : undefined;
    }
  }
  if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) {
    throw new RecordStoreError('CORRUPT_RECORD', 'an attachment reference points nowhere in its resource');
  }
  return cur as JsonObject;
}

// --- base64 (RFC 4648 §4, the standard alphabet FHIR base64Binary uses) ----------------------

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

/** Standard base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  const CHUNK = 0x3000; // a multiple of 3, so padding only appears at the very end
  const native = typeof globalThis.btoa === 'function';
  for (let start = 0; start < bytes.length; start += CHUNK) {
    const chunk = bytes.subarray(start, Math.min(bytes.length, start + CHUNK));
    // btoa (browsers, Node ≥ 16) is ~10× faster than building the string in JS.
    parts.push(native ? globalThis.btoa(String.fromCharCode(...chunk)) : encodeChunk(chunk));
  }
  return parts.join('');
}

function encodeChunk(bytes: Uint8Array): string {
  let s = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    s += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  if (bytes.length - i === 1) {
    const n = bytes[i]! << 16;
    s += `${ALPHABET[n >> 18]!}${ALPHABET[(n >> 12) & 63]!}==`;
  } else if (bytes.length - i === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    s += `${ALPHABET[n >> 18]!}${ALPHABET[(n >> 12) & 63]!}${ALPHABET[(n >> 6) & 63]!}=`;
  }
  return s;
}

/** Decodes standard padded base64; undefined if `text` is not exactly that. */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    const c0 = code(text, i);
    const c1 = code(text, i + 1);
    const c2 = last && pad === 2 ? 0 : code(text, i + 2);
    const c3 = last && pad >= 1 ? 0 : code(text, i + 3);
    if (c0 < 0 || c1 < 0 || c2 < 0 || c3 < 0) return undefined;
    const n = (c0 << 18) | (c1 << 12) | (c2 << 6) | c3;
    out[o++] = n >> 16;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

/**
 * For text that {@link decodeBase64} accepts: true if it is exactly what {@link encodeBase64} writes
 * for the decoded bytes, i.e. the bits after the last byte in the final quantum are zero (RFC 4648
 * §3.5: encoders set them to zero; a decoder may ignore them, so two texts could give one content).
 * The same test as re-encoding and comparing, without building the string.
 */
export function zeroPadBits(text: string): boolean {
  if (text.endsWith('==')) return (code(text, text.length - 3) & 0x0f) === 0;
  if (text.endsWith('=')) return (code(text, text.length - 2) & 0x03) === 0;
  return true;
}

function code(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c < 128 ? LOOKUP[c]! : -1;
}
