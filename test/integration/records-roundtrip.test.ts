import fc from 'fast-check';
import type { Bundle, Composition } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { parseImport } from '../../src/records/index.js';
import { exportBundle, exportIps } from '../../src/records/export.js';
import type { RecordStore } from '../../src/records/store/record-store.js';
import { encodeBase64 } from '../../src/records/store/attachments.js';
import { generatePatientBundle } from '../fixtures/generator.js';
import { NOW, codeOf, everyRecord, item, lab, newStore, patient } from './records-support.js';

async function importInto(store: RecordStore, bundle: unknown) {
  const parsed = await parseImport(JSON.stringify(bundle), { now: NOW, resolveReference: store.resolveReference });
  return store.importResources(parsed.resources);
}

describe('export', () => {
  it('gives back the same resources when an export is imported into a new vault (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 15, max: 60 }), fc.boolean(), async (seed, resources, withAttachments) => {
        const { bundle } = generatePatientBundle({ seed, resources, years: 3, attachmentEvery: withAttachments ? 2 : 0, attachmentBytes: 3000 });
        const { store: a } = await newStore();
        await importInto(a, bundle);
        const exported = await exportBundle(a, { now: NOW });
        expect(exported.type).toBe('collection');

        const { store: b } = await newStore();
        const result = await importInto(b, exported);
        expect(Object.values(result.counts).every((c) => c.updated === 0 && c.unchanged === 0)).toBe(true);
        expect(await everyRecord(b)).toEqual(await everyRecord(a));

        // Into the vault it came from: nothing new.
        const again = await importInto(a, exported);
        expect(Object.values(again.counts).every((c) => c.added === 0 && c.updated === 0)).toBe(true);
      }),
      { numRuns: 4 },
    );
  });

  it('exports an empty scope or vault as a Bundle without entry that imports back as nothing', async () => {
    const { store } = await newStore();
    const empty = await exportBundle(store, { now: NOW });
    expect(empty).not.toHaveProperty('entry');
    await store.importResources([patient()]);
    const noImaging = await exportBundle(store, { scopes: ['imaging'], now: NOW });
    expect(noImaging).not.toHaveProperty('entry');
    const { store: b } = await newStore();
    for (const bundle of [empty, noImaging]) {
      const result = await importInto(b, bundle);
      expect(Object.values(result.counts).every((c) => c.added === 0 && c.updated === 0)).toBe(true);
    }
    expect(await everyRecord(b)).toEqual([]);
  });

  it('resolves a relative reference to a resource imported from another file earlier, and keeps it resolvable on export', async () => {
    const { store } = await newStore();
    await importInto(store, { resourceType: 'Patient', id: 'example', name: [{ family: 'Synthetic' }] });
    const patientKey = store.list().find((l) => l.type === 'Patient')!.key;
    expect(patientKey).not.toBe('Patient/example');
    await importInto(store, {
      resourceType: 'Condition',
      id: 'c1',
      subject: { reference: 'Patient/example' },
      code: { text: 'synthetic condition' },
    });
    const condition = (await everyRecord(store)).find((r) => r.resource.resourceType === 'Condition')!;
    expect((condition.resource.subject as { reference: string }).reference).toBe(patientKey);
    const exported = await exportBundle(store, { now: NOW });
    const ids = new Set(exported.entry!.map((e) => `${e.resource!.resourceType}/${e.resource!.id}`));
    expect(ids.has(patientKey)).toBe(true);
  });

  it('exports only the scopes asked for, with attachment data back inline', async () => {
    const { store } = await newStore();
    const data = encodeBase64(new Uint8Array(5000).map((_, i) => i % 256));
    const doc = item({ resourceType: 'DocumentReference', id: 'd1', status: 'current', content: [{ attachment: { contentType: 'application/pdf', data } }] }, 'notes', 'src-d1');
    await store.importResources([patient(), lab('g1', 1, '2024-01-01'), doc]);
    const notes = await exportBundle(store, { scopes: ['notes'] });
    expect(notes.entry?.map((e) => e.resource?.id)).toEqual(['d1']);
    expect(notes.entry?.[0]?.resource).toEqual(doc.resource);
    const lean = await exportBundle(store, { scopes: ['notes'], inlineAttachments: false });
    expect(JSON.stringify(lean)).not.toContain('"data"');
    expect((await exportBundle(store)).entry).toHaveLength(3);
  });

  it('makes an IPS about one Patient only: refuses to guess among several, and leaves out the other patient\'s records', async () => {
    const { store } = await newStore();
    await importInto(store, generatePatientBundle({ seed: 11, resources: 80, years: 3 }).bundle);
    await importInto(store, generatePatientBundle({ seed: 12, resources: 80, years: 3 }).bundle);
    const patients = store.list().filter((l) => l.type === 'Patient').map((l) => l.key);
    expect(patients).toHaveLength(2);
    expect(await codeOf(exportIps(store, { now: NOW }))).toBe('AMBIGUOUS_PATIENT');
    expect(await codeOf(exportIps(store, { now: NOW, patient: 'Patient/not-in-this-vault' }))).toBe('AMBIGUOUS_PATIENT');
    for (const chosen of patients) {
      const ips = await exportIps(store, { now: NOW, patient: chosen });
      const resources = ips.entry!.map((e) => e.resource!);
      expect(resources.filter((r) => r.resourceType === 'Patient')).toHaveLength(1);
      const subject = (ips.entry![0]!.resource as Composition).subject!.reference;
      const sectionRefs = (ips.entry![0]!.resource as Composition).section!.flatMap((s) => s.entry ?? []).map((e) => e.reference);
      expect(sectionRefs.length).toBeGreaterThan(0);
      const byUrl = new Map(ips.entry!.map((e) => [e.fullUrl, e.resource as unknown as Record<string, { reference?: string } | undefined>]));
      for (const ref of sectionRefs) {
        const r = byUrl.get(ref)!;
        expect((r.subject ?? r.patient)?.reference).toBe(subject);
      }
    }
  });

  it('makes the IPS about the Patient named by its vault key or by the id it had in its file; lists the candidate keys (keys only) otherwise', async () => {
    const { store } = await newStore();
    const synthetic = (id: string, family: string, birthDate: string) => ({ resourceType: 'Patient', id, name: [{ family, given: ['Synthetic'] }], birthDate });
    await importInto(store, synthetic('first-in-file', 'Testfamilyone', '1961-02-03'));
    await importInto(store, synthetic('second-in-file', 'Testfamilytwo', '1972-04-05'));
    await importInto(store, { resourceType: 'Condition', id: 'c2', subject: { reference: 'Patient/second-in-file' }, code: { text: 'synthetic condition' } });
    const keys = store.list({ types: ['Patient'] }).map((l) => l.key);
    expect(keys).toHaveLength(2);
    const second = keys.find((k) => k === store.resolveReference('Patient/second-in-file'))!;
    expect(second).toBeDefined();

    const message = async (p: Promise<unknown>): Promise<string> => {
      try {
        await p;
      } catch (e) {
        expect((e as { code?: string }).code).toBe('AMBIGUOUS_PATIENT');
        return (e as Error).message;
      }
      throw new Error('expected AMBIGUOUS_PATIENT');
    };
    const noChoice = await message(exportIps(store, { now: NOW }));
    const unknown = await message(exportIps(store, { now: NOW, patient: 'Patient/not-in-this-vault' }));
    const notAPatient = await message(exportIps(store, { now: NOW, patient: store.list({ types: ['Condition'] })[0]!.key }));
    for (const m of [noChoice, unknown, notAPatient]) {
      for (const k of keys) expect(m).toContain(k);
      expect(m).not.toMatch(/Testfamily|Synthetic|1961|1972|first-in-file|second-in-file/);
    }
    expect(noChoice).toContain('hold 2 Patients');
    expect(unknown).toContain('is no Patient of the vault');
    expect(notAPatient).toContain('is no Patient of the vault');

    // The same Patient, named three ways: its vault key, its Type/id in the file, its bare file id.
    for (const ref of [second, 'Patient/second-in-file', 'second-in-file']) {
      const ips = await exportIps(store, { now: NOW, patient: ref });
      const resources = ips.entry!.map((e) => e.resource!);
      expect(resources.filter((r) => r.resourceType === 'Patient').map((r) => `Patient/${r.id}`)).toEqual([second]);
      expect(resources.some((r) => r.resourceType === 'Condition')).toBe(true);
    }
    const first = await exportIps(store, { now: NOW, patient: 'first-in-file' });
    expect(first.entry!.some((e) => e.resource!.resourceType === 'Condition')).toBe(false);

    // A Patient moved out of the exported scopes is not a choice.
    await store.move(second, 'mental-health');
    expect(await message(exportIps(store, { now: NOW, patient: second }))).toMatch(/is not in the exported scopes; they hold one Patient: Patient\//);
    expect((await exportIps(store, { now: NOW, patient: second, scopes: ['summary', 'mental-health'] })).entry!.some((e) => `Patient/${e.resource!.id}` === second)).toBe(true);
  });

  it('makes an IPS document that validates as R4, with required sections and resolvable references', async () => {
    const { bundle } = generatePatientBundle({ seed: 7, resources: 200, years: 4 });
    const { store } = await newStore();
    await importInto(store, bundle);
    const ips: Bundle = await exportIps(store, { now: NOW });
    expect(ips.type).toBe('document');
    expect(ips.identifier?.value).toMatch(/^urn:uuid:/);
    const composition = ips.entry![0]!.resource as Composition;
    expect(composition.resourceType).toBe('Composition');
    expect(composition.type.coding?.[0]).toMatchObject({ system: 'http://loinc.org', code: '60591-5' });
    const codes = composition.section!.map((s) => s.code?.coding?.[0]?.code);
    expect(codes.slice(0, 3)).toEqual(['10160-0', '48765-2', '11450-4']);
    for (const s of composition.section!) {
      expect(s.text?.div).toMatch(/^<div xmlns="http:\/\/www.w3.org\/1999\/xhtml">/);
      expect((s.entry?.length ?? 0) > 0 || s.emptyReason !== undefined).toBe(true);
    }
    // Every reference between entries is a urn:uuid fullUrl of an entry.
    const fullUrls = new Set(ips.entry!.map((e) => e.fullUrl));
    const refs = JSON.stringify(ips).match(/"reference":"urn:uuid:[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(0);
    for (const r of refs) expect(fullUrls.has(r.slice('"reference":"'.length, -1))).toBe(true);
    expect(fullUrls.has(composition.subject!.reference)).toBe(true);
    // Sensitive scopes are left out by default.
    const sensitiveIds = new Set(store.list({ scopes: ['mental-health', 'substance-use', 'reproductive', 'genomics'] }).map((l) => l.id));
    expect(sensitiveIds.size).toBeGreaterThan(0);
    expect(ips.entry!.some((e) => sensitiveIds.has(e.resource!.id!))).toBe(false);
    // The project's own importer (full R4 validation, bundle integrity) accepts it.
    const parsed = await parseImport(JSON.stringify(ips), { now: NOW });
    expect(parsed.problems).toEqual([]);
    expect(parsed.resources).toHaveLength(ips.entry!.length);
  });

  it('states empty required IPS sections with an emptyReason', async () => {
    const { store } = await newStore();
    await store.importResources([patient()]);
    const ips = await exportIps(store, { now: NOW });
    const composition = ips.entry![0]!.resource as Composition;
    expect(composition.section).toHaveLength(3);
    for (const s of composition.section!) expect(s.emptyReason?.coding?.[0]).toMatchObject({ code: 'unavailable' });
    expect((await parseImport(JSON.stringify(ips), { now: NOW })).problems).toEqual([]);
  });

  it('refuses an IPS without a Patient', async () => {
    const { store } = await newStore();
    await store.importResources([lab('g1', 1, '2024-01-01')]);
    expect(await codeOf(exportIps(store))).toBe('NO_PATIENT');
  });
});
