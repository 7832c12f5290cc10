import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initVault, pvault, tempRoot } from './records-cli.test-support.js';

const SHC = join(import.meta.dirname, '../../../test/fixtures/samples/shc');

let root: string;
let cleanup: () => Promise<void>;
let dir: string;
const obs = (id: string, date: string, value: number) => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose' }] },
  effectiveDateTime: date,
  valueQuantity: { value, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
});
beforeAll(async () => {
  ({ root, cleanup } = await tempRoot('pv-records-'));
  dir = await initVault(root);
  const file = join(root, 'records.json');
  await writeFile(
    file,
    JSON.stringify({
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { fullUrl: 'urn:uuid:7f1d2c1e-0000-4000-8000-000000000001', resource: { resourceType: 'Patient', id: 'p', name: [{ family: 'Example', given: ['Sam'] }] } },
        { fullUrl: 'urn:uuid:7f1d2c1e-0000-4000-8000-000000000002', resource: obs('a', '2023-01-01', 90) },
        { fullUrl: 'urn:uuid:7f1d2c1e-0000-4000-8000-000000000003', resource: obs('b', '2024-06-01', 101) },
      ],
    }),
  );
  const r = await pvault('import', file, '--vault', dir);
  if (r.code !== 0) throw new Error(r.stderr);
});
afterAll(() => cleanup());
afterEach(() => vi.unstubAllEnvs());

describe('pvault records', () => {
  it('lists records newest first, undated last, with date, scope, type and description', async () => {
    await initVault(root);
    const r = await pvault('records', '--vault', dir);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('3 records');
    expect(lines[1]).toMatch(/^2024-06-01 +labs +Observation +Glucose = 101 mg\/dL +Observation\/\w+/);
    expect(lines[2]).toMatch(/^2023-01-01 +labs +Observation +Glucose = 90 mg\/dL/);
    expect(lines[3]).toMatch(/^— +summary +Patient +Sam Example +Patient\/\w+/);
  });

  it('filters by type and scope, and prints JSON', async () => {
    await initVault(root);
    const byType = await pvault('records', '--vault', dir, '--type', 'Patient');
    expect(byType.stdout.split('\n')[0]).toBe('1 record');
    const json = JSON.parse((await pvault('records', '--vault', dir, '--scope', 'labs', '--json')).stdout) as { type: string; value: { value: number } }[];
    expect(json.map((l) => l.value.value)).toEqual([101, 90]);
    expect((await pvault('records', '--vault', dir, '--scope', 'genomics')).stdout).toBe('no records');
  });

  it('shows the code and its system for records whose code has no display text (a health card)', async () => {
    const cards = await initVault(root);
    const trustFile = join(root, 'spec-trust.json');
    const jwks = JSON.parse(await readFile(join(SHC, 'issuer-jwks.json'), 'utf8')) as object;
    await writeFile(trustFile, JSON.stringify({ ...jwks, iss: 'https://spec.smarthealth.cards/examples/issuer' }));
    const imported = await pvault('import', join(SHC, 'example-00-d-jws.txt'), '--vault', cards, '--trust', trustFile);
    expect(imported.code).toBe(0);
    const lines = (await pvault('records', '--vault', cards, '--type', 'Immunization')).stdout.split('\n');
    expect(lines[0]).toBe('3 records');
    expect(lines[1]).toMatch(/^2022-09-05 +summary +Immunization +CVX 229 +Immunization\/\w+ +verified$/);
    expect(lines.slice(2).every((l) => / Immunization +CVX 207 +Immunization\//.test(l))).toBe(true);
  });

  it('is a usage error with an unknown scope, a type not written as FHIR writes it, or without --vault', async () => {
    expect((await pvault('records', '--vault', dir, '--scope', 'nope')).code).toBe(2);
    const lower = await pvault('records', '--vault', dir, '--type', 'observation');
    expect(lower.code).toBe(2);
    expect(lower.stderr).toContain("--type expects a FHIR resource type such as Observation, got 'observation'");
    expect((await pvault('records')).code).toBe(2);
  });
});
