import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseImport, RecordsError, type ParsedImport } from '../../src/records/index.js';
import { exportBundle } from '../../src/records/export.js';
import { NOW, everyRecord, newStore } from './records-support.js';

/**
 * Data produced by other systems, not by this project (origins and licences in
 * test/fixtures/README.md): examples published with the FHIR R4 specification and the
 * International Patient Summary IG. Each of these was refused before the fix its test names.
 */
function sample(path: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(`../fixtures/samples/${path}`, import.meta.url)));
}

function json<T = Record<string, unknown>>(bytes: Uint8Array): T {
  return JSON.parse(new TextDecoder().decode(bytes)) as T;
}

async function problemsOf(promise: Promise<ParsedImport>): Promise<string[]> {
  try {
    await promise;
    return [];
  } catch (e) {
    if (!(e instanceof RecordsError)) throw e;
    return e.problems.map((p) => `${p.entry} ${p.rule}: ${p.message}`);
  }
}

describe('examples published by HL7, imported as a user would', () => {
  it('IPS bundle-no-info-required-sections (a narrative that declares the XHTML namespace again on <table>) imports whole', async () => {
    const bytes = sample('ips/Bundle-bundle-no-info-required-sections.json');
    expect(await problemsOf(parseImport(bytes, { now: NOW }))).toEqual([]);
    const parsed = await parseImport(bytes, { now: NOW });
    expect(parsed.resources.map((r) => r.resource.resourceType)).toEqual(json<{ entry: { resource: { resourceType: string } }[] }>(bytes).entry.map((e) => e.resource.resourceType));
  });

  it('R4 media-example (base64Binary data wrapped in lines, as R4 allows) imports, and exports with the same data', async () => {
    const bytes = sample('r4/media-example.json');
    const data = json<{ content: { data: string } }>(bytes).content.data;
    expect(/\s/.test(data)).toBe(true);
    expect(await problemsOf(parseImport(bytes, { now: NOW }))).toEqual([]);
    const { store } = await newStore();
    const parsed = await parseImport(bytes, { now: NOW, resolveReference: store.resolveReference });
    const { keys } = await store.importResources(parsed.resources);
    const full = await store.getWithAttachments(keys[0]!);
    expect((full!.resource as unknown as { content: { data: string } }).content.data).toBe(data);
    const exported = await exportBundle(store, { now: NOW });
    expect((exported.entry![0]!.resource as unknown as { content: { data: string } }).content.data).toBe(data);
    const { store: again } = await newStore();
    const reparsed = await parseImport(JSON.stringify(exported), { now: NOW, resolveReference: again.resolveReference });
    await again.importResources(reparsed.resources);
    expect(await everyRecord(again)).toEqual(await everyRecord(store));
  });

  it('still refuses base64Binary that is not base64 once its whitespace is left out', async () => {
    const media = json<{ content: { data: string } }>(sample('r4/media-example.json'));
    media.content.data = 'R0lG ODlh fgCR A';
    const problems = await problemsOf(parseImport(JSON.stringify(media), { now: NOW }));
    expect(problems).toEqual(['resource R4_FORMAT: Media.content.data: Invalid base64Binary format']);
  });

  it('R4 medicationexample0310 and specimen-example (a contained Substance) import, and stay in summary and labs', async () => {
    const medication = await parseImport(sample('r4/medicationexample0310.json'), { now: NOW });
    expect(medication.resources.map((r) => [r.resource.resourceType, r.scope])).toEqual([['Medication', 'summary']]);
    const specimen = await parseImport(sample('r4/specimen-example.json'), { now: NOW });
    expect(specimen.resources.map((r) => [r.resource.resourceType, r.scope])).toEqual([['Specimen', 'labs']]);
  });

  it('a contained resource of a type the vault cannot validate is refused by name, without its content', async () => {
    const medication = json<{ contained: Record<string, unknown>[] }>(sample('r4/medicationexample0310.json'));
    medication.contained[0] = { resourceType: 'Contract', id: 'sub03', status: 'SECRET-STATUS' };
    const problems = await problemsOf(parseImport(JSON.stringify(medication), { now: NOW }));
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toContain('Contract');
    expect(problems.join('\n')).not.toContain('SECRET');
  });

  it('R4 bundle-references: the same Type/id on two servers are two resources, not a duplicate', async () => {
    const bytes = sample('r4/bundle-references.json');
    const parsed = await parseImport(bytes, { now: NOW, partial: true });
    const rules = parsed.problems.map((p) => `${p.entry} ${p.rule}`);
    expect(rules.filter((r) => r.startsWith('entry[6] '))).toEqual([]);
    expect(rules.some((r) => r.includes('DUPLICATE_ID'))).toBe(false);
    // entry[7] and entry[8] are versions 1 and 2 of one resource (same fullUrl, bdl-7 allows it).
    expect(rules.some((r) => r.includes('DUPLICATE_FULLURL'))).toBe(false);
    const fourteens = parsed.resources.filter((r) => r.aliases?.includes('id:Observation/14'));
    expect(fourteens).toHaveLength(2);
    expect(fourteens[0]!.resource.id).not.toBe(fourteens[1]!.resource.id);
  });

  it('R4 bundle-references: versions 1 and 2 of one Patient (entries 7 and 8) import whole, as one record with one version in its history', async () => {
    const parsed = await parseImport(sample('r4/bundle-references.json'), { now: NOW });
    expect(parsed.problems).toEqual([]);
    const { store } = await newStore();
    const result = await store.importResources(parsed.resources);
    const key = result.keys[8]!;
    expect(result.keys[7]).toBe(key);
    const line = store.summary(key)!;
    expect(line.version).toBe(2);
    expect(line.history).toBe(1);
    expect(((await store.get(key))!.resource as { meta?: { versionId?: string } }).meta?.versionId).toBe('2');
  });
});
