import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { BundleEntry, Reference } from '@medplum/fhirtypes';
import { RecordsError } from '../errors.js';
import { parseImport, MAX_RESOURCES_PER_IMPORT, type ParsedImport } from './import.js';
import { MAX_IMPORT_BYTES } from './json.js';

const now = new Date('2025-07-01T00:00:00Z');
const SAMPLES = new URL('../../../test/fixtures/samples/', import.meta.url);
const sampleBytes = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, SAMPLES)));

async function refusal(promise: Promise<unknown>): Promise<RecordsError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(RecordsError);
    return e as RecordsError;
  }
  throw new Error('expected the import to be refused');
}

/** Every reference string in a resource. */
function referencesIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) referencesIn(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string') out.push(v);
      else referencesIn(v, out);
    }
  }
  return out;
}

/** True if every Type/id reference names a resource of the import. */
function allResolvable(result: ParsedImport): boolean {
  const ids = new Set(result.resources.map((r) => `${r.resource.resourceType}/${r.resource.id}`));
  return result.resources.every((r) => referencesIn(r.resource).every((ref) => ids.has(ref) || ref.startsWith('#') || /^https?:/.test(ref) || ref.includes('?')));
}

const patient = { resourceType: 'Patient', name: [{ family: 'Testperson' }] };
const obs = (subject: string) => ({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] }, subject: { reference: subject }, valueQuantity: { value: 90, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' } });
const bundleOf = (type: string, entries: BundleEntry[], extra: Record<string, unknown> = {}): string => JSON.stringify({ resourceType: 'Bundle', type, entry: entries, ...extra });
const P = 'urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0';
const O = 'urn:uuid:4a2d7a4f-1c52-4c39-9e0b-8a0e6a1b2c3d';

describe('parseImport: FHIR JSON', () => {
  it('imports a single resource with fhir-json provenance', async () => {
    const result = await parseImport(JSON.stringify(patient), { now, fileName: '/home/someone/Downloads/patient.json' });
    expect(result.resources).toHaveLength(1);
    const [r] = result.resources;
    expect(r!.scope).toBe('summary');
    expect(r!.provenance).toEqual({ source: 'fhir-json', verified: false, importedAt: now.toISOString(), fileName: 'patient.json' });
    expect(r!.resource.id).toMatch(/^[0-9a-f]{32}$/);
    expect(r!.sourceKey).toMatch(/^sha256:/);
  });

  for (const type of ['collection', 'transaction', 'batch', 'searchset'] as const) {
    it(`imports a ${type} Bundle and rewrites urn:uuid references to vault ids`, async () => {
      const request = (url: string) => (type === 'transaction' || type === 'batch' ? { request: { method: 'POST' as const, url } } : {});
      const search = type === 'searchset' ? { search: { mode: 'match' as const } } : {};
      const text = bundleOf(type, [
        { fullUrl: P, resource: patient as never, ...request('Patient'), ...search },
        { fullUrl: O, resource: obs(P) as never, ...request('Observation'), ...search },
      ]);
      const result = await parseImport(text, { now });
      const p = result.resources.find((r) => r.resource.resourceType === 'Patient')!;
      const o = result.resources.find((r) => r.resource.resourceType === 'Observation')!;
      expect((o.resource as { subject: Reference }).subject.reference).toBe(`Patient/${p.resource.id}`);
      expect(o.scope).toBe('labs');
      expect(allResolvable(result)).toBe(true);
    });
  }

  it('imports the HL7 IPS example document with every reference resolvable', async () => {
    const result = await parseImport(sampleBytes('ips/bundle-minimal.json'), { now });
    expect(result.resources.map((r) => r.resource.resourceType).sort()).toEqual(['AllergyIntolerance', 'Composition', 'Condition', 'Medication', 'MedicationStatement', 'Organization', 'Patient', 'Practitioner']);
    expect(allResolvable(result)).toBe(true);
    const composition = result.resources.find((r) => r.resource.resourceType === 'Composition')!;
    expect(referencesIn(composition.resource).length).toBeGreaterThan(5);
  });

  it('imports the HL7 R4 glucose example: server-relative references stay as they are', async () => {
    const result = await parseImport(sampleBytes('r4/observation-example-f001-glucose.json'), { now });
    expect(result.resources).toHaveLength(1);
    expect(referencesIn(result.resources[0]!.resource)).toEqual(['Patient/f001', 'Practitioner/f005']);
    expect(result.resources[0]!.sourceKey).toBe('identifier:Observation|http://www.bmc.nl/zorgportal/identifiers/observations|6323');
  });

  it('refuses the HL7 R4 transaction example (DELETE and GET requests, a Parameters resource) unless partial', async () => {
    const e = await refusal(parseImport(sampleBytes('r4/bundle-transaction.json'), { now }));
    expect(e.code).toBe('INVALID_RESOURCE');
    expect(e.problems.some((p) => p.rule === 'UNSUPPORTED_OPERATION')).toBe(true);
    const partial = await parseImport(sampleBytes('r4/bundle-transaction.json'), { now, partial: true });
    expect(partial.resources.length).toBeGreaterThan(0);
    expect(new Set(partial.problems.map((p) => p.rule))).toEqual(new Set(['UNSUPPORTED_OPERATION', 'UNSUPPORTED_TYPE']));
  });

  it('keys a resource by absolute fullUrl, then identifier, then urn:uuid, then content', async () => {
    const ident = { system: 'urn:oid:1.2.3', value: '42' };
    const text = bundleOf('collection', [
      { fullUrl: 'https://ehr.example.org/fhir/Patient/7/_history/3', resource: { ...patient, id: '7', identifier: [ident] } as never },
      { fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111', resource: { ...patient, identifier: [{ ...ident, value: '43' }] } as never },
      { fullUrl: 'urn:uuid:22222222-2222-4222-8222-222222222222', resource: { ...patient, name: [{ family: 'Other' }] } as never },
      { resource: { ...patient, name: [{ family: 'Third' }] } as never },
    ]);
    const keys = (await parseImport(text, { now })).resources.map((r) => r.sourceKey);
    expect(keys[0]).toBe('url:https://ehr.example.org/fhir/Patient/7');
    expect(keys[1]).toBe('identifier:Patient|urn:oid:1.2.3|43');
    expect(keys[2]).toBe('urn:Patient|urn:uuid:22222222-2222-4222-8222-222222222222');
    expect(keys[3]).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('resolves relative references against the entry base, and by type and id', async () => {
    const text = bundleOf('searchset', [
      { fullUrl: 'https://ehr.example.org/fhir/Patient/p1', resource: { ...patient, id: 'p1' } as never, search: { mode: 'match' } },
      { fullUrl: 'https://ehr.example.org/fhir/Observation/o1', resource: { ...obs('Patient/p1'), id: 'o1', performer: [{ reference: 'Practitioner/elsewhere' }] } as never, search: { mode: 'include' } },
    ]);
    const result = await parseImport(text, { now });
    const p = result.resources[0]!;
    const o = result.resources[1]!;
    expect(referencesIn(o.resource)).toEqual([`Patient/${p.resource.id}`, 'https://ehr.example.org/fhir/Practitioner/elsewhere']);
  });

  it('resolves conditional references by identifier when the target is in the bundle', async () => {
    const text = bundleOf('transaction', [
      { fullUrl: P, resource: { ...patient, identifier: [{ system: 'urn:oid:1.2.3', value: '9' }] } as never, request: { method: 'POST', url: 'Patient' } },
      { fullUrl: O, resource: obs('Patient?identifier=urn:oid:1.2.3|9') as never, request: { method: 'POST', url: 'Observation' } },
    ]);
    const result = await parseImport(text, { now });
    expect(referencesIn(result.resources[1]!.resource)).toEqual([`Patient/${result.resources[0]!.resource.id}`]);
  });

  it('keeps Synthea-style conditional references to practitioners outside the bundle', async () => {
    const performer = 'Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999962229';
    const text = bundleOf('transaction', [
      { fullUrl: P, resource: patient as never, request: { method: 'POST', url: 'Patient' } },
      { fullUrl: O, resource: { ...obs(P), performer: [{ reference: performer }] } as never, request: { method: 'POST', url: 'Observation' } },
    ]);
    const result = await parseImport(text, { now });
    expect(referencesIn(result.resources[1]!.resource)).toEqual([`Patient/${result.resources[0]!.resource.id}`, performer]);
  });

  it('asks the resolveReference hook before declaring a reference dangling', async () => {
    const text = JSON.stringify(obs('urn:uuid:99999999-9999-4999-8999-999999999999'));
    const result = await parseImport(text, { now, resolveReference: (ref) => (ref.endsWith('9999') ? 'Patient/abc' : undefined) });
    expect(referencesIn(result.resources[0]!.resource)).toEqual(['Patient/abc']);
  });

  it('imports a DocumentReference with an attachment over 1 MiB (R4 sets no base64Binary limit)', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024, 7).toString('base64');
    const doc = { resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { contentType: 'application/pdf', data } }] };
    const result = await parseImport(JSON.stringify(doc), { now });
    expect(result.resources[0]!.scope).toBe('notes');
    const bad = { ...doc, content: [{ attachment: { contentType: 'application/pdf', data: 'not base64!' } }] };
    expect((await refusal(parseImport(JSON.stringify(bad), { now }))).problems[0]!.rule).toBe('R4_FORMAT');
  });

  it('imports the same record twice in one file once', async () => {
    const text = bundleOf('collection', [{ resource: patient as never }, { resource: patient as never }]);
    expect((await parseImport(text, { now })).resources).toHaveLength(1);
  });

});

describe('parseImport: bad input is refused whole, with a typed error', () => {
  it('malformed JSON', async () => {
    expect((await refusal(parseImport('{"resourceType": "Patient", ', { now }))).code).toBe('MALFORMED_JSON');
  });

  it('text that is no known format', async () => {
    expect((await refusal(parseImport('hello, world', { now }))).code).toBe('UNKNOWN_FORMAT');
    expect((await refusal(parseImport('{"hello":"world"}', { now }))).code).toBe('UNKNOWN_FORMAT');
    expect((await refusal(parseImport(new Uint8Array([0, 1, 2, 0xff]), { now }))).code).toBe('INVALID_ENCODING');
  });

  it('an unknown resourceType', async () => {
    const e = await refusal(parseImport('{"resourceType":"Spaceship"}', { now }));
    expect(e.code).toBe('INVALID_RESOURCE');
    expect(e.problems).toEqual([{ entry: 'resource', rule: 'R4_UNKNOWN_TYPE', message: 'resourceType is not a FHIR R4 resource type' }]);
  });

  it('a resourceType of the wrong JSON type', async () => {
    expect((await refusal(parseImport('{"resourceType":7}', { now }))).problems[0]!.rule).toBe('R4_NOT_A_RESOURCE');
  });

  it('a resource type the vault does not store', async () => {
    expect((await refusal(parseImport('{"resourceType":"Subscription","status":"off"}', { now }))).problems[0]!.rule).toBe('UNSUPPORTED_TYPE');
  });

  it('a Bundle whose one bad entry fails the whole import, naming entry and rule', async () => {
    const text = bundleOf('collection', [{ resource: patient as never }, { resource: { resourceType: 'Patient', birthDate: '1980-02-30' } as never }]);
    const e = await refusal(parseImport(text, { now }));
    expect(e.code).toBe('INVALID_RESOURCE');
    expect(e.problems).toEqual([{ entry: 'entry[1]', rule: 'R4_FORMAT', message: 'Patient.birthDate: Invalid date value' }]);
  });

  it('missing required elements and wrong types', async () => {
    const e = await refusal(parseImport(JSON.stringify({ resourceType: 'Observation', code: { text: 3 } }), { now }));
    expect(e.problems.map((p) => p.rule).sort()).toEqual(['R4_REQUIRED', 'R4_TYPE']);
  });

  it('a dangling urn:uuid reference', async () => {
    const text = bundleOf('collection', [{ fullUrl: O, resource: obs(P) as never }]);
    const e = await refusal(parseImport(text, { now }));
    expect(e.problems).toEqual([{ entry: 'entry[0]', rule: 'DANGLING_REFERENCE', message: 'Observation.subject points at nothing in this import' }]);
  });

  it('a dangling contained reference', async () => {
    const e = await refusal(parseImport(JSON.stringify(obs('#missing')), { now }));
    expect(e.problems[0]!.rule).toBe('DANGLING_REFERENCE');
  });

  it('a reference that is not a reference', async () => {
    const e = await refusal(parseImport(JSON.stringify(obs('not a reference at all')), { now }));
    expect(e.problems.map((p) => p.rule)).toContain('INVALID_REFERENCE');
  });

  it('duplicate fullUrls and duplicate ids in a bundle', async () => {
    const dupUrl = bundleOf('collection', [{ fullUrl: P, resource: patient as never }, { fullUrl: P, resource: { ...patient, name: [{ family: 'B' }] } as never }]);
    expect((await refusal(parseImport(dupUrl, { now }))).problems[0]!.rule).toBe('DUPLICATE_FULLURL');
    const dupId = bundleOf('collection', [{ resource: { ...patient, id: 'a' } as never }, { resource: { ...patient, id: 'a', name: [{ family: 'B' }] } as never }]);
    expect((await refusal(parseImport(dupId, { now }))).problems[0]!.rule).toBe('DUPLICATE_ID');
  });

  it('two different records under one identifier', async () => {
    const identifier = [{ system: 'urn:oid:1.2.3', value: '1' }];
    const text = bundleOf('collection', [{ resource: { ...patient, identifier } as never }, { resource: { ...patient, identifier, name: [{ family: 'B' }] } as never }]);
    expect((await refusal(parseImport(text, { now }))).problems[0]!.rule).toBe('DUPLICATE_ENTRY');
  });

  it('two versions of one record under one fullUrl (R4 bdl-7: different meta.versionId) are both imported, as one record', async () => {
    const v = (versionId: string, family: string) => ({ fullUrl: P, resource: { ...patient, meta: { versionId }, name: [{ family }] } as never });
    const parsed = await parseImport(bundleOf('collection', [v('1', 'A'), v('2', 'B')]), { now });
    expect(parsed.resources).toHaveLength(2);
    expect(new Set(parsed.resources.map((r) => r.sourceKey)).size).toBe(1);
    expect(new Set(parsed.resources.map((r) => r.resource.id)).size).toBe(1);
    // The same versionId twice with different content is still refused (bdl-7).
    expect((await refusal(parseImport(bundleOf('collection', [v('1', 'A'), v('1', 'B')]), { now }))).problems.map((p) => p.rule)).toContain('DUPLICATE_FULLURL');
    // One identifier, two fullUrls, the same or no versionId: a conflict the file carries.
    const identifier = [{ system: 'urn:oid:1.2.3', value: '9' }];
    const same = bundleOf('collection', [{ resource: { ...patient, identifier, meta: { versionId: '1' } } as never }, { resource: { ...patient, identifier, meta: { versionId: '1' }, name: [{ family: 'B' }] } as never }]);
    expect((await refusal(parseImport(same, { now }))).problems.map((p) => p.rule)).toContain('DUPLICATE_ENTRY');
  });

  it('bundle types an import does not perform, and broken document bundles', async () => {
    expect((await refusal(parseImport(bundleOf('history', []), { now }))).problems[0]!.rule).toBe('UNSUPPORTED_BUNDLE_TYPE');
    const doc = await refusal(parseImport(bundleOf('document', [{ fullUrl: P, resource: patient as never }]), { now }));
    expect(doc.problems.map((p) => p.message).join(' ')).toMatch(/bdl-9.*bdl-10.*bdl-11/);
    const noRequest = await refusal(parseImport(bundleOf('transaction', [{ resource: patient as never }]), { now }));
    expect(noRequest.problems[0]!.message).toContain('bdl-3');
  });

  it('a nested Bundle entry', async () => {
    const inner = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: patient }] };
    expect((await refusal(parseImport(bundleOf('collection', [{ resource: inner as never }]), { now }))).problems[0]!.rule).toBe('UNSUPPORTED_TYPE');
  });

  it('a deeply nested file, without overflowing the stack', async () => {
    const deep = `{"resourceType":"Patient","extension":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    expect((await refusal(parseImport(deep, { now }))).code).toBe('TOO_DEEP');
  });

  it('a file over the size limit, refused before it is read', async () => {
    const big = new Uint8Array(MAX_IMPORT_BYTES + 1).fill(0x20);
    expect((await refusal(parseImport(big, { now }))).code).toBe('FILE_TOO_LARGE');
    expect((await refusal(parseImport(' '.repeat(MAX_IMPORT_BYTES + 1), { now }))).code).toBe('FILE_TOO_LARGE');
  });

  it('a 50 MB file of more resources than an import takes: refused with a typed error, no crash', async () => {
    const entry = JSON.stringify({ resource: { resourceType: 'Patient', gender: 'other', name: [{ family: 'Testperson', given: ['x'.repeat(700)] }] } });
    const count = Math.ceil((50 * 1024 * 1024) / (entry.length + 1));
    expect(count).toBeGreaterThan(MAX_RESOURCES_PER_IMPORT);
    const text = `{"resourceType":"Bundle","type":"collection","entry":[${Array.from({ length: count }, () => entry).join(',')}]}`;
    expect(text.length).toBeGreaterThan(50 * 1024 * 1024);
    expect(text.length).toBeLessThan(MAX_IMPORT_BYTES);
    expect((await refusal(parseImport(text, { now }))).code).toBe('TOO_MANY_RESOURCES');
  });

  it('a 50 MB resource (one huge string): refused by the R4 rules, no crash', async () => {
    const text = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'x'.repeat(50 * 1024 * 1024) }] });
    const e = await refusal(parseImport(text, { now }));
    expect(e.code).toBe('INVALID_RESOURCE');
    expect(e.problems[0]!.rule).toBe('R4_FORMAT');
  });

  it('in partial mode: keeps the valid part, and leaves out what references a left-out entry', async () => {
    const text = bundleOf('collection', [
      { fullUrl: P, resource: { ...patient, birthDate: 'yesterday' } as never },
      { fullUrl: O, resource: obs(P) as never },
      { resource: { resourceType: 'Patient', name: [{ family: 'Fine' }] } as never },
    ]);
    const result = await parseImport(text, { now, partial: true });
    expect(result.resources.map((r) => (r.resource as { name?: { family: string }[] }).name?.[0]?.family)).toEqual(['Fine']);
    expect(result.problems.map((p) => `${p.entry} ${p.rule}`)).toEqual(['entry[0] R4_FORMAT', 'entry[1] REFERENCES_INVALID_ENTRY']);
  });

  it('never puts a value from the record into an error', async () => {
    const secret = 'SECRETNAME';
    const text = bundleOf('collection', [{ resource: { resourceType: 'Patient', gender: secret, birthDate: secret, name: [{ family: [secret] }], text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml"><script>${secret}</script></div>` } } as never }]);
    const e = await refusal(parseImport(text, { now }));
    expect(JSON.stringify({ message: e.message, problems: e.problems })).not.toContain(secret);
  });

  it('refuses a bad clock argument', async () => {
    expect((await refusal(parseImport('{}', { now: new Date('nope') }))).code).toBe('INVALID_INPUT');
  });
});
