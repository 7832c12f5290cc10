/**
 * FHIR dates as the store orders them. A FHIR date may be partial (YYYY, YYYY-MM, YYYY-MM-DD) or a
 * dateTime with a zone; each is placed at the instant it starts (a dateTime without a zone, which
 * R4 does not allow but portals send, is read as UTC).
 */

/** Milliseconds since the epoch at which `value` starts; NaN if it is not a date. */
export function dateStart(value: string): number {
  if (/^\d{4}$/.test(value)) return Date.UTC(Number(value), 0, 1);
  if (/^\d{4}-\d{2}$/.test(value)) return Date.UTC(Number(value.slice(0, 4)), Number(value.slice(5, 7)) - 1, 1);
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return Date.parse(`${value}T00:00:00Z`);
  if (/T/.test(value) && !/(Z|[+-]\d{2}:\d{2})$/.test(value)) return Date.parse(`${value}Z`);
  return Date.parse(value);
}

/** Orders two FHIR dates by the instant they start at, then as text. */
export function compareDates(a: string, b: string): number {
  const ta = dateStart(a);
  const tb = dateStart(b);
  if (ta === tb || (Number.isNaN(ta) && Number.isNaN(tb))) return a < b ? -1 : a > b ? 1 : 0;
  if (Number.isNaN(ta)) return 1;
  if (Number.isNaN(tb)) return -1;
  return ta < tb ? -1 : 1;
}

/**
 * Milliseconds since the epoch just after the period `value` denotes ends: a year, month or day
 * ends at the start of the next one; a date-time is an instant (so the end is 1 ms after it). Used
 * for inclusive upper bounds: `to: '2024-01-02'` includes all of that day.
 */
export function dateEnd(value: string): number {
  if (/^\d{4}$/.test(value)) return Date.UTC(Number(value) + 1, 0, 1);
  if (/^\d{4}-\d{2}$/.test(value)) return Date.UTC(Number(value.slice(0, 4)), Number(value.slice(5, 7)), 1);
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return Date.parse(`${value}T00:00:00Z`) + 86_400_000;
  return dateStart(value) + 1;
}
