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
beforeAll(async () => {
  ({ root, cleanup } = await tempRoot('pv-export-'));
  source = join(root, 'patient.json');
  await writeFile(source, JSON.stringify(generatePatientBundle({ seed: 9, resources: 150, years: 3, attachmentEvery: 3 }).bundle));
  dir = await initVault(root);
  const r = await pvault('import', source, '--vault', dir);
  if (r.code !== 0) throw new Error(r.stderr);
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
