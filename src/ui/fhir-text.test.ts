import { describe, expect, it } from 'vitest';
import { conceptText, dateText, describeResource, ipsSections, quantityText } from './fhir-text.js';

describe('describeResource', () => {
  it('renders a lab result with its value, unit, range and date', () => {
    const text = describeResource({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '4548-4', display: 'Hemoglobin A1c' }] },
      valueQuantity: { value: 6.1, unit: '%' },
      referenceRange: [{ low: { value: 4, unit: '%' }, high: { value: 5.6, unit: '%' } }],
      effectiveDateTime: '2024-03-05',
      performer: [{ display: 'Example Hospital Lab' }],
    });
    expect(text.title).toBe('Hemoglobin A1c');
    expect(text.lines).toContainEqual(['Result', '6.1 %']);
    expect(text.lines).toContainEqual(['Reference range', '4 % – 5.6 %']);
    expect(text.lines).toContainEqual(['Date', '5 Mar 2024']);
    expect(text.lines).toContainEqual(['Issued by', 'Example Hospital Lab']);
  });

  it('renders a patient by name and a medication by its concept', () => {
    expect(describeResource({ resourceType: 'Patient', name: [{ given: ['Ada', 'M'], family: 'Lovelace' }], birthDate: '1980-01-02' }).title).toBe('Ada M Lovelace');
    expect(describeResource({ resourceType: 'MedicationStatement', medicationCodeableConcept: { text: 'Metformin 500 mg' }, status: 'active' }).title).toBe('Metformin 500 mg');
  });

  it('falls back to the type for unknown or empty resources instead of guessing', () => {
    expect(describeResource({ resourceType: 'Basic' })).toEqual({ title: 'Basic', lines: [] });
    expect(describeResource({}).title).toBe('Resource');
  });
});

describe('small renderers', () => {
  it('reads concepts, quantities and dates defensively', () => {
    expect(conceptText({ coding: [{ code: 'x' }] })).toBe('x');
    expect(conceptText('nope')).toBeUndefined();
    expect(quantityText({ value: 1 / 3, unit: 'mg' })).toBe('0.333 mg');
    expect(quantityText({ value: '3' })).toBeUndefined();
    expect(dateText('2024')).toBe('2024');
    expect(dateText('not a date')).toBe('not a date');
  });
});

describe('ipsSections', () => {
  it('groups by IPS section, newest first, with only the latest result per code', () => {
    const r = (resourceType: string, date: string, code: string) => ({ resourceType, date, resource: { resourceType, code: { text: code } } });
    const sections = ipsSections([r('Observation', '2024-01-01', 'A1c'), r('Observation', '2024-06-01', 'A1c'), r('Condition', '2020-01-01', 'Diabetes'), r('Encounter', '2024-01-01', 'Visit')]);
    expect(sections.find((s) => s.title === 'Results')!.records.map((x) => x.date)).toEqual(['2024-06-01']);
    expect(sections.find((s) => s.title === 'Problems')!.records).toHaveLength(1);
    expect(sections.flatMap((s) => s.records).some((x) => x.resourceType === 'Encounter')).toBe(false);
  });
});
