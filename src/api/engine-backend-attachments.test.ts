import { afterEach, describe, expect, it } from 'vitest';
import { fromBase64Url, fromUtf8 } from '../crypto/index.js';
import { MemoryStorage, WEAK_TEST_KDF_COST } from '../store/index.js';
import { createNodeLibp2p } from '../sync/index.js';
import { MAX_ATTACHMENT_BYTES as STORE_MAX_ATTACHMENT_BYTES } from '../records/index.js';
import { ATTACHMENT_SLICE_BYTES, MAX_ATTACHMENT_BYTES } from './constants.js';
import { createEngineBackend, type EngineBackend } from './engine-backend.js';
import { uiCommand } from './messages.js';

/**
 * Attachments in the extension: the engine lists them with each record and reads one lazily, slice
 * by slice, over the real record store (src/records) in a real vault (src/store, memory storage).
 * All content is synthetic.
 */
const PASS = 'correct horse battery staple';
const backends: EngineBackend[] = [];
afterEach(async () => {
  for (const b of backends.splice(0)) await b.close();
});

async function device(name: string, relay?: () => string | undefined): Promise<{ backend: EngineBackend; storage: MemoryStorage }> {
  const storage = new MemoryStorage();
  const backend = await createEngineBackend({
    storage,
    kdfCost: WEAK_TEST_KDF_COST,
    allowWeakKdf: true,
    idleCheckMs: 0,
    createLibp2p: (identity) => createNodeLibp2p({ identity, listen: ['/ip4/127.0.0.1/tcp/0'] }),
    ...(relay && { relay }),
  });
  backends.push(backend);
  await backend.create({ passphrase: PASS, displayName: name });
  return { backend, storage };
}

const NOTE = 'Synthetic visit note (test data).\nPlan: follow up in two weeks.\n';
/** Not a real image: bytes with a PNG signature, enough to be stored and read back. */
const PICTURE = Uint8Array.from({ length: 3000 }, (_, i) => (i < 8 ? [137, 80, 78, 71, 13, 10, 26, 10][i]! : (i * 31) % 256));
const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64');

const BUNDLE = {
  resourceType: 'Bundle',
  type: 'collection',
  entry: [
    {
      fullUrl: 'urn:uuid:5a0c1e2d-0000-4000-8000-000000000001',
      resource: {
        resourceType: 'DocumentReference',
        status: 'current',
        type: { coding: [{ system: 'http://loinc.org', code: '34108-1', display: 'Outpatient Note' }] },
        date: '2024-03-01T10:00:00Z',
        content: [
          { attachment: { contentType: 'text/plain; charset=utf-8', title: 'Visit note', data: b64(NOTE) } },
          { attachment: { contentType: 'image/png', title: 'Scan', data: b64(PICTURE) } },
        ],
      },
    },
  ],
};

const textOf = (data: string) => fromUtf8(fromBase64Url(data));

async function importNote(backend: EngineBackend): Promise<string> {
  await backend.records!.import({ format: 'fhir', data: BUNDLE });
  const [record] = await backend.records!.timeline({ resourceType: 'DocumentReference' });
  return record!.id;
}

describe('engine backend: attachments', () => {
  it('lists a record’s attachments without their content and reads each back, whole or in slices', async () => {
    const { backend } = await device('Alex Example');
    await backend.records!.import({ format: 'fhir', data: BUNDLE });
    const [record] = await backend.records!.timeline({});
    expect(record!.attachments).toEqual([
      { index: 0, path: '/content/0/attachment', size: NOTE.length },
      { index: 1, path: '/content/1/attachment', size: PICTURE.length },
    ]);
    // The resource the UI gets keeps title and content type, not the data.
    expect((record!.resource.content as { attachment: Record<string, unknown> }[])[0]!.attachment).toEqual({ contentType: 'text/plain; charset=utf-8', title: 'Visit note' });

    const whole = await backend.records!.readAttachment({ key: record!.id, index: 0 });
    expect(whole).toMatchObject({ size: NOTE.length, offset: 0 });
    expect(textOf(whole.data)).toBe(NOTE);
    expect(fromBase64Url((await backend.records!.readAttachment({ key: record!.id, index: 1 })).data)).toEqual(PICTURE);

    // Slices (a large attachment is read like this, ATTACHMENT_SLICE_BYTES at a time) join up to the whole.
    const parts: Uint8Array[] = [];
    for (let offset = 0; offset < PICTURE.length; offset += 1000) {
      const part = await backend.records!.readAttachment({ key: record!.id, index: 1, offset, length: 1000 });
      expect(part).toMatchObject({ size: PICTURE.length, offset });
      parts.push(fromBase64Url(part.data));
    }
    expect(Buffer.concat(parts)).toEqual(Buffer.from(PICTURE));
    const atEnd = await backend.records!.readAttachment({ key: record!.id, index: 0, offset: NOTE.length });
    expect(atEnd.data).toBe('');
  });

  it('refuses bad reads with typed errors: wrong types, unknown record, index out of range, bad slices', async () => {
    const { backend } = await device('Alex Example');
    const key = await importNote(backend);
    // Typed as the UI would never send them: the engine checks what arrives anyway.
    const read = (q: Record<string, unknown>) => backend.records!.readAttachment({ key, index: 0, ...q });
    await expect(read({ key: 42 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(read({ index: '0' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(read({ index: 0.5 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(read({ index: -1 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(read({ index: 2 ** 40 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(read({ index: 2 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(read({ key: 'DocumentReference/not-here' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(read({ key: 'no key at all' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(read({ offset: NOTE.length + 1 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(read({ offset: -1 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(read({ length: 0 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(read({ length: ATTACHMENT_SLICE_BYTES + 1 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(read({ vault: 'A'.repeat(43) })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // A record without attachments has none to read.
    await backend.records!.import({ format: 'fhir', data: { resourceType: 'Patient', id: 'p1', name: [{ family: 'Example' }] } });
    const [patient] = await backend.records!.timeline({ resourceType: 'Patient' });
    expect(patient!.attachments).toBeUndefined();
    await expect(backend.records!.readAttachment({ key: patient!.id, index: 0 })).rejects.toMatchObject({ code: 'NOT_FOUND' });

    await backend.lock();
    await expect(read({})).rejects.toMatchObject({ code: 'LOCKED' });
    await backend.unlock(PASS);
    expect(textOf((await read({})).data)).toBe(NOTE);
  });

  it('says an attachment whose chunks are not in the store is not on this device, without its content', async () => {
    const { backend, storage } = await device('Alex Example');
    const key = await importNote(backend);
    // The vault keeps a record under 'r/' + its key; the records store keeps chunks under 'records/a/'.
    const chunks: string[] = [];
    for await (const entry of storage.range('r/records/a/')) chunks.push(entry.key);
    expect(chunks).toHaveLength(2);
    for (const k of chunks) await storage.delete(k);
    const error = await backend.records!.readAttachment({ key, index: 0 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ATTACHMENT_NOT_ON_DEVICE', message: 'This attachment is not on this device' });
    expect((error as Error).message).not.toContain('Synthetic');
  });

  it('bounds a read by the largest attachment the store keeps', () => {
    expect(MAX_ATTACHMENT_BYTES).toBe(STORE_MAX_ATTACHMENT_BYTES);
  });

  it('says a chunk that fails its checks is damaged', async () => {
    const { backend, storage } = await device('Alex Example');
    const key = await importNote(backend);
    for await (const entry of storage.range('r/records/a/')) {
      const bad = Uint8Array.from(entry.value);
      bad[bad.length - 1]! ^= 1;
      await storage.put(entry.key, bad);
    }
    await expect(backend.records!.readAttachment({ key, index: 0 })).rejects.toMatchObject({ code: 'ATTACHMENT_DAMAGED', message: 'The attachment could not be read (damaged)' });
    await expect(backend.records!.readAttachment({ key, index: 1 })).rejects.toMatchObject({ code: 'ATTACHMENT_DAMAGED' });
  });

  it('a provider sees the attachments of a shared note but not their content: chunks are not synced yet', async () => {
    const address: { current?: string | undefined } = {};
    const { backend: patient } = await device('Alex Example', () => address.current);
    const { backend: provider } = await device('Example Clinic');
    address.current = (await patient.addresses())[0];
    const key = await importNote(patient);
    const [own] = await patient.records!.timeline({});
    const providerDid = (await provider.status()).did!;
    const { invitation, patient: patientDid } = await patient.sharing!.offer(
      { provider: { did: providerDid, name: 'Example Clinic' }, scopes: [own!.scope], purpose: 'treatment', expiresInDays: 30 },
      'https://clinic.example',
    );
    await provider.provider!.redeem(invitation, { scopes: [own!.scope], purpose: 'treatment', expiresInDays: 30 });
    const { records } = await provider.provider!.records({ patient: patientDid, limit: 10 });
    expect(records.map((r) => [r.id, r.attachments])).toEqual([[key, own!.attachments]]);
    await expect(provider.provider!.readAttachment({ patient: patientDid, key, index: 0 })).rejects.toMatchObject({ code: 'ATTACHMENT_NOT_ON_DEVICE' });
    await expect(provider.provider!.readAttachment({ patient: patientDid, key, index: 9 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(provider.provider!.readAttachment({ patient: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK', key, index: 0 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('readAttachment command schema', () => {
  const ok = { type: 'readAttachment', key: 'DocumentReference/abc-1.2', index: 0 };
  it('accepts a well-formed read of one’s own, another vault’s or a patient’s attachment', () => {
    expect(uiCommand.safeParse(ok).success).toBe(true);
    expect(uiCommand.safeParse({ ...ok, vault: 'A'.repeat(43), offset: 0, length: ATTACHMENT_SLICE_BYTES }).success).toBe(true);
    expect(uiCommand.safeParse({ ...ok, patient: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK' }).success).toBe(true);
  });

  it('refuses wrong types, hostile keys, oversized numbers and unknown members', () => {
    for (const bad of [
      { ...ok, key: 42 },
      { ...ok, key: '../../records/keyring' },
      { ...ok, key: `DocumentReference/${'a'.repeat(65)}` },
      { ...ok, index: '0' },
      { ...ok, index: 1.5 },
      { ...ok, index: -1 },
      { ...ok, index: 1e9 },
      { ...ok, offset: 2 ** 40 },
      { ...ok, length: 0 },
      { ...ok, length: ATTACHMENT_SLICE_BYTES + 1 },
      { ...ok, vault: 'short' },
      { ...ok, patient: 'did:web:evil.example' },
      { ...ok, extra: true },
      { type: 'readAttachment', key: ok.key },
    ]) {
      expect(uiCommand.safeParse(bad).success, JSON.stringify(bad).slice(0, 80)).toBe(false);
    }
  });
});
