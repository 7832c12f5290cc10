import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Automerge from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { MemoryStorage, openLevelDbStorage, type BatchOperation } from '../../src/store/index.js';
import { RecordStore } from '../../src/records/store/record-store.js';
import { encodeBase64 } from '../../src/records/store/attachments.js';
import type { RecordKey } from '../../src/records/store/types.js';
import { NOW, codeOf, dumpStorage, item, lab, newStore, patient, reopen } from './records-support.js';

const key = (k: string) => k as RecordKey;

function note(id: string, text: string): ReturnType<typeof item> {
  return item(
    { resourceType: 'DocumentReference', id, status: 'current', type: { text }, subject: { reference: 'Patient/p1' }, date: '2024-03-01T09:00:00Z', content: [{ attachment: { contentType: 'text/plain', url: 'https://portal.example/doc' } }] },
    'notes',
    `urn:DocumentReference|urn:uuid:${id}`,
  );
}

describe('record store on a real vault', () => {
  it('stores resources sealed per scope and lists them after a restart without opening them', async () => {
    const { storage, store } = await newStore();
    const result = await store.importResources([patient(), lab('g1', 90, '2024-01-02'), lab('g2', 95, '2024-02-02'), note('n1', 'Visit note')]);
    expect(result.counts).toEqual({ summary: { added: 1, updated: 0, unchanged: 0 }, labs: { added: 2, updated: 0, unchanged: 0 }, notes: { added: 1, updated: 0, unchanged: 0 } });
    expect(result.keys).toEqual(['Patient/p1', 'Observation/g1', 'Observation/g2', 'DocumentReference/n1']);

    const { store: again } = await reopen(storage);
    expect(again.vaultId).toBe(store.vaultId);
    expect(again.list().map((l) => l.key).sort()).toEqual(['DocumentReference/n1', 'Observation/g1', 'Observation/g2', 'Patient/p1']);
    expect(again.summary(key('Observation/g1'))).toMatchObject({ scope: 'labs', date: '2024-01-02', loinc: '2345-7', value: { value: 90, code: 'mg/dL' }, version: 1 });
    const record = await again.get(key('Observation/g2'));
    expect(record?.resource).toEqual(lab('g2', 95, '2024-02-02').resource);
    expect(record?.provenance).toMatchObject({ source: 'fhir-json', fileName: 'synthetic.json' });
  });

  it('never holds a resource, a code or a scope name in the clear in raw storage', async () => {
    const { storage, store } = await newStore();
    const marker = 'MARKER-c0ffee-5e1f';
    await store.importResources([
      note('secret', `${marker} text`),
      item({ resourceType: 'Condition', id: 'c1', code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'F32.9', display: `${marker} display` }] }, subject: { reference: 'Patient/p1' } }, 'mental-health', 'src-c1'),
    ]);
    const raw = (await dumpStorage(storage)).map(([k, v]) => `${k}\n${Buffer.from(v, 'hex').toString('latin1')}`).join('\n');
    for (const needle of [marker, 'F32.9', 'mental-health', 'DocumentReference', 'Condition/c1']) expect(raw).not.toContain(needle);
  });

  it('does not duplicate a resource imported again, by source key or by content', async () => {
    const { store } = await newStore();
    await store.importResources([patient(), lab('g1', 90, '2024-01-02')]);
    const again = await store.importResources([patient(), lab('g1', 90, '2024-01-02')]);
    expect(again.counts).toEqual({ summary: { added: 0, updated: 0, unchanged: 1 }, labs: { added: 0, updated: 0, unchanged: 1 } });
    // Same content under another source key and another id (e.g. a second portal): still one record.
    const copy = lab('other-id', 90, '2024-01-02', { sourceKey: 'url:https://portal-b.example/fhir/Observation/9' });
    const third = await store.importResources([copy]);
    expect(third.counts).toEqual({ labs: { added: 0, updated: 0, unchanged: 1 } });
    expect(third.keys).toEqual(['Observation/g1']);
    expect(store.list()).toHaveLength(2);
  });

  it('keeps every version: a newer one becomes current, an older one only joins the history', async () => {
    const { store } = await newStore();
    await store.importResources([lab('g1', 90, '2024-01-02', { lastUpdated: '2024-01-03T00:00:00Z' })]);
    const newer = await store.importResources([lab('g1', 91, '2024-01-02', { lastUpdated: '2024-06-01T00:00:00Z' })]);
    expect(newer.counts.labs).toEqual({ added: 0, updated: 1, unchanged: 0 });
    expect(store.summary(key('Observation/g1'))).toMatchObject({ version: 2, history: 1, value: { value: 91 } });
    const older = await store.importResources([lab('g1', 89, '2024-01-02', { lastUpdated: '2023-01-01T00:00:00Z' })]);
    expect(older.counts.labs).toEqual({ added: 0, updated: 1, unchanged: 0 });
    expect(store.summary(key('Observation/g1'))).toMatchObject({ version: 2, history: 2, value: { value: 91 } });
    const versions = await store.versions(key('Observation/g1'));
    expect(versions.map((v) => (v.resource.valueQuantity as { value: number }).value)).toEqual([90, 91, 89]);
    expect(versions[1]!.prev).toEqual([versions[0]!.ver]);
    // Importing an old version again changes nothing.
    expect((await store.importResources([lab('g1', 90, '2024-01-02', { lastUpdated: '2024-01-03T00:00:00Z' })])).counts.labs).toEqual({ added: 0, updated: 1, unchanged: 0 });
  });

  it('gives a clashing id a new one and follows references to it within the import', async () => {
    const { store } = await newStore();
    await store.importResources([patient('p1', 'First')]);
    const other = item({ resourceType: 'Patient', id: 'p1', name: [{ family: 'Second' }] }, 'summary', 'url:https://other.example/Patient/p1');
    const obs = lab('o9', 100, '2024-05-05', { sourceKey: 'url:https://other.example/Observation/o9' });
    const result = await store.importResources([other, obs]);
    const newKey = result.keys[0]!;
    expect(newKey).not.toBe('Patient/p1');
    expect(result.renamed).toEqual({ 'Patient/p1': newKey });
    expect((await store.get(key('Observation/o9')))?.resource.subject).toEqual({ reference: newKey });
    expect((await store.get(key('Patient/p1')))?.resource.name).toEqual([{ given: ['Alex'], family: 'First' }]);
  });

  it('resolves references to records already in the vault for the importer', async () => {
    const { store } = await newStore();
    await store.importResources([patient('p1'), lab('g1', 1, '2024-01-01', { sourceKey: 'url:https://portal.example/fhir/Observation/77' })]);
    expect(store.resolveReference('Patient/p1')).toBe('Patient/p1');
    expect(store.resolveReference('https://portal.example/fhir/Observation/77/_history/2')).toBe('Observation/g1');
    expect(store.resolveReference('Patient/nobody')).toBeUndefined();
  });

  it('moves a record to another scope, and the move survives a restart and a re-import', async () => {
    const { storage, store } = await newStore();
    await store.importResources([lab('g1', 90, '2024-01-02'), lab('g1', 92, '2024-01-02')]);
    expect(store.summary(key('Observation/g1'))).toMatchObject({ scope: 'labs', version: 2 });
    await store.move(key('Observation/g1'), 'mental-health');
    const { store: again } = await reopen(storage);
    expect(again.summary(key('Observation/g1'))).toMatchObject({ scope: 'mental-health', version: 2, history: 1 });
    expect((await again.versions(key('Observation/g1'))).map((v) => v.scope)).toEqual(['mental-health', 'mental-health']);
    expect(again.list({ scopes: ['labs'] })).toEqual([]);
    const reimport = await again.importResources([lab('g1', 92, '2024-01-02')]);
    expect(reimport.counts).toEqual({ 'mental-health': { added: 0, updated: 0, unchanged: 1 } });
    expect(await codeOf(again.move(key('Observation/none'), 'labs'))).toBe('NOT_FOUND');
  });

  it('surfaces concurrent edits on two devices as a conflict the patient resolves, losing nothing', async () => {
    const { store: a } = await newStore();
    await a.importResources([lab('g1', 90, '2024-01-02')]);
    // Device B: the same vault's keys, handed over (issue 6 seals them to the device).
    const { store: b } = await newStore({ vaultId: a.vaultId, scopeKeys: a.scopeNames.map((s) => a.exportScopeKeys(s)) });
    await b.mergeScopeDoc('labs', await a.saveScopeDoc('labs'));
    expect(b.summary(key('Observation/g1'))).toMatchObject({ version: 1 });

    await a.importResources([lab('g1', 91, '2024-01-02')]);
    await b.importResources([lab('g1', 99, '2024-01-02')]);
    await a.mergeScopeDoc('labs', await b.saveScopeDoc('labs'));
    await b.mergeScopeDoc('labs', await a.saveScopeDoc('labs'));
    for (const device of [a, b]) {
      expect(device.summary(key('Observation/g1'))?.conflict).toBe(true);
      expect(device.list({ conflicts: true }).map((l) => l.key)).toEqual(['Observation/g1']);
      const candidates = await device.conflictVersions(key('Observation/g1'));
      expect(candidates.map((c) => (c.resource.valueQuantity as { value: number }).value).sort()).toEqual([91, 99]);
    }
    const fromB = (await a.conflictVersions(key('Observation/g1'))).find((c) => (c.resource.valueQuantity as { value: number }).value === 99)!;
    const resolved = await a.resolveConflict(key('Observation/g1'), { ver: fromB.ver });
    expect(resolved.prev.length).toBe(2);
    await b.mergeScopeDoc('labs', await a.saveScopeDoc('labs'));
    for (const device of [a, b]) {
      expect(device.summary(key('Observation/g1'))).toMatchObject({ version: 3, value: { value: 99 } });
      expect(device.summary(key('Observation/g1'))?.conflict).toBeUndefined();
      const values = (await device.versions(key('Observation/g1'))).map((v) => (v.resource.valueQuantity as { value: number }).value);
      expect(values.slice(0, 1)).toEqual([90]);
      expect(values.slice(1, 3).sort()).toEqual([91, 99]);
      expect(values[3]).toBe(99);
    }
    expect(await codeOf(a.resolveConflict(key('Observation/g1'), { ver: fromB.ver }))).toBe('NO_CONFLICT');
  });

  it('syncs a scope between two devices over the Automerge sync protocol', async () => {
    const { store: a } = await newStore();
    await a.importResources([patient(), lab('g1', 90, '2024-01-02'), lab('g2', 80, '2024-01-03')]);
    const { store: b } = await newStore({ vaultId: a.vaultId, scopeKeys: a.scopeNames.map((s) => a.exportScopeKeys(s)) });
    let docA = await a.scopeDoc('labs');
    let docB = await b.scopeDoc('labs');
    let stateA = Automerge.initSyncState();
    let stateB = Automerge.initSyncState();
    for (let round = 0; round < 10; round++) {
      let msg: Uint8Array | null;
      [stateA, msg] = Automerge.generateSyncMessage(docA, stateA);
      if (msg) [docB, stateB] = Automerge.receiveSyncMessage(docB, stateB, msg);
      let reply: Uint8Array | null;
      [stateB, reply] = Automerge.generateSyncMessage(docB, stateB);
      if (reply) [docA, stateA] = Automerge.receiveSyncMessage(docA, stateA, reply);
      if (!msg && !reply) break;
    }
    await b.applyScopeDoc('labs', docB);
    expect(b.list({ scopes: ['labs'] }).map((l) => l.key).sort()).toEqual(['Observation/g1', 'Observation/g2']);
    expect((await b.get(key('Observation/g2')))?.resource).toEqual(lab('g2', 80, '2024-01-03').resource);
    // A doc that lacks what B already stored is refused.
    expect(await codeOf(b.applyScopeDoc('labs', Automerge.init()))).toBe('INVALID_INPUT');
  });

  it('lets a node without keys keep and merge the documents it cannot read', async () => {
    const { store: a } = await newStore();
    await a.importResources([lab('g1', 90, '2024-01-02')]);
    const { store: b } = await newStore({ vaultId: a.vaultId, scopeKeys: [a.exportScopeKeys('labs')] });
    await b.mergeScopeDoc('labs', await a.saveScopeDoc('labs'));
    await b.importResources([lab('g2', 70, '2024-02-02')]);
    // The relay: plain Automerge, no keys. It sees only opaque bytes under hex names.
    const relayA = Automerge.load<{ s: Record<string, { r: Record<string, Record<string, Uint8Array>> }> }>(await a.saveScopeDoc('labs'));
    const relayB = Automerge.load<typeof relayA>(await b.saveScopeDoc('labs'));
    const merged = Automerge.merge(Automerge.clone(relayA), relayB);
    for (const seg of Object.values(merged.s)) {
      for (const [shard, values] of Object.entries(seg.r)) {
        expect(shard).toMatch(/^[0-9a-f]{2}$/);
        for (const [slot, v] of Object.entries(values)) {
          expect(slot).toMatch(/^[0-9a-f]{32}$/);
          expect(v).toBeInstanceOf(Uint8Array);
          expect(Buffer.from(v).toString('latin1')).not.toContain('Observation');
        }
      }
    }
    await a.mergeScopeDoc('labs', Automerge.save(merged));
    expect(a.list().map((l) => l.key).sort()).toEqual(['Observation/g1', 'Observation/g2']);
  });

  it('keeps attachment content as encrypted 1 MiB chunks, loaded lazily and stored once', async () => {
    const { storage, store } = await newStore();
    const content = new Uint8Array(2.5 * 1024 * 1024).map((_, i) => (i * 7919) % 251);
    const data = encodeBase64(content);
    const doc = (id: string) =>
      item({ resourceType: 'DocumentReference', id, status: 'current', content: [{ attachment: { contentType: 'application/pdf', data, title: `scan ${id}` } }] }, 'notes', `urn:DocumentReference|urn:uuid:${id}`);
    await store.importResources([doc('d1')]);
    const chunkKeys = async () => (await dumpStorage(storage)).map(([k]) => k).filter((k) => k.includes('records/a/'));
    expect(await chunkKeys()).toHaveLength(3);
    const lazy = await store.get(key('DocumentReference/d1'));
    expect(JSON.stringify(lazy?.resource)).not.toContain('"data"');
    expect(lazy?.attachments[0]).toMatchObject({ path: '/content/0/attachment', size: content.length });
    // Buffer.equals: vitest's deep equality walks a 2.5 MB array element by element (slowly).
    expect(Buffer.from(await store.readAttachment(lazy!.attachments[0]!)).equals(content)).toBe(true);
    expect((await store.getWithAttachments(key('DocumentReference/d1')))?.resource).toEqual(doc('d1').resource);
    // Another record with the same content: its chunks are the ones already stored.
    await store.importResources([doc('d2')]);
    expect(await chunkKeys()).toHaveLength(3);
    expect(store.summary(key('DocumentReference/d2'))?.attachments).toBe(1);
  });

  it('seals values written after a key rotation under the new epoch, unreadable with the old keys only', async () => {
    const { store: a } = await newStore();
    await a.importResources([lab('g1', 90, '2024-01-02')]);
    const oldKeys = a.exportScopeKeys('labs');
    expect(await a.rotateScopeKey('labs')).toBe(1);
    await a.importResources([lab('g2', 95, '2024-03-03')]);
    expect((await a.get(key('Observation/g2')))?.resource.id).toBe('g2');

    const { store: revoked } = await newStore({ vaultId: a.vaultId, scopeKeys: [oldKeys] });
    await revoked.mergeScopeDoc('labs', await a.saveScopeDoc('labs'));
    expect(revoked.list().map((l) => l.key)).toEqual(['Observation/g1']);
    expect(revoked.stats().labs).toEqual({ records: 1, unreadable: 1 });

    await revoked.importScopeKeys(a.exportScopeKeys('labs', [1]));
    expect(revoked.list().map((l) => l.key).sort()).toEqual(['Observation/g1', 'Observation/g2']);
    expect(revoked.stats().labs).toEqual({ records: 2, unreadable: 0 });
  });

  it('changes nothing in the vault when an import fails before it is written', async () => {
    const { storage, store } = await newStore();
    await store.importResources([patient(), lab('g1', 90, '2024-01-02')]);
    const before = await dumpStorage(storage);
    const huge = item({ resourceType: 'Observation', id: 'big', status: 'final', code: { text: 'x'.repeat(5 * 1024 * 1024) } }, 'labs', 'src-big');
    expect(await codeOf(store.importResources([lab('g2', 1, '2024-05-05'), lab('g1', 91, '2024-01-02'), huge]))).toBe('TOO_LARGE');
    expect(await dumpStorage(storage)).toEqual(before);
    expect(store.list().map((l) => l.key).sort()).toEqual(['Observation/g1', 'Patient/p1']);
    expect(store.summary(key('Observation/g1'))?.version).toBe(1);
    // The store still works, from what the vault holds.
    await store.importResources([lab('g2', 1, '2024-05-05')]);
    expect(store.list()).toHaveLength(3);
  });

  it('changes nothing, in the vault or in memory, when the write itself fails', async () => {
    class FailingStorage extends MemoryStorage {
      failNext = false;
      override async batch(operations: readonly BatchOperation[]): Promise<void> {
        if (this.failNext) {
          this.failNext = false;
          throw new Error('disk full (injected)');
        }
        return super.batch(operations);
      }
    }
    const storage = new FailingStorage();
    const { store } = await newStore({ storage });
    await store.importResources([lab('g1', 90, '2024-01-02')]);
    const before = await dumpStorage(storage);
    storage.failNext = true;
    await expect(store.importResources([lab('g1', 91, '2024-01-02'), lab('g2', 5, '2024-02-02')])).rejects.toThrow('disk full');
    expect(await dumpStorage(storage)).toEqual(before);
    expect(store.list().map((l) => l.key)).toEqual(['Observation/g1']);
    expect((await store.get(key('Observation/g1')))?.version).toBe(1);
    storage.failNext = true;
    await expect(store.move(key('Observation/g1'), 'notes')).rejects.toThrow('disk full');
    expect(store.summary(key('Observation/g1'))?.scope).toBe('labs');
    // Retried, it goes through, and a restart shows it.
    await store.importResources([lab('g1', 91, '2024-01-02'), lab('g2', 5, '2024-02-02')]);
    const { store: again } = await reopen(storage);
    expect(again.summary(key('Observation/g1'))).toMatchObject({ version: 2, value: { value: 91 } });
    expect(again.list()).toHaveLength(2);
  });

  it('writes nothing on open, and nothing for an empty import', async () => {
    const storage = new MemoryStorage();
    const { vault } = await newStore({ storage });
    const before = await dumpStorage(storage);
    const store = await RecordStore.open(vault);
    await store.importResources([]);
    expect(await dumpStorage(storage)).toEqual(before);
  });

  it('binds the records to one vault id', async () => {
    const { vault, store } = await newStore({ vaultId: 'vault-one' });
    await store.importResources([patient()]);
    expect(await codeOf(RecordStore.open(vault, { vaultId: 'vault-two' }))).toBe('VAULT_MISMATCH');
    expect((await RecordStore.open(vault, { vaultId: 'vault-one' })).list()).toHaveLength(1);
  });

  it('reports a tampered stored document with a typed error', async () => {
    const { storage, store } = await newStore();
    await store.importResources([lab('g1', 90, '2024-01-02')]);
    const part = (await dumpStorage(storage)).find(([k]) => /records\/d\/[0-9a-f]+\/s\/0000$/.test(k))!;
    const bytes = Buffer.from(part[1], 'hex');
    bytes[bytes.length - 5]! ^= 0xff;
    await storage.put(part[0], new Uint8Array(bytes));
    const { store: again } = await reopen(storage);
    expect(again.list()).toHaveLength(1); // the index still lists it
    expect(await codeOf(again.get(key('Observation/g1')))).toBe('CORRUPT_RECORD');
  });

  it('refuses bad arguments with typed errors', async () => {
    const { store } = await newStore();
    expect(await codeOf(store.importResources([{ ...patient(), scope: 'everything' as 'labs' }]))).toBe('INVALID_INPUT');
    expect(await codeOf(store.importResources([{ ...patient(), resource: { id: 'x' } as never }]))).toBe('INVALID_INPUT');
    expect(await codeOf(store.importResources([{ ...patient(), sourceKey: '' }]))).toBe('INVALID_INPUT');
    expect(await codeOf(store.importResources('nope' as never))).toBe('INVALID_INPUT');
    expect(await codeOf(store.versions(key('not a key')))).toBe('INVALID_INPUT');
    expect(await codeOf(store.move(key('Patient/p1'), 'nowhere' as 'labs'))).toBe('INVALID_INPUT');
  });

  it('keeps records on disk across a restart (LevelDB)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pv-records-'));
    try {
      const storage = await openLevelDbStorage(join(dir, 'vault'), { create: true });
      const { store } = await newStore({ storage });
      await store.importResources([patient(), lab('g1', 90, '2024-01-02')]);
      await store.importResources([lab('g1', 93, '2024-01-02')]);
      await storage.close();
      const reopened = await openLevelDbStorage(join(dir, 'vault'));
      const { store: again } = await reopen(reopened);
      expect(again.summary(key('Observation/g1'))).toMatchObject({ version: 2, history: 1 });
      expect((await again.get(key('Observation/g1')))?.resource.valueQuantity).toMatchObject({ value: 93 });
      await reopened.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('uses the injected clock for version times', async () => {
    const { store } = await newStore();
    await store.importResources([patient()]);
    expect((await store.get(key('Patient/p1')))?.at).toBe(NOW.toISOString());
  });
});
