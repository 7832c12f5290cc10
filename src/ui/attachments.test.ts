import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineBackend } from '../api/index.js';
import { nodeEngineBackend } from '../api/test-support.js';
import { atPointer, attachmentErrorText, attachmentItems, displayOf, downloadName, mediaType, readAttachmentBytes, sizeText, textDecoderFor } from './attachments.js';

describe('displayOf: what is shown inline and what is only downloaded', () => {
  it('shows plain text and other non-markup text types as text, whatever their case or parameters', () => {
    for (const t of ['text/plain', 'text/plain; charset=utf-8', 'TEXT/PLAIN', ' text/plain ;charset="UTF-8"', 'text/csv', 'text/markdown', 'text/rtf']) {
      expect(displayOf(t), t).toBe('text');
    }
  });

  it('shows PNG, JPEG, GIF and WebP images inline', () => {
    for (const t of ['image/png', 'image/jpeg', 'IMAGE/JPEG', 'image/gif', 'image/webp; q=1']) expect(displayOf(t), t).toBe('image');
  });

  it('never renders active or unknown content: HTML, XML, SVG, PDF, DICOM, missing or malformed types are downloads', () => {
    for (const t of [
      'text/html',
      'text/html; charset=utf-8',
      'TEXT/HTML',
      'text/xml',
      'text/xhtml+xml',
      'text/svg+xml',
      'image/svg+xml',
      'IMAGE/SVG+XML',
      'application/xhtml+xml',
      'application/pdf',
      'application/dicom',
      'image/tiff',
      'image/png, text/html',
      'text/plain\ntext/html',
      'text',
      '',
      undefined,
      null,
      42,
      'image/png/x',
    ]) {
      expect(displayOf(t), String(t)).toBe('download');
    }
  });

  it('reduces a content type to its bare media type, or nothing when it is not one', () => {
    expect(mediaType('Text/Plain; charset=UTF-8')).toBe('text/plain');
    expect(mediaType('<script>')).toBeUndefined();
    expect(mediaType(undefined)).toBeUndefined();
  });
});

describe('attachment metadata from the resource', () => {
  const record = {
    resource: {
      resourceType: 'DocumentReference',
      content: [
        { attachment: { contentType: 'text/plain', title: '  Visit note ', creation: '2024-03-01T10:00:00Z' } },
        { attachment: { contentType: 'application/pdf' } },
        { attachment: { contentType: 'image/png', title: '' } },
      ],
    },
    attachments: [
      { index: 0, path: '/content/0/attachment', size: 120 },
      { index: 1, path: '/content/1/attachment', size: 5000 },
      { index: 2, path: '/content/2/attachment', size: 10 },
      { index: 3, path: '/content/9/attachment', size: 1 },
    ],
  };

  it('takes title, type and creation date from the Attachment element at each path', () => {
    expect(attachmentItems(record)).toEqual([
      { index: 0, size: 120, title: 'Visit note', contentType: 'text/plain', creation: '2024-03-01T10:00:00Z', display: 'text' },
      { index: 1, size: 5000, contentType: 'application/pdf', display: 'download' },
      { index: 2, size: 10, contentType: 'image/png', display: 'image' },
      // A path that points nowhere still lists the attachment, as a download.
      { index: 3, size: 1, display: 'download' },
    ]);
    expect(attachmentItems({ resource: { resourceType: 'Patient' } })).toEqual([]);
  });

  it('resolves JSON pointers per RFC 6901 and never walks into inherited members', () => {
    const root = { 'a/b': { '~c': { ok: 1 } }, list: [{ x: 1 }] };
    expect(atPointer(root, '/a~1b/~0c')).toEqual({ ok: 1 });
    expect(atPointer(root, '/list/0')).toEqual({ x: 1 });
    expect(atPointer(root, '')).toBe(root);
    for (const bad of ['/list/01', '/list/-1', '/__proto__', '/constructor', '/list/length', 'list/0', '/a~1b/~0c/ok']) expect(atPointer(root, bad), bad).toBeUndefined();
  });

  it('names downloads from the title, made safe, with an extension for the type', () => {
    expect(downloadName({ title: 'Discharge summary', contentType: 'application/pdf' })).toBe('Discharge summary.pdf');
    expect(downloadName({ title: 'report.PDF', contentType: 'application/pdf; x=1' })).toBe('report.PDF');
    expect(downloadName({ title: '../../etc/passwd', contentType: 'text/html' })).toBe('etc passwd.html');
    expect(downloadName({ title: '..\u202Efdp.exe', contentType: 'application/octet-stream' })).toBe('fdp.exe.bin');
    expect(downloadName({ contentType: 'IMAGE/SVG+XML' })).toBe('attachment.svg');
    expect(downloadName({ title: '   ' })).toBe('attachment.bin');
    expect(downloadName({ title: 'x'.repeat(500), contentType: 'application/dicom' })).toMatch(/^x{80}\.dcm$/);
  });

  it('words sizes and failures for people, with nothing from the attachment in them', () => {
    expect(sizeText(512)).toBe('512 bytes');
    expect(sizeText(2048)).toBe('2.0 KB');
    expect(sizeText(3 * 1024 * 1024)).toBe('3.0 MB');
    expect(attachmentErrorText('ATTACHMENT_NOT_ON_DEVICE', 'x')).toMatch(/^This attachment is not on this device\./);
    expect(attachmentErrorText('ATTACHMENT_DAMAGED', 'x')).toBe('The attachment could not be read (damaged).');
    expect(attachmentErrorText('SOMETHING_ELSE', 'fallback')).toBe('fallback');
  });

  it('decodes text in its declared charset, UTF-8 when none or an unknown one is declared', () => {
    expect(textDecoderFor('text/plain; charset=ISO-8859-1').decode(Uint8Array.of(0xe9))).toBe('é');
    expect(textDecoderFor('text/plain').decode(Uint8Array.of(0xc3, 0xa9))).toBe('é');
    expect(textDecoderFor('text/plain; charset=no-such-charset').encoding).toBe('utf-8');
  });
});

describe('readAttachmentBytes over the real engine', () => {
  const backends: EngineBackend[] = [];
  afterEach(async () => {
    for (const b of backends.splice(0)) await b.close();
  });

  it('joins slices into the whole attachment, or stops at a limit (the text preview)', async () => {
    const backend = await nodeEngineBackend();
    backends.push(backend);
    await backend.create({ passphrase: 'correct horse battery staple' });
    const content = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) % 256);
    await backend.records!.import({
      format: 'fhir',
      data: { resourceType: 'Binary', id: 'b1', contentType: 'application/octet-stream', data: Buffer.from(content).toString('base64') },
    });
    const [record] = await backend.records!.timeline({});
    expect(record!.attachments).toEqual([{ index: 0, path: '', size: 5000 }]);
    const calls: { offset: number; length: number }[] = [];
    const read = (part: { offset: number; length: number }) => {
      calls.push(part);
      return backend.records!.readAttachment({ key: record!.id, index: 0, ...part });
    };
    const whole = await readAttachmentBytes(read, undefined, 1024);
    expect(whole.size).toBe(5000);
    expect(whole.bytes).toEqual(content);
    expect(calls.map((c) => c.offset)).toEqual([0, 1024, 2048, 3072, 4096]);

    calls.length = 0;
    const preview = await readAttachmentBytes(read, 1500, 1024);
    expect(preview).toEqual({ bytes: content.subarray(0, 1500), size: 5000 });
    expect(calls).toEqual([
      { offset: 0, length: 1024 },
      { offset: 1024, length: 476 },
    ]);
  });

  it('opens the clinical notes of a Synthea sample as text, byte for byte what the file carried', async () => {
    const backend = await nodeEngineBackend();
    backends.push(backend);
    await backend.create({ passphrase: 'correct horse battery staple' });
    const text = await readFile(new URL('../../test/fixtures/samples/synthea/georgianne697-trimmed-transaction.json', import.meta.url), 'utf8');
    const bundle = JSON.parse(text) as { resourceType: string; entry: { resource: { resourceType: string; content?: { attachment: { data: string } }[] } }[] };
    const sent = bundle.entry.filter((e) => e.resource.resourceType === 'DocumentReference').map((e) => e.resource.content![0]!.attachment.data);
    expect(sent.length).toBeGreaterThan(0);
    await backend.records!.import({ format: 'fhir', data: bundle });
    const notes = await backend.records!.timeline({ resourceType: 'DocumentReference' });
    expect(notes).toHaveLength(sent.length);
    const opened: string[] = [];
    for (const note of notes) {
      const [item] = attachmentItems(note);
      expect(item).toMatchObject({ index: 0, contentType: 'text/plain; charset=utf-8', display: 'text' });
      const { bytes, size } = await readAttachmentBytes((part) => backend.records!.readAttachment({ key: note.id, index: 0, ...part }), 256 * 1024);
      expect(bytes.length).toBe(size);
      opened.push(textDecoderFor(item!.contentType).decode(bytes));
    }
    expect(opened.sort()).toEqual(sent.map((b) => Buffer.from(b, 'base64').toString('utf8')).sort());
  });
});
