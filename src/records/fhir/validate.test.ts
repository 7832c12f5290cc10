import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dateTimeBounds, validateResources } from './validate.js';

const R4_SAMPLES = new URL('../../../test/fixtures/samples/r4/', import.meta.url);
const sample = (name: string): unknown => JSON.parse(readFileSync(new URL(name, R4_SAMPLES), 'utf8'));

async function rulesOf(resource: unknown): Promise<string[]> {
  return (await validateResources([resource])).map((p) => p.rule);
}

const observation = { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] } };

describe('R4 validation', () => {
  for (const file of readdirSync(R4_SAMPLES).filter((f) => f.endsWith('-example.json') || f.startsWith('observation') || f.startsWith('medicationrequest'))) {
    it(`accepts the HL7 R4 example ${file}`, async () => {
      expect(await validateResources([sample(file)])).toEqual([]);
    });
  }

  it('refuses a DSTU2-shaped resource (family as an array) as R4', async () => {
    const dstu2 = { resourceType: 'Patient', name: [{ family: ['Chalmers'], given: ['Peter'] }] };
    expect(await rulesOf(dstu2)).toContain('R4_CARDINALITY');
  });

  it('refuses a missing required element', async () => {
    const { status: _status, ...noStatus } = observation;
    expect(await rulesOf(noStatus)).toEqual(['R4_REQUIRED']);
  });

  it('refuses wrong JSON types', async () => {
    expect(await rulesOf({ ...observation, valueQuantity: { value: '12' } })).toContain('R4_TYPE');
    expect(await rulesOf({ resourceType: 'Patient', active: 'yes' })).toContain('R4_TYPE');
  });

  it('says where a wrong JSON type is, naming a choice element by its JSON name', async () => {
    const problems = await validateResources([{ ...observation, valueQuantity: { value: 'ninety' } }]);
    const problem = problems.find((p) => p.rule === 'R4_TYPE');
    expect(problem?.path).toBe('Observation.valueQuantity.value');
  });

  it('refuses bad dates', async () => {
    expect(await rulesOf({ resourceType: 'Patient', birthDate: '1974-13-01' })).toContain('R4_FORMAT');
    expect(await rulesOf({ resourceType: 'Patient', birthDate: '2023-02-29' })).toContain('R4_FORMAT');
    expect(await rulesOf({ ...observation, effectiveDateTime: '2020-01-01T25:00:00Z' })).toContain('R4_FORMAT');
  });

  it('refuses a choice element given in two types at once (valueQuantity and valueString), also inside a backbone element', async () => {
    expect(await validateResources([{ ...observation, valueQuantity: { value: 1 }, valueString: 'x' }])).toEqual([
      { index: 0, path: 'Observation.valueString', rule: 'R4_CARDINALITY', message: 'a choice element is given in more than one type' },
    ]);
    expect(await rulesOf({ ...observation, component: [{ code: { text: 'c' }, valueInteger: 1, valueBoolean: true }] })).toEqual(['R4_CARDINALITY']);
    expect(await rulesOf({ ...observation, valueQuantity: { value: 1 }, component: [{ code: { text: 'c' }, valueInteger: 1 }] })).toEqual([]);
  });

  it('dom-3: refuses a contained resource nothing refers to; accepts one referred to by a Reference, a canonical, or one that refers to its container', async () => {
    const practitioner = { resourceType: 'Practitioner', id: 'p1' };
    expect(await validateResources([{ ...observation, contained: [practitioner] }])).toEqual([
      { index: 0, path: 'Observation.contained[0]', rule: 'R4_INVARIANT', message: 'dom-3: a contained resource must be referenced from the resource that contains it' },
    ]);
    expect(await rulesOf({ ...observation, performer: [{ reference: '#p1' }], contained: [practitioner] })).toEqual([]);
    expect(await rulesOf({ ...observation, extension: [{ url: 'http://example.org/x', valueReference: { reference: '#p1' } }], contained: [practitioner] })).toEqual([]);
    const questionnaire = { resourceType: 'Questionnaire', id: 'q', status: 'active' };
    expect(await rulesOf({ resourceType: 'QuestionnaireResponse', status: 'completed', questionnaire: '#q', contained: [questionnaire] })).not.toContain('R4_INVARIANT');
    const provenance = { resourceType: 'Provenance', id: 'pv', target: [{ reference: '#' }], recorded: '2020-01-01T00:00:00Z', agent: [{ who: { display: 'x' } }] };
    expect(await rulesOf({ ...observation, contained: [provenance] })).toEqual([]);
  });

  it('refuses unknown elements', async () => {
    expect(await rulesOf({ ...observation, colour: 'red' })).toContain('R4_UNKNOWN_ELEMENT');
  });

  it('refuses codes outside a required value set', async () => {
    expect(await rulesOf({ ...observation, status: 'bogus' })).toEqual(['R4_CODE_INVALID']);
    expect(await rulesOf({ resourceType: 'Patient', gender: 'robot' })).toEqual(['R4_CODE_INVALID']);
  });

  it('refuses a failed FHIRPath invariant', async () => {
    // obs-6: dataAbsentReason SHALL only be present if value[x] is not.
    const both = { ...observation, valueString: 'x', dataAbsentReason: { text: 'unknown' } };
    expect(await rulesOf(both)).toContain('R4_INVARIANT');
  });

  it('refuses resource ids outside [A-Za-z0-9-.]{1,64}', async () => {
    expect(await rulesOf({ resourceType: 'Patient', id: 'has space' })).toContain('R4_FORMAT');
    expect(await rulesOf({ resourceType: 'Patient', id: 'x'.repeat(65) })).toContain('R4_FORMAT');
    expect(await rulesOf({ resourceType: 'Patient', id: 'a_b' })).toContain('R4_FORMAT');
    expect(await rulesOf({ resourceType: 'Patient', id: 'ok-1.2' })).toEqual([]);
    const contained = { ...observation, contained: [{ resourceType: 'Patient', id: 'bad/id' }], subject: { reference: '#bad/id' } };
    expect(await rulesOf(contained)).toContain('R4_FORMAT');
  });

  it('refuses empty arrays, objects and strings', async () => {
    expect(await rulesOf({ resourceType: 'Patient', name: [] })).toContain('R4_EMPTY');
    expect(await rulesOf({ resourceType: 'Patient', maritalStatus: {} })).toContain('R4_EMPTY');
    expect(await rulesOf({ resourceType: 'Patient', name: [{ family: '' }] })).toContain('R4_EMPTY');
    expect(await rulesOf({ resourceType: 'Patient', name: [{ given: ['  '] }] })).toContain('R4_EMPTY');
  });

  it('refuses a Period whose start is after its end (per-1), wherever it is', async () => {
    const encounter = { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' } };
    expect(await rulesOf({ ...encounter, period: { start: '2020-02-01', end: '2020-01-31' } })).toEqual(['R4_INVARIANT']);
    expect(await rulesOf({ ...encounter, participant: [{ period: { start: '2021', end: '2020' } }] })).toEqual(['R4_INVARIANT']);
    expect(await rulesOf({ resourceType: 'Patient', identifier: [{ value: 'x', period: { start: '2020-01-02T00:00:00Z', end: '2020-01-01T23:59:59Z' } }] })).toEqual(['R4_INVARIANT']);
  });

  it('compares Periods at their widest reading (precision and time zones)', async () => {
    const encounter = { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' } };
    // Same day at different precisions, and a local time that may be before a UTC one.
    expect(await rulesOf({ ...encounter, period: { start: '2020-01-01T10:00:00', end: '2020-01-01' } })).toEqual([]);
    expect(await rulesOf({ ...encounter, period: { start: '2020-01-01T10:00:00+05:00', end: '2020-01-01T06:00:00Z' } })).toEqual([]);
    expect(await rulesOf({ ...encounter, period: { start: '2020-03', end: '2020-03-15' } })).toEqual([]);
  });

  it('computes date bounds per precision', () => {
    expect(dateTimeBounds('2020-01-01T00:00:00Z')).toEqual({ from: Date.UTC(2020, 0, 1), to: Date.UTC(2020, 0, 1) + 999, zoned: true });
    expect(dateTimeBounds('2020-02')).toEqual({ from: Date.UTC(2020, 1, 1), to: Date.UTC(2020, 2, 1) - 1, zoned: false });
    expect(dateTimeBounds('not a date')).toBeUndefined();
  });

  it('refuses active content in a narrative', async () => {
    const text = { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml"><p onmouseover="x()">hi</p></div>' };
    expect(await rulesOf({ resourceType: 'Patient', text })).toEqual(['NARRATIVE_UNSAFE']);
  });

  it('checks narratives inside Composition sections too', async () => {
    const composition = {
      resourceType: 'Composition', status: 'final', type: { text: 'summary' }, date: '2020-01-01', author: [{ display: 'x' }], title: 't',
      section: [{ title: 's', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml"><iframe src="x"></iframe></div>' } }],
    };
    expect(await rulesOf(composition)).toContain('NARRATIVE_UNSAFE');
  });

  it('refuses keys that could pollute prototypes', async () => {
    const hostile = JSON.parse('{"resourceType":"Patient","__proto__":{"polluted":true},"constructor":{"x":1}}') as unknown;
    const rules = await rulesOf(hostile);
    expect(rules).toContain('R4_UNKNOWN_ELEMENT');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('tells unknown resource types from ones a vault does not store', async () => {
    expect(await rulesOf({ resourceType: 'Spaceship' })).toEqual(['R4_UNKNOWN_TYPE']);
    expect(await rulesOf({ resourceType: 'Subscription', status: 'off' })).toEqual(['UNSUPPORTED_TYPE']);
    expect(await rulesOf({ name: 'no type' })).toEqual(['R4_NOT_A_RESOURCE']);
    expect(await rulesOf('Patient')).toEqual(['R4_NOT_A_RESOURCE']);
  });

  it('reports where, never what: no value from the resource in any message', async () => {
    const secret = 'PATIENT-SECRET-VALUE';
    const problems = await validateResources([{ resourceType: 'Patient', gender: secret, birthDate: secret, name: [{ family: ['x'] }], [secret]: 1 }]);
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) expect(`${p.path} ${p.message}`).not.toContain('SECRET');
  });

  it('validates many resources and says which one broke', async () => {
    const problems = await validateResources([observation, { ...observation, status: 'bogus' }, observation]);
    expect(problems.map((p) => p.index)).toEqual([1]);
  });
});
