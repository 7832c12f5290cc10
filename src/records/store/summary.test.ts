import { describe, expect, it } from 'vitest';
import { asRecordKey } from './record-codec.js';
import { dateOf, summarize } from './summary.js';
import type { RecordEnvelope } from './types.js';

const envelope = (resource: Record<string, unknown>, extra: Partial<RecordEnvelope> = {}): RecordEnvelope => ({
  f: 1,
  key: asRecordKey(`${resource.resourceType as string}/${resource.id as string}`),
  ver: 'aa',
  n: 2,
  prev: ['bb'],
  at: '2025-01-01T00:00:00Z',
  resource,
  src: ['x'],
  hash: 'cc',
  ...extra,
});

describe('index lines', () => {
  it('lists an Observation with its date, LOINC code, value and category', () => {
    const s = summarize(
      envelope({
        resourceType: 'Observation',
        id: 'o1',
        category: [{ coding: [{ code: 'laboratory' }] }],
        code: { coding: [{ system: 'http://example.org', code: 'L1' }, { system: 'http://loinc.org', code: '2345-7', display: 'Glucose' }] },
        effectivePeriod: { start: '2020-02-02' },
        valueQuantity: { value: 5.4, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
      }),
      'labs',
      3,
    );
    expect(s).toMatchObject({
      key: 'Observation/o1',
      type: 'Observation',
      id: 'o1',
      scope: 'labs',
      date: '2020-02-02',
      system: 'http://example.org',
      code: 'L1',
      loinc: '2345-7',
      category: ['laboratory'],
      value: { value: 5.4, unit: 'mmol/L', code: 'mmol/L' },
      version: 2,
      history: 3,
    });
  });

  it('names people and takes the code of the type-specific element', () => {
    expect(summarize(envelope({ resourceType: 'Patient', id: 'p', name: [{ given: ['Alex', 'B'], family: 'Example' }] }), 'summary', 0).display).toBe('Alex B Example');
    const imm = summarize(envelope({ resourceType: 'Immunization', id: 'i', vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '207', display: 'COVID-19' }] }, occurrenceDateTime: '2021-01-01' }), 'summary', 0);
    expect(imm).toMatchObject({ code: '207', display: 'COVID-19', date: '2021-01-01' });
  });

  it('finds the date of each kind of record, and none where there is none', () => {
    expect(dateOf({ resourceType: 'Encounter', period: { start: '2019-01-01T10:00:00Z' } })).toBe('2019-01-01T10:00:00Z');
    expect(dateOf({ resourceType: 'Condition', recordedDate: '2018-05' })).toBe('2018-05');
    expect(dateOf({ resourceType: 'DocumentReference', context: { period: { start: '2017' } } })).toBe('2017');
    expect(dateOf({ resourceType: 'Patient', id: 'p' })).toBeUndefined();
  });

  it('keeps provenance, restriction and attachment counts', () => {
    const s = summarize(
      envelope(
        { resourceType: 'Immunization', id: 'i' },
        { prov: { source: 'shc', issuer: 'https://issuer.example', verified: true, importedAt: 'now' }, rst: true, att: [{ path: '', size: 1, sha256: 'aa', chunks: [] }] },
      ),
      'summary',
      0,
    );
    expect(s).toMatchObject({ verified: true, issuer: 'https://issuer.example', restricted: true, attachments: 1 });
  });
});
