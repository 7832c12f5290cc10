import { describe, expect, it } from 'vitest';
import { byDateRange, byType, ipsSections, labCodes, labSeries, timeline, typeCounts } from '../../src/records/store/queries.js';
import { item, lab, newStore, patient } from './records-support.js';

const coded = (system: string, code: string, display: string) => ({ coding: [{ system, code, display }] });
const SCT = 'http://snomed.info/sct';

async function summaryPatient() {
  const { store } = await newStore();
  const condition = (id: string, status: string, scope: 'summary' | 'mental-health' = 'summary', verification?: string) => {
    const r: Record<string, unknown> = {
      resourceType: 'Condition',
      id,
      clinicalStatus: coded('http://terminology.hl7.org/CodeSystem/condition-clinical', status, status),
      code: coded(SCT, `${id}-code`, `Condition ${id}`),
      subject: { reference: 'Patient/p1' },
      onsetDateTime: '2015-04-01',
    };
    if (verification) r.verificationStatus = coded('http://terminology.hl7.org/CodeSystem/condition-ver-status', verification, verification);
    return item(r, scope, `src-${id}`);
  };
  await store.importResources([
    patient(),
    item({ resourceType: 'MedicationStatement', id: 'm1', status: 'active', medicationCodeableConcept: coded('http://www.nlm.nih.gov/research/umls/rxnorm', '197361', 'Amlodipine 5 MG'), subject: { reference: 'Patient/p1' }, effectiveDateTime: '2020-01-01' }, 'summary', 'src-m1'),
    item({ resourceType: 'AllergyIntolerance', id: 'a1', code: coded(SCT, '91936005', 'Penicillin allergy'), patient: { reference: 'Patient/p1' }, recordedDate: '2010-01-01' }, 'summary', 'src-a1'),
    condition('c-active', 'active'),
    condition('c-resolved', 'resolved'),
    condition('c-error', 'active', 'summary', 'entered-in-error'),
    condition('c-sensitive', 'active', 'mental-health'),
    item({ resourceType: 'Immunization', id: 'i1', status: 'completed', vaccineCode: coded('http://hl7.org/fhir/sid/cvx', '140', 'Influenza'), patient: { reference: 'Patient/p1' }, occurrenceDateTime: '2023-10-01' }, 'summary', 'src-i1'),
    item({ resourceType: 'Procedure', id: 'pr1', status: 'completed', code: coded(SCT, '80146002', 'Appendectomy'), subject: { reference: 'Patient/p1' }, performedDateTime: '2001-06-01' }, 'summary', 'src-pr1'),
    lab('g1', 90, '2024-01-02'),
    lab('g2', 101, '2024-03-02'),
    lab('h1', 13.5, '2024-03-02', { loinc: '718-7', unit: 'g/dL' }),
    item(
      {
        resourceType: 'Observation',
        id: 'bp',
        status: 'final',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
        code: coded('http://loinc.org', '8867-4', 'Heart rate'),
        subject: { reference: 'Patient/p1' },
        effectiveDateTime: '2024-03-02',
        valueQuantity: { value: 61, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
      },
      'labs',
      'src-bp',
    ),
  ]);
  return store;
}

describe('queries', () => {
  it('lists the timeline newest first, undated records last, with filters and limits', async () => {
    const { store } = await newStore();
    await store.importResources([patient(), lab('g1', 1, '2024-01-02'), lab('g2', 2, '2023'), lab('g3', 3, '2024-01-02T08:00:00+01:00')]);
    expect(timeline(store).map((l) => l.key)).toEqual(['Observation/g3', 'Observation/g1', 'Observation/g2', 'Patient/p1']);
    expect(timeline(store, { order: 'asc' }).map((l) => l.key)).toEqual(['Observation/g2', 'Observation/g1', 'Observation/g3', 'Patient/p1']);
    expect(timeline(store, { limit: 1 }).map((l) => l.key)).toEqual(['Observation/g3']);
    expect(timeline(store, { scopes: ['summary'] }).map((l) => l.key)).toEqual(['Patient/p1']);
    expect(byType(store, 'Patient').map((l) => l.key)).toEqual(['Patient/p1']);
    expect(byDateRange(store, '2024-01', '2024-01-02').map((l) => l.key)).toEqual(['Observation/g3', 'Observation/g1']);
    expect(byDateRange(store, '2025', '2024')).toEqual([]);
    expect(typeCounts(store)).toEqual({ summary: { Patient: 1 }, labs: { Observation: 3 } });
  });

  it('holds back records labelled restricted when asked', async () => {
    const { store } = await newStore();
    await store.importResources([{ ...lab('g1', 1, '2024-01-02'), restricted: true }, lab('g2', 2, '2024-01-03')]);
    expect(timeline(store).map((l) => l.key)).toEqual(['Observation/g2', 'Observation/g1']);
    expect(timeline(store, { includeRestricted: false }).map((l) => l.key)).toEqual(['Observation/g2']);
    expect(store.summary('Observation/g1' as never)?.restricted).toBe(true);
  });

  it('gives a lab series in one unit, converting only where UCUM makes it safe', async () => {
    const { store } = await newStore();
    await store.importResources([
      lab('g1', 90, '2024-01-02'),
      lab('g2', 110, '2024-03-02'),
      lab('g3', 5, '2024-02-02', { unit: 'mmol/L' }),
      lab('g4', 1.2, '2024-04-02', { unit: 'g/L' }),
      lab('g5', 7, '2024-05-02', { unit: 'widgets' }),
      lab('x1', 13, '2024-05-02', { loinc: '718-7', unit: 'g/dL' }),
    ]);
    const series = labSeries(store, '2345-7');
    expect(series.unit).toBe('mg/dL');
    expect(series.points.map((p) => [p.date, p.value, p.unit])).toEqual([
      ['2024-01-02', 90, 'mg/dL'],
      ['2024-02-02', 90.078, 'mg/dL'],
      ['2024-03-02', 110, 'mg/dL'],
      ['2024-04-02', 120, 'mg/dL'],
    ]);
    expect(series.points[1]).toMatchObject({ sourceValue: 5, sourceUnit: 'mmol/L' });
    expect(series.unconverted.map((p) => [p.value, p.unit])).toEqual([[7, 'widgets']]);
    expect(labCodes(store)).toEqual([
      { loinc: '2345-7', display: 'Glucose [Mass/volume] in Serum or Plasma', count: 5 },
      { loinc: '718-7', display: 'Glucose [Mass/volume] in Serum or Plasma', count: 1 },
    ]);
    expect(labSeries(store, '0000-0')).toEqual({ loinc: '0000-0', points: [], unconverted: [] });
  });

  it('gathers the IPS sections from the non-sensitive scopes', async () => {
    const store = await summaryPatient();
    const s = await ipsSections(store);
    const ids = (list: { resource: Record<string, unknown> }[]) => list.map((r) => r.resource.id).sort();
    expect(s.patient?.resource.id).toBe('p1');
    expect(ids(s.medications)).toEqual(['m1']);
    expect(ids(s.allergies)).toEqual(['a1']);
    expect(ids(s.problems)).toEqual(['c-active']);
    expect(ids(s.pastIllness)).toEqual(['c-resolved']);
    expect(ids(s.immunizations)).toEqual(['i1']);
    expect(ids(s.procedures)).toEqual(['pr1']);
    // The latest result per code.
    expect(ids(s.results)).toEqual(['g2', 'h1']);
    expect(ids(s.vitalSigns)).toEqual(['bp']);
    const withSensitive = await ipsSections(store, { scopes: ['summary', 'mental-health'] });
    expect(ids(withSensitive.problems)).toEqual(['c-active', 'c-sensitive']);
  });
});
