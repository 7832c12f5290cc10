import { describe, expect, it } from 'vitest';
import { compareDates, dateStart } from './dates.js';

describe('FHIR dates', () => {
  it('places partial dates at the instant they start', () => {
    expect(dateStart('2020')).toBe(Date.UTC(2020, 0, 1));
    expect(dateStart('2020-03')).toBe(Date.UTC(2020, 2, 1));
    expect(dateStart('2020-03-04')).toBe(Date.UTC(2020, 2, 4));
    expect(dateStart('2020-03-04T10:00:00+02:00')).toBe(Date.UTC(2020, 2, 4, 8));
    expect(dateStart('2020-03-04T10:00:00')).toBe(Date.UTC(2020, 2, 4, 10));
    expect(Number.isNaN(dateStart('yesterday'))).toBe(true);
  });

  it('orders by instant, then text, with non-dates last', () => {
    const sorted = ['2021', 'junk', '2020-06-01T00:00:00Z', '2020-05', '2020-06'].sort(compareDates);
    expect(sorted).toEqual(['2020-05', '2020-06', '2020-06-01T00:00:00Z', '2021', 'junk']);
  });
});
