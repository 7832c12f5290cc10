import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { generatePatientBundle } from '../../../test/fixtures/generator.js';
import { initVault, pvault, tempRoot } from './records-cli.test-support.js';

let root: string;
let cleanup: () => Promise<void>;
let source: string;
let dir: string;
const R4 = join(import.meta.dirname, '../../../test/fixtures/samples/r4');
/** The generated patient of `source`: its vault key in `dir` (the same in every vault) and what must never be printed. */
const keysOfSource = { patient: '', family: '', birthDate: '' };
beforeAll(async () => {
  ({ root, cleanup } = await tempRoot('pv-export-'));
  source = join(root, 'patient.json');
  const { bundle } = generatePatientBundle({ seed: 9, resources: 150, years: 3, attachmentEvery: 3 });
  await writeFile(source, JSON.stringify(bundle));
  dir = await initVault(root);
  const r = await pvault('import', source, '--vault', dir);
  if (r.code !== 0) throw new Error(r.stderr);
  const generated = bundle.entry!.find((e) => e.resource!.resourceType === 'Patient')!.resource as { name: { family: string }[]; birthDate: string };
  keysOfSource.family = generated.name[0]!.family;
  keysOfSource.birthDate = generated.birthDate;
  keysOfSource.patient = (JSON.parse((await pvault('records', '--vault', dir, '--type', 'Patient', '--json')).stdout) as { key: string }[])[0]!.key;
});
afterAll(() => cleanup());
afterEach(() => vi.unstubAllEnvs());

const readBundle = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as Bundle;
const keysOf = async (vault: string) => (JSON.parse((await pvault('records', '--vault', vault, '--json')).stdout) as { key: string }[]).map((l) => l.key).sort();

describe('pvault export', () => {
  it('writes the whole vault as a collection Bundle that imports back to the same records', async () => {
    await initVault(root); // sets the passphrase for this test
    const out = join(root, 'all.json');
    const r = await pvault('export', '--vault', dir, '--out', out);
    expect(r.code).toBe(0);
    const bundle = await readBundle(out);
    expect(bundle.type).toBe('collection');
    expect(r.stdout).toBe(`wrote ${bundle.entry!.length} records to ${out}`);
    expect(JSON.stringify(bundle)).toContain('"data":"'); // attachments inline

    const other = await initVault(root);
    const back = await pvault('import', out, '--vault', other);
    expect(back.stderr).toBe('');
    expect(await keysOf(other)).toEqual(await keysOf(dir));
    const again = await pvault('export', '--vault', other, '--out', join(root, 'again.json'));
    expect(again.code).toBe(0);
    const resources = (b: Bundle) => b.entry!.map((e) => e.resource).sort((x, y) => `${x!.resourceType}/${x!.id}`.localeCompare(`${y!.resourceType}/${y!.id}`));
    expect(resources(await readBundle(join(root, 'again.json')))).toEqual(resources(bundle));
  });

  it('exports only the scopes asked for', async () => {
    await initVault(root);
    const out = join(root, 'labs.json');
    const r = await pvault('export', '--vault', dir, '--scope', 'labs', '--scope', 'notes', '--out', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('of labs, notes');
    const types = new Set((await readBundle(out)).entry!.map((e) => e.resource!.resourceType));
    expect([...types].sort()).toEqual(['DiagnosticReport', 'DocumentReference', 'Encounter', 'Observation']);
  });

  it('writes an International Patient Summary document', async () => {
    await initVault(root);
    const out = join(root, 'ips.json');
    const r = await pvault('export', '--vault', dir, '--ips', '--out', out);
    expect(r.code).toBe(0);
    const ips = await readBundle(out);
    expect(ips.type).toBe('document');
    expect(ips.entry![0]!.resource!.resourceType).toBe('Composition');
    expect(r.stdout).toBe(`wrote an International Patient Summary (${ips.entry!.length} entries) to ${out}`);
  });

  it('fails with NO_PATIENT for an IPS of a vault without a Patient, writing nothing', async () => {
    const empty = await initVault(root);
    const out = join(root, 'none.json');
    const r = await pvault('export', '--vault', empty, '--ips', '--out', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[NO_PATIENT\]/);
    await expect(readFile(out)).rejects.toThrow();
  });

  it('chooses the IPS patient with --patient (a vault key, or the id the Patient had in its file) when the vault holds several', async () => {
    const several = await initVault(root);
    const hl7 = (name: string) => join(R4, name);
    const imported = await pvault('import', source, hl7('patient-example.json'), hl7('condition-example.json'), '--vault', several);
    expect(imported.code).toBe(0);
    const patients = JSON.parse((await pvault('records', '--vault', several, '--type', 'Patient', '--json')).stdout) as { key: string }[];
    const keys = patients.map((p) => p.key);
    expect(keys).toHaveLength(2);
    const exampleKey = keys.find((k) => k !== keysOfSource.patient)!;
    expect(exampleKey).not.toBe('Patient/example'); // the vault key is not the file's id: the alias is what finds it
    const out = join(root, 'several-ips.json');

    const refused = await pvault('export', '--vault', several, '--ips', '--out', out);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/hold 2 Patients \(Patient\/\S+, Patient\/\S+\); say which one the summary is about \[AMBIGUOUS_PATIENT\]/);
    for (const k of keys) expect(refused.stderr).toContain(k);
    expect(refused.stderr).toContain(`Choose one with --patient KEY ('pvault records --vault ${several} --type Patient' lists them).`);
    const example = JSON.parse(await readFile(hl7('patient-example.json'), 'utf8')) as { name: { family?: string }[]; birthDate: string };
    for (const value of [example.name[0]!.family!, example.birthDate, keysOfSource.family, keysOfSource.birthDate]) expect(refused.stderr).not.toContain(value);
    await expect(readFile(out)).rejects.toThrow();

    const patientOf = (b: Bundle) => b.entry!.filter((e) => e.resource!.resourceType === 'Patient').map((e) => `Patient/${e.resource!.id}`);
    for (const ref of [exampleKey, 'Patient/example', 'example']) {
      const r = await pvault('export', '--vault', several, '--ips', '--patient', ref, '--out', out);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const ips = await readBundle(out);
      expect(patientOf(ips)).toEqual([exampleKey]);
      expect(ips.entry!.some((e) => e.resource!.resourceType === 'Condition')).toBe(true);
    }
    const other = await pvault('export', '--vault', several, '--ips', '--patient', keysOfSource.patient, '--out', out);
    expect(other.code).toBe(0);
    expect(patientOf(await readBundle(out))).toEqual([keysOfSource.patient]);

    const unknown = await pvault('export', '--vault', several, '--ips', '--patient', 'Patient/nobody', '--out', join(root, 'nobody.json'));
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/the Patient asked for is no Patient of the vault; they hold 2 Patients: Patient\/\S+, Patient\/\S+ \[AMBIGUOUS_PATIENT\]/);
    expect(unknown.stderr).toContain("--patient takes a key as 'pvault records --type Patient' lists it (Patient/…), or the Patient's id in the file it was imported from.");
    await expect(readFile(join(root, 'nobody.json'))).rejects.toThrow();
  });

  it('makes --patient without --ips, or empty, a usage error, and documents it', async () => {
    await initVault(root);
    const without = await pvault('export', '--vault', dir, '--patient', 'Patient/x', '--out', join(root, 'x.json'));
    expect(without.code).toBe(2);
    expect(without.stderr).toContain('--patient REF chooses the patient of an --ips summary');
    expect((await pvault('export', '--vault', dir, '--ips', '--patient', ' ', '--out', join(root, 'x.json'))).code).toBe(2);
    expect((await pvault('export', '--vault', dir, '--ips', '--out', join(root, 'x.json'), '--patient')).code).toBe(2);
    const help = await pvault('export', '--help');
    expect(help.stdout).toContain('Usage: pvault export --vault DIR [--scope S]… [--ips [--patient REF]] --out FILE');
    expect(help.stdout).toMatch(/--patient REF {4}with --ips: the Patient the summary is about/);
  });

  it('reports an unwritable output as bad input and wrong flags as usage errors', async () => {
    await initVault(root);
    const bad = await pvault('export', '--vault', dir, '--out', join(root, 'no-such-dir', 'x.json'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/\[FILE_UNWRITABLE\]/);
    expect((await pvault('export', '--vault', dir)).code).toBe(2);
    expect((await pvault('export', '--out', join(root, 'x.json'))).code).toBe(2);
    const scope = await pvault('export', '--vault', dir, '--scope', 'everything', '--out', join(root, 'x.json'));
    expect(scope.code).toBe(2);
    expect(scope.stderr).toContain("unknown scope 'everything'");
  });
});
