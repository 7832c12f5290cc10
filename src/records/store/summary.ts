/**
 * What the index keeps of a resource so that listing, the timeline and lab charts need no
 * decryption: its clinically relevant date, main code, a display text, and an Observation's value.
 */
import type { IndexedQuantity, JsonObject, RecordEnvelope, RecordSummary, ScopeName } from './types.js';

const UCUM = 'http://unitsofmeasure.org';
const LOINC = 'http://loinc.org';

/**
 * Where each resource type keeps the date that places it on a timeline, in order of preference
 * (FHIR R4 element names; `[x]` choices are listed by their concrete names). Period → its start.
 */
const DATE_PATHS: Record<string, readonly string[]> = {
  Observation: ['effectiveDateTime', 'effectivePeriod', 'effectiveInstant', 'effectiveTiming', 'issued'],
  DiagnosticReport: ['effectiveDateTime', 'effectivePeriod', 'issued'],
  Condition: ['onsetDateTime', 'onsetPeriod', 'recordedDate', 'abatementDateTime'],
  AllergyIntolerance: ['onsetDateTime', 'onsetPeriod', 'recordedDate', 'lastOccurrence'],
  Procedure: ['performedDateTime', 'performedPeriod'],
  Immunization: ['occurrenceDateTime', 'recorded'],
  MedicationStatement: ['effectiveDateTime', 'effectivePeriod', 'dateAsserted'],
  MedicationRequest: ['authoredOn'],
  MedicationAdministration: ['effectiveDateTime', 'effectivePeriod'],
  MedicationDispense: ['whenHandedOver', 'whenPrepared'],
  Encounter: ['period'],
  DocumentReference: ['date', 'context.period'],
  Media: ['createdDateTime', 'createdPeriod', 'issued'],
  ImagingStudy: ['started'],
  CarePlan: ['period', 'created'],
  CareTeam: ['period'],
  Composition: ['date'],
  Consent: ['dateTime'],
  Goal: ['startDate', 'statusDate'],
  ServiceRequest: ['occurrenceDateTime', 'occurrencePeriod', 'authoredOn'],
  Specimen: ['collection.collectedDateTime', 'receivedTime'],
  FamilyMemberHistory: ['date'],
  ClinicalImpression: ['effectiveDateTime', 'effectivePeriod', 'date'],
  Claim: ['created'],
  ExplanationOfBenefit: ['created'],
  Coverage: ['period'],
  QuestionnaireResponse: ['authored'],
  RiskAssessment: ['occurrenceDateTime', 'occurrencePeriod'],
  DeviceUseStatement: ['timingDateTime', 'timingPeriod', 'recordedOn'],
};

/** Where each resource type keeps its main code (a CodeableConcept, or a list of them). */
const CODE_PATHS: Record<string, readonly string[]> = {
  Immunization: ['vaccineCode'],
  MedicationStatement: ['medicationCodeableConcept'],
  MedicationRequest: ['medicationCodeableConcept'],
  MedicationAdministration: ['medicationCodeableConcept'],
  MedicationDispense: ['medicationCodeableConcept'],
  DocumentReference: ['type'],
  Encounter: ['type', 'class'],
  Composition: ['type'],
  CarePlan: ['category'],
  ImagingStudy: ['procedureCode', 'modality'],
  Specimen: ['type'],
  Patient: [],
};

/** Builds the index line of one version (`scope` and counts come from where it is stored). */
export function summarize(envelope: RecordEnvelope, scope: ScopeName, history: number): RecordSummary {
  const r = envelope.resource;
  const type = r.resourceType as string;
  const summary: RecordSummary = {
    key: envelope.key,
    type,
    id: r.id as string,
    scope,
    version: envelope.n,
    ver: envelope.ver,
    updatedAt: envelope.at,
    history,
  };
  const date = dateOf(r);
  if (date !== undefined) summary.date = date;
  const coding = mainCoding(r);
  if (coding?.system !== undefined) summary.system = coding.system;
  if (coding?.code !== undefined) summary.code = coding.code;
  const display = displayOf(r, coding);
  if (display !== undefined) summary.display = display;
  if (type === 'Observation' || type === 'DiagnosticReport') {
    const loinc = loincOf(r.code);
    if (loinc !== undefined) summary.loinc = loinc;
  }
  if (type === 'Observation') {
    const category = codesOf(r.category);
    if (category.length > 0) summary.category = category;
    const value = quantityOf(r.valueQuantity);
    if (value) summary.value = value;
  }
  if (envelope.att && envelope.att.length > 0) summary.attachments = envelope.att.length;
  if (envelope.rst) summary.restricted = true;
  if (envelope.prov) {
    summary.verified = envelope.prov.verified;
    if (envelope.prov.issuer !== undefined) summary.issuer = envelope.prov.issuer;
  }
  return summary;
}

/** The date that places a resource on the timeline (ISO 8601 as written), if it has one. */
export function dateOf(resource: JsonObject): string | undefined {
  const paths = DATE_PATHS[resource.resourceType as string] ?? ['date', 'effectiveDateTime', 'period', 'issued', 'created', 'authoredOn'];
  for (const path of paths) {
    const value = at(resource, path);
    if (typeof value === 'string' && value.length > 0) return value;
    if (isObject(value)) {
      // Period → start (or end); Timing → its first event.
      if (typeof value.start === 'string') return value.start;
      if (typeof value.end === 'string') return value.end;
      if (Array.isArray(value.event) && typeof value.event[0] === 'string') return value.event[0];
    }
  }
  return undefined;
}

interface Coding {
  system?: string;
  code?: string;
  display?: string;
  text?: string;
}

function mainCoding(resource: JsonObject): Coding | undefined {
  const paths = CODE_PATHS[resource.resourceType as string] ?? ['code'];
  for (const path of paths) {
    let value = at(resource, path);
    if (Array.isArray(value)) value = value[0];
    if (!isObject(value)) continue;
    // `Encounter.class` is a Coding, everything else a CodeableConcept.
    const codings = Array.isArray(value.coding) ? value.coding : 'code' in value ? [value] : [];
    const first = codings.find(isObject);
    const out: Coding = {};
    if (first) {
      if (typeof first.system === 'string') out.system = first.system;
      if (typeof first.code === 'string') out.code = first.code;
      if (typeof first.display === 'string') out.display = first.display;
    }
    if (typeof value.text === 'string') out.text = value.text;
    return out;
  }
  return undefined;
}

function displayOf(resource: JsonObject, coding: Coding | undefined): string | undefined {
  const type = resource.resourceType;
  if (type === 'Patient' || type === 'Practitioner' || type === 'RelatedPerson') {
    const name = Array.isArray(resource.name) ? resource.name.find(isObject) : undefined;
    if (name) {
      if (typeof name.text === 'string') return name.text;
      const given = Array.isArray(name.given) ? name.given.filter((g) => typeof g === 'string').join(' ') : '';
      const family = typeof name.family === 'string' ? name.family : '';
      const full = `${given} ${family}`.trim();
      if (full) return full;
    }
  }
  if (type === 'Organization' && typeof resource.name === 'string') return resource.name;
  if (coding?.text) return coding.text;
  if (coding?.display) return coding.display;
  if (typeof resource.description === 'string') return resource.description.slice(0, 200);
  if (typeof resource.title === 'string') return resource.title;
  if (type === 'Binary' && typeof resource.contentType === 'string') return resource.contentType;
  return undefined;
}

function loincOf(value: unknown): string | undefined {
  if (!isObject(value) || !Array.isArray(value.coding)) return undefined;
  for (const c of value.coding) {
    if (isObject(c) && c.system === LOINC && typeof c.code === 'string') return c.code;
  }
  return undefined;
}

function codesOf(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  const out: string[] = [];
  for (const cc of value) {
    if (!isObject(cc) || !Array.isArray(cc.coding)) continue;
    for (const c of cc.coding) if (isObject(c) && typeof c.code === 'string') out.push(c.code);
  }
  return out;
}

function quantityOf(value: unknown): IndexedQuantity | undefined {
  if (!isObject(value) || typeof value.value !== 'number' || !Number.isFinite(value.value)) return undefined;
  const q: IndexedQuantity = { value: value.value };
  if (typeof value.unit === 'string') q.unit = value.unit;
  if (typeof value.code === 'string' && (value.system === undefined || value.system === UCUM)) q.code = value.code;
  return q;
}

function at(obj: JsonObject, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (!isObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
