import { ATTACHMENT_SLICE_BYTES, type AttachmentContent, type RecordView } from '../api/index.js';
import { fromBase64Url } from '../crypto/index.js';

/**
 * Attachments of a record as the record view lists and opens them. Only what cannot be active
 * content is shown inline: plain text (as text, never parsed as HTML) and four raster image types
 * (through an <img>, which runs nothing). Everything else — PDF, HTML, SVG, XML, DICOM, unknown
 * types — is offered as a download with a neutral type, so the extension never renders a file a
 * portal or provider supplied inside its own, privileged origin.
 */

/** At most this much of a text attachment is shown inline; the rest can be downloaded. */
export const TEXT_PREVIEW_BYTES = 256 * 1024;

/** How an attachment is opened. */
export type AttachmentDisplay = 'text' | 'image' | 'download';

/** One attachment as listed: position, size, and what the resource says about it. */
export interface AttachmentItem {
  readonly index: number;
  readonly size: number;
  readonly title?: string;
  /** As the resource declares it (shown to the user; decisions use {@link mediaType}). */
  readonly contentType?: string;
  /** Attachment.creation, as written. */
  readonly creation?: string;
  readonly display: AttachmentDisplay;
}

/** Raster images an <img> may show; nothing in them can run. */
const INLINE_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
/** text/* subtypes that are markup a browser would render (or treat as active content): downloaded. */
const MARKUP_TEXT = new Set(['html', 'xml', 'xhtml', 'xhtml+xml', 'svg', 'svg+xml', 'xsl', 'xslt']);
/** RFC 9110 §8.3.1 type/subtype tokens. */
const MEDIA_TYPE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/;

/** The bare media type of a Content-Type value (lower case, parameters dropped); undefined if it is not one. */
export function mediaType(contentType: unknown): string | undefined {
  if (typeof contentType !== 'string') return undefined;
  const bare = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return MEDIA_TYPE.test(bare) ? bare : undefined;
}

/** Whether an attachment of `contentType` is shown as text, as an image, or only downloaded. */
export function displayOf(contentType: unknown): AttachmentDisplay {
  const type = mediaType(contentType);
  if (type === undefined) return 'download';
  if (INLINE_IMAGES.has(type)) return 'image';
  const [top, sub] = type.split('/') as [string, string];
  if (top === 'text' && !MARKUP_TEXT.has(sub) && !sub.endsWith('+xml')) return 'text';
  return 'download';
}

/** The charset parameter of a text type, when TextDecoder knows it; else UTF-8. */
export function textDecoderFor(contentType: unknown): TextDecoder {
  const charset = typeof contentType === 'string' ? /;\s*charset\s*=\s*"?([A-Za-z0-9._-]{1,40})"?/i.exec(contentType)?.[1] : undefined;
  if (charset !== undefined) {
    try {
      return new TextDecoder(charset);
    } catch {
      // An unknown label: UTF-8 below.
    }
  }
  return new TextDecoder('utf-8');
}

/** The object at JSON pointer `path` (RFC 6901) in `root`, if it is an object. */
export function atPointer(root: unknown, path: string): Readonly<Record<string, unknown>> | undefined {
  let cur: unknown = root;
  if (path !== '') {
    if (!path.startsWith('/')) return undefined;
    for (const raw of path.slice(1).split('/')) {
      const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      if (Array.isArray(cur)) cur = /^(0|[1-9][0-9]{0,8})$/.test(token) ? cur[Number(token)] : undefined;
      else if (typeof cur === 'object' && cur !== null && Object.hasOwn(cur, token)) cur = (cur as Record<string, unknown>)[token];
      else return undefined;
    }
  }
  return typeof cur === 'object' && cur !== null && !Array.isArray(cur) ? (cur as Record<string, unknown>) : undefined;
}

/** The record's attachments with title, type and creation date from their Attachment elements. */
export function attachmentItems(record: Pick<RecordView, 'resource' | 'attachments'>): AttachmentItem[] {
  return (record.attachments ?? []).map((a) => {
    const element = atPointer(record.resource, a.path) ?? {};
    const text = (v: unknown, max: number) => (typeof v === 'string' && v.trim() !== '' ? v.trim().slice(0, max) : undefined);
    const title = text(element.title, 200);
    const contentType = text(element.contentType, 200);
    const creation = text(element.creation, 40);
    return {
      index: a.index,
      size: a.size,
      ...(title !== undefined && { title }),
      ...(contentType !== undefined && { contentType }),
      ...(creation !== undefined && { creation }),
      display: displayOf(contentType),
    };
  });
}

/** File extensions of types patients meet; anything else saves as .bin. */
const EXTENSIONS: Readonly<Record<string, string>> = {
  'application/pdf': 'pdf',
  'text/plain': 'txt',
  'text/html': 'html',
  'text/xml': 'xml',
  'application/xml': 'xml',
  'text/csv': 'csv',
  'text/rtf': 'rtf',
  'application/rtf': 'rtf',
  'application/json': 'json',
  'application/fhir+json': 'json',
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
  'image/webp': 'webp',
  'image/svg+xml': 'svg',
  'image/tiff': 'tif',
  'application/dicom': 'dcm',
};

/** A file name to save an attachment as: its title made safe, with an extension for its type. */
export function downloadName(item: Pick<AttachmentItem, 'title' | 'contentType'>): string {
  const ext = EXTENSIONS[mediaType(item.contentType) ?? ''] ?? 'bin';
  // No path separators, control or reserved characters, no leading dots; short.
  const base = (item.title ?? '')
    .replace(/[\\/:*?"<>|\p{Cc}\p{Cf}]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .replace(/^[.\s]+|[.\s]+$/g, '')
    .slice(0, 80)
    .trim();
  if (base === '') return `attachment.${ext}`;
  return base.toLowerCase().endsWith(`.${ext}`) ? base : `${base}.${ext}`;
}

/** Sizes as people read them. */
export function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** A failed open, as a sentence (the engine's codes; never anything from the attachment). */
export function attachmentErrorText(code: string, fallback: string): string {
  switch (code) {
    case 'ATTACHMENT_NOT_ON_DEVICE':
      return 'This attachment is not on this device. Attachment files are not shared or synced between devices yet.';
    case 'ATTACHMENT_DAMAGED':
      return 'The attachment could not be read (damaged).';
    case 'NOT_FOUND':
      return 'This attachment is no longer in the vault.';
    case 'LOCKED':
      return 'The vault is locked. Unlock it and try again.';
    default:
      return fallback;
  }
}

/** Reads one slice of an attachment (the `readAttachment` command with its record and index filled in). */
export type ReadSlice = (part: { offset: number; length: number }) => Promise<AttachmentContent>;

/**
 * Reads an attachment slice by slice (a runtime message carries at most ATTACHMENT_SLICE_BYTES of
 * it), up to `limit` bytes. `size` is the whole attachment's, as the engine reports it.
 */
export async function readAttachmentBytes(read: ReadSlice, limit = Number.POSITIVE_INFINITY, slice = ATTACHMENT_SLICE_BYTES): Promise<{ bytes: Uint8Array<ArrayBuffer>; size: number }> {
  const first = await read({ offset: 0, length: Math.max(1, Math.min(slice, limit)) });
  const want = Math.min(first.size, limit);
  const out = new Uint8Array(want);
  let part = first;
  let offset = 0;
  for (;;) {
    const bytes = fromBase64Url(part.data, 'attachment');
    if (part.offset !== offset || part.size !== first.size) throw new Error('The attachment changed while it was read');
    out.set(bytes.subarray(0, want - offset), offset);
    offset += Math.min(bytes.length, want - offset);
    if (offset >= want) return { bytes: out, size: first.size };
    if (bytes.length === 0) throw new Error('The attachment ended early');
    part = await read({ offset, length: Math.min(slice, want - offset) });
  }
}
