import { describe, expect, it } from 'vitest';
import { compareDates, dateEnd, dateStart } from './dates.js';

describe('FHIR dates', () => {
  it('places partial dates at the instant they start', () => {
    expect(dateStart('2020')).toBe(Date.UTC(2020, 0, 1));
    expect(dateStart('2020-03')).toBe(Date.UTC(2020, 2, 1));
    expect(dateStart('2020-03-04')).toBe(Date.UTC(2020, 2, 4));
    expect(dateStart('2020-03-04T10:00:00+02:00')).toBe(Date.UTC(2020, 2, 4, 8));
    expect(dateStart('2020-03-04T10:00:00')).toBe(Date.UTC(2020, 2, 4, 10));
    expect(Number.isNaN(dateStart('yesterday'))).toBe(true);
  });

  it('ends a partial date at the start of the next period', () => {
    expect(dateEnd('2020')).toBe(Date.UTC(2021, 0, 1));
    expect(dateEnd('2020-12')).toBe(Date.UTC(2021, 0, 1));
    expect(dateEnd('2020-02-28')).toBe(Date.UTC(2020, 1, 29));
    expect(dateEnd('2020-02-28T10:00:00Z')).toBe(Date.UTC(2020, 1, 28, 10) + 1);
  });

  it('orders by instant, then text, with non-dates last', () => {
    const sorted = ['2021', 'junk', '2020-06-01T00:00:00Z', '2020-05', '2020-06'].sort(compareDates);
    expect(sorted).toEqual(['2020-05', '2020-06', '2020-06-01T00:00:00Z', '2021', 'junk']);
  });
});
