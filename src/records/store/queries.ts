/**
 * Queries for the UI, over the sealed index (no decryption) except where resources themselves are
 * needed (the IPS sections).
 */
import { SENSITIVE_SCOPES, SCOPES } from '../scopes.js';
import { RecordStoreError } from './errors.js';
import { compareDates, dateStart } from './dates.js';
import type { ListFilter, RecordStore } from './record-store.js';
import type { JsonObject, RecordKey, RecordSummary, ScopeName, StoredRecord } from './types.js';
import { convertUnit, parseUcum } from './ucum.js';

/** Options of {@link timeline}. */
export interface TimelineOptions extends ListFilter {
  /** Newest first (`desc`, the default) or oldest first. Records without a date come last. */
  order?: 'asc' | 'desc';
  /** At most this many lines. */
  limit?: number;
  /** Include records their producer labelled restricted. @default true */
  includeRestricted?: boolean;
}

/** Records ordered by date (see {@link TimelineOptions}). */
export function timeline(store: RecordStore, options: TimelineOptions = {}): RecordSummary[] {
  const desc = (options.order ?? 'desc') === 'desc';
  let lines = store.list(options);
  if (options.includeRestricted === false) lines = lines.filter((l) => !l.restricted);
  const keyed = lines.map((line) => ({ line, t: line.date === undefined ? Number.NaN : dateStart(line.date) }));
  keyed.sort((a, b) => {
    const an = Number.isNaN(a.t);
    const bn = Number.isNaN(b.t);
    if (an || bn) return an === bn ? a.line.key.localeCompare(b.line.key) : an ? 1 : -1;
    if (a.t !== b.t) return desc ? b.t - a.t : a.t - b.t;
    return a.line.key.localeCompare(b.line.key);
  });
  const out = keyed.map((k) => k.line);
  return options.limit !== undefined ? out.slice(0, Math.max(0, options.limit)) : out;
}

/** Records of one resource type, newest first. */
export function byType(store: RecordStore, type: string, options: Omit<TimelineOptions, 'types'> = {}): RecordSummary[] {
  return timeline(store, { ...options, types: [type] });
}

/** Records whose date lies in [from, to] (FHIR dates, partial allowed), newest first. */
export function byDateRange(store: RecordStore, from: string, to: string, options: Omit<TimelineOptions, 'from' | 'to'> = {}): RecordSummary[] {
  if (compareDates(from, to) > 0) return [];
  return timeline(store, { ...options, from, to });
}

/** How many records of each type, per scope. */
export function typeCounts(store: RecordStore): Partial<Record<ScopeName, Record<string, number>>> {
  const out: Partial<Record<ScopeName, Record<string, number>>> = {};
  for (const line of store.list()) {
    const scope = (out[line.scope] ??= {});
    scope[line.type] = (scope[line.type] ?? 0) + 1;
  }
  return out;
}

// --- Lab series --------------------------------------------------------------------------------

/** One point of a lab series. */
export interface LabPoint {
  key: RecordKey;
  date: string;
  /** The value in the series unit (converted when the source unit differed and conversion is safe). */
  value: number;
  unit: string;
  /** As recorded. */
  sourceValue: number;
  sourceUnit: string;
}

/** A lab result over time, for a chart. */
export interface LabSeries {
  loinc: string;
  display?: string;
  /** The unit of `points` (the most frequent one, as a UCUM code where the source gave one). */
  unit?: string;
  /** Oldest first. */
  points: LabPoint[];
  /** Points whose unit cannot safely be converted to `unit` (kept out of the chart, not dropped). */
  unconverted: LabPoint[];
}

/** The lab codes that have numeric values, with their counts (for choosing a chart). */
export function labCodes(store: RecordStore): { loinc: string; display?: string; count: number }[] {
  const byCode = new Map<string, { loinc: string; display?: string; count: number }>();
  for (const line of store.list({ types: ['Observation'] })) {
    if (line.loinc === undefined || !line.value) continue;
    const entry = byCode.get(line.loinc);
    if (entry) entry.count++;
    else byCode.set(line.loinc, line.display === undefined ? { loinc: line.loinc, count: 1 } : { loinc: line.loinc, display: line.display, count: 1 });
  }
  return [...byCode.values()].sort((a, b) => b.count - a.count || a.loinc.localeCompare(b.loinc));
}

/**
 * The values of one LOINC code over time, in one unit: the most frequent unit of the series, with
 * the others converted where UCUM makes it safe (ucum.ts) and listed apart where it does not.
 */
export function labSeries(store: RecordStore, loinc: string, options: ListFilter = {}): LabSeries {
  const lines = store.list({ ...options, types: ['Observation'] }).filter((l) => l.loinc === loinc && l.value && l.date !== undefined);
  const unitOf = (l: RecordSummary): string => l.value!.code ?? l.value!.unit ?? '';
  const counts = new Map<string, number>();
  for (const l of lines) counts.set(unitOf(l), (counts.get(unitOf(l)) ?? 0) + 1);
  const target = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];
  const series: LabSeries = { loinc, points: [], unconverted: [] };
  const display = lines.find((l) => l.display !== undefined)?.display;
  if (display !== undefined) series.display = display;
  if (target !== undefined) series.unit = target;
  for (const l of lines) {
    const sourceUnit = unitOf(l);
    const point: LabPoint = { key: l.key, date: l.date!, value: l.value!.value, unit: sourceUnit, sourceValue: l.value!.value, sourceUnit };
    if (target === undefined || sourceUnit === target) {
      series.points.push(point);
      continue;
    }
    const converted = parseUcum(sourceUnit) && parseUcum(target) ? convertUnit(l.value!.value, sourceUnit, target, loinc) : undefined;
    if (converted === undefined || !Number.isFinite(converted)) {
      series.unconverted.push(point);
    } else {
      series.points.push({ ...point, value: roundSignificant(converted, 6), unit: target });
    }
  }
  const byDate = (a: LabPoint, b: LabPoint) => compareDates(a.date, b.date) || a.key.localeCompare(b.key);
  series.points.sort(byDate);
  series.unconverted.sort(byDate);
  return series;
}

function roundSignificant(value: number, digits: number): number {
  return value === 0 ? 0 : Number(value.toPrecision(digits));
}

// --- IPS sections ------------------------------------------------------------------------------

/** The International Patient Summary sections (HL7 IPS IG, Composition-uv-ips), as resources. */
export interface IpsSections {
  patient?: StoredRecord;
  /** 10160-0 Medication Summary: MedicationStatement, MedicationRequest. */
  medications: StoredRecord[];
  /** 48765-2 Allergies and Intolerances. */
  allergies: StoredRecord[];
  /** 11450-4 Problem List: Conditions that are active (or recurring, relapsed, unknown). */
  problems: StoredRecord[];
  /** 11348-0 History of Past Illness: Conditions inactive, remission, resolved. */
  pastIllness: StoredRecord[];
  /** 11369-6 Immunizations. */
  immunizations: StoredRecord[];
  /** 47519-4 History of Procedures. */
  procedures: StoredRecord[];
  /** 30954-2 Results: the latest laboratory Observation and DiagnosticReport per code. */
  results: StoredRecord[];
  /** 8716-3 Vital Signs: the latest vital-sign Observation per code. */
  vitalSigns: StoredRecord[];
}

/** Options of {@link ipsSections}. */
export interface IpsOptions {
  /** Scopes to draw from. @default the non-sensitive scopes (sensitive ones are never shared by default) */
  scopes?: readonly ScopeName[];
  /** Include records labelled restricted by their producer. @default false */
  includeRestricted?: boolean;
  /**
   * The Patient the summary is about (its record key, `Patient/…`). @default the only Patient in
   * the scopes; with several, `AMBIGUOUS_PATIENT` is thrown (an IPS summarises one patient).
   */
  patient?: RecordKey;
}

/** The subject/patient reference of a resource (`Type/id`), if it has one. */
function subjectOf(resource: JsonObject): string | undefined {
  for (const field of ['subject', 'patient']) {
    const ref = resource[field];
    if (typeof ref === 'object' && ref !== null && typeof (ref as { reference?: unknown }).reference === 'string') return (ref as { reference: string }).reference;
  }
  return undefined;
}

const ERROR_STATUSES = new Set(['entered-in-error']);

/** Gathers the IPS sections from the vault (opens the resources it needs). */
export async function ipsSections(store: RecordStore, options: IpsOptions = {}): Promise<IpsSections> {
  const scopes = options.scopes ?? SCOPES.filter((s) => !SENSITIVE_SCOPES.includes(s));
  const lines = timeline(store, { scopes, includeRestricted: options.includeRestricted ?? false });
  const want = (types: string[]) => lines.filter((l) => types.includes(l.type)).map((l) => l.key);
  const latestPerCode = (filter: (l: RecordSummary) => boolean) => {
    const seen = new Set<string>();
    const out: RecordKey[] = [];
    for (const l of lines) {
      if (!filter(l)) continue;
      const code = `${l.type}|${l.loinc ?? l.code ?? l.key}`;
      if (seen.has(code)) continue;
      seen.add(code);
      out.push(l.key);
    }
    return out;
  };
  const isLab = (l: RecordSummary) => (l.type === 'Observation' && (l.category?.includes('laboratory') ?? l.scope === 'labs')) || l.type === 'DiagnosticReport';
  const isVital = (l: RecordSummary) => l.type === 'Observation' && (l.category?.includes('vital-signs') ?? false);
  const patients = want(['Patient']);
  let patientKey: RecordKey | undefined;
  if (options.patient !== undefined) {
    if (!patients.includes(options.patient)) throw new RecordStoreError('AMBIGUOUS_PATIENT', 'the Patient asked for is not in the exported scopes');
    patientKey = options.patient;
  } else if (patients.length > 1) {
    throw new RecordStoreError('AMBIGUOUS_PATIENT', `the exported scopes hold ${patients.length} Patients; say which one the summary is about`);
  } else {
    patientKey = patients[0];
  }
  const keys = {
    patient: patientKey === undefined ? [] : [patientKey],
    medications: want(['MedicationStatement', 'MedicationRequest']),
    allergies: want(['AllergyIntolerance']),
    conditions: want(['Condition']),
    immunizations: want(['Immunization']),
    procedures: want(['Procedure']),
    results: latestPerCode(isLab),
    vitalSigns: latestPerCode(isVital),
  };
  const all = await store.getMany(Object.values(keys).flat());
  const byKey = new Map(all.map((r) => [r.key, r]));
  // Only records about the summary's Patient (IPS: section entries are about the Composition's subject).
  const about = (r: StoredRecord) => r.resource.resourceType === 'Patient' || (patientKey !== undefined && subjectOf(r.resource) === patientKey);
  const get = (list: RecordKey[]) => list.map((k) => byKey.get(k)).filter((r): r is StoredRecord => r !== undefined && !isInError(r.resource) && about(r));
  const conditions = get(keys.conditions);
  const sections: IpsSections = {
    medications: get(keys.medications),
    allergies: get(keys.allergies),
    problems: conditions.filter((c) => !isPast(c.resource)),
    pastIllness: conditions.filter((c) => isPast(c.resource)),
    immunizations: get(keys.immunizations),
    procedures: get(keys.procedures),
    results: get(keys.results),
    vitalSigns: get(keys.vitalSigns),
  };
  const patient = get(keys.patient)[0];
  if (patient) sections.patient = patient;
  return sections;
}

function isInError(resource: JsonObject): boolean {
  if (typeof resource.status === 'string' && ERROR_STATUSES.has(resource.status)) return true;
  return codeOf(resource.verificationStatus) === 'entered-in-error' || codeOf(resource.verificationStatus) === 'refuted';
}

/** A Condition the IPS lists under past illness: clinical status inactive, remission or resolved. */
function isPast(resource: JsonObject): boolean {
  const status = codeOf(resource.clinicalStatus);
  return status === 'inactive' || status === 'remission' || status === 'resolved';
}

function codeOf(cc: unknown): string | undefined {
  if (typeof cc !== 'object' || cc === null) return undefined;
  const coding = (cc as { coding?: unknown }).coding;
  if (!Array.isArray(coding)) return undefined;
  const first: unknown = coding[0];
  return typeof first === 'object' && first !== null && typeof (first as { code?: unknown }).code === 'string' ? (first as { code: string }).code : undefined;
}
