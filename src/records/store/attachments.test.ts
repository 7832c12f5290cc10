import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateKey, randomBytes } from '../../crypto/index.js';
import { ATTACHMENT_CHUNK_BYTES, ATTACHMENT_PREFIX } from './constants.js';
import { RecordStoreError } from './errors.js';
import { decodeBase64, encodeBase64, extractAttachments, findInlineData, inlineAttachments, readAttachment, zeroPadBits, type SealedChunk } from './attachments.js';

function bigRandom(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += 65_536) out.set(randomBytes(Math.min(65_536, length - i)), i);
  return out;
}

/** The vault's part in this test: a map of storage key → sealed chunk, as a batch would leave it. */
function vaultOf(chunks: readonly SealedChunk[]) {
  const stored = new Map(chunks.map((c) => [c.storageKey, c.value]));
  return { stored, get: (k: string) => Promise.resolve(stored.get(k)) };
}

describe('base64', () => {
  it('matches the standard encoding both ways', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = encodeBase64(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64'));
        expect(decodeBase64(text)).toEqual(bytes);
      }),
    );
  });

  it('tells canonical text (zero padding bits) exactly as re-encoding and comparing does', () => {
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    // Every last quantum with one or two padding characters, and random prefixes before them.
    const lastQuantum = fc.oneof(
      fc.tuple(fc.constantFrom(...ALPHABET), fc.constantFrom(...ALPHABET)).map(([a, b]) => `${a}${b}==`),
      fc.tuple(fc.constantFrom(...ALPHABET), fc.constantFrom(...ALPHABET), fc.constantFrom(...ALPHABET)).map(([a, b, c]) => `${a}${b}${c}=`),
      fc.uint8Array({ minLength: 3, maxLength: 3 }).map((b) => Buffer.from(b).toString('base64')),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 30 }), lastQuantum, (prefix, last) => {
        const text = Buffer.from(prefix.subarray(0, prefix.length - (prefix.length % 3))).toString('base64') + last;
        const bytes = decodeBase64(text);
        expect(bytes).toBeDefined();
        expect(zeroPadBits(text)).toBe(encodeBase64(bytes!) === text);
      }),
      { seed: 5, numRuns: 1000 },
    );
    expect(zeroPadBits('QR==')).toBe(false);
    expect(zeroPadBits('QQ==')).toBe(true);
    expect(zeroPadBits('QUJ=')).toBe(false);
    expect(zeroPadBits('QUI=')).toBe(true);
  });

  it('refuses what is not exactly padded standard base64', () => {
    for (const bad of ['A', 'AB=', 'A=B=', 'AB-_', 'AB\nC', 'ÄÄÄÄ']) expect(decodeBase64(bad)).toBeUndefined();
  });
});

describe('attachments', () => {
  const key = generateKey();

  it('finds inline data in Attachment-shaped objects and in Binary', () => {
    expect(findInlineData({ resourceType: 'Binary', contentType: 'application/pdf', data: 'AAAA' })).toEqual(['']);
    expect(
      findInlineData({
        resourceType: 'DocumentReference',
        content: [{ attachment: { contentType: 'text/plain', url: 'x' } }, { attachment: { contentType: 'application/pdf', data: 'AAAA' } }],
        'a/b~c': { contentType: 'x', data: 'AA==' },
      }),
    ).toEqual(['/content/1/attachment', '/a~1b~0c']);
    // SampledData has `data` but no contentType: not an attachment.
    expect(findInlineData({ resourceType: 'Observation', valueSampledData: { data: '1 2 3', period: 1 } })).toEqual([]);
  });

  it('takes content out as 1 MiB sealed chunks, reads it back lazily and inlines it exactly', async () => {
    const content = bigRandom(ATTACHMENT_CHUNK_BYTES * 2 + 123);
    const resource = { resourceType: 'DocumentReference', content: [{ attachment: { contentType: 'application/pdf', data: encodeBase64(content), title: 'x' } }] };
    const { resource: stripped, refs, chunks } = await extractAttachments(resource, key);
    expect(chunks).toHaveLength(3);
    expect(chunks.every((c) => c.storageKey.startsWith(ATTACHMENT_PREFIX))).toBe(true);
    expect(refs[0]!.chunks.map((c) => c.size)).toEqual([ATTACHMENT_CHUNK_BYTES, ATTACHMENT_CHUNK_BYTES, 123]);
    expect(JSON.stringify(stripped)).not.toContain('"data"');
    expect(resource.content[0]!.attachment.data).toBeDefined(); // input untouched
    const vault = vaultOf(chunks);
    const back = await readAttachment(refs[0]!, vault.get);
    // Buffer.equals: vitest's deep equality walks a 2 MB array element by element (slowly).
    expect(Buffer.from(back).equals(content)).toBe(true);
    expect(inlineAttachments(stripped, [{ ref: refs[0]!, bytes: back }])).toEqual(resource);
    // No chunk holds the content in the clear.
    expect(chunks.every((c) => Buffer.from(c.value).indexOf(Buffer.from(content.subarray(0, 64))) < 0)).toBe(true);
  });

  it('gives equal content equal addresses (stored once), and other content other ones', async () => {
    const data = encodeBase64(bigRandom(5000));
    const a = await extractAttachments({ resourceType: 'Binary', contentType: 'a', data }, key);
    const b = await extractAttachments({ resourceType: 'Media', content: { contentType: 'b', data } }, key);
    expect(b.chunks.map((c) => c.storageKey)).toEqual(a.chunks.map((c) => c.storageKey));
    const c = await extractAttachments({ resourceType: 'Binary', contentType: 'a', data: encodeBase64(bigRandom(5000)) }, key);
    expect(c.chunks[0]!.storageKey).not.toBe(a.chunks[0]!.storageKey);
    const other = await extractAttachments({ resourceType: 'Binary', contentType: 'a', data }, generateKey());
    expect(other.chunks[0]!.storageKey).not.toBe(a.chunks[0]!.storageKey);
  });

  it('leaves base64 inline when re-encoding would not give the same text back', async () => {
    const resource = { resourceType: 'Binary', contentType: 'text/plain', data: 'QR==' }; // non-zero padding bits
    const out = await extractAttachments(resource, key);
    expect(out.refs).toEqual([]);
    expect(out.resource).toEqual(resource);
  });

  it('refuses a missing, altered or swapped chunk', async () => {
    const { refs, chunks } = await extractAttachments({ resourceType: 'Binary', contentType: 'a', data: encodeBase64(bigRandom(3000)) }, key);
    const { refs: refs2, chunks: chunks2 } = await extractAttachments({ resourceType: 'Binary', contentType: 'a', data: encodeBase64(bigRandom(3000)) }, key);
    const code = async (p: Promise<unknown>) => p.then(() => 'none', (e: unknown) => (e instanceof RecordStoreError ? e.code : String(e)));
    expect(await code(readAttachment(refs[0]!, vaultOf([]).get))).toBe('ATTACHMENT_MISSING');
    const altered = chunks[0]!.value.slice();
    altered[20]! ^= 1;
    expect(await code(readAttachment(refs[0]!, vaultOf([{ ...chunks[0]!, value: altered }]).get))).toBe('CORRUPT_RECORD');
    expect(await code(readAttachment(refs[0]!, vaultOf([{ ...chunks2[0]!, storageKey: chunks[0]!.storageKey }]).get))).toBe('CORRUPT_RECORD');
    expect(await code(readAttachment({ ...refs2[0]!, sha256: refs[0]!.sha256 }, vaultOf(chunks2).get))).toBe('CORRUPT_RECORD');
  });
});
