/**
 * Which scope a resource belongs in: one readable table, evaluated top to bottom.
 *
 * A vault is split into scopes that a patient shares separately (ARCHITECTURE.md, "Vault and
 * scopes"). Four are ordinary (summary, labs, notes, imaging) and four are sensitive and never
 * shared by default (mental-health, substance-use, reproductive, genomics).
 *
 * Order of evaluation (first match wins):
 *   1. Security labels in `meta.security` (HL7 v3 ActCode sensitivity codes), strictest first.
 *   2. Well-known code ranges found in ANY Coding of the resource (ICD-10 F-codes, SNOMED CT
 *      concepts, LOINC screening instruments and genetics panels…), strictest first. Scanning every
 *      Coding errs towards protection: a false positive puts a record in a sensitive scope the
 *      patient can move it out of; a false negative would share it by default.
 *   3. The resource type.
 * "Strictest first" = substance-use (42 CFR Part 2), mental-health (psychotherapy notes),
 * reproductive, genomics.
 *
 * Identity and directory resources (Patient, Practitioner, Organization…) skip step 2: a Patient
 * must stay in `summary` for every grantee to know whose record it is.
 *
 * Confidentiality R (restricted) or V (very restricted) alone does not name a topic, so it cannot
 * pick one of the four sensitive scopes; such a resource keeps its type scope and is marked
 * `restricted: true` in the decision, so that the store and the UI can hold it back.
 */

import { SCOPE_NAMES, SENSITIVE_SCOPES, isScopeName, type ScopeName } from '../grants/index.js';

/** The scope names come from src/grants (a grant names scopes); re-exported for this layer's users. */
export { SENSITIVE_SCOPES, isScopeName, type ScopeName };
/** Every scope name, in display order (src/grants' SCOPE_NAMES). */
export const SCOPES = SCOPE_NAMES;

// ---------------------------------------------------------------------------------------------
// Code systems (canonical URLs, and the OIDs some producers still send)
// ---------------------------------------------------------------------------------------------
const ACT_CODE = ['http://terminology.hl7.org/CodeSystem/v3-ActCode', 'urn:oid:2.16.840.1.113883.5.4', 'http://hl7.org/fhir/v3/ActCode'];
const CONFIDENTIALITY = [
  'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
  'urn:oid:2.16.840.1.113883.5.25',
  'http://hl7.org/fhir/v3/Confidentiality',
];
const ICD10 = ['http://hl7.org/fhir/sid/icd-10', 'http://hl7.org/fhir/sid/icd-10-cm', 'urn:oid:2.16.840.1.113883.6.90', 'urn:oid:2.16.840.1.113883.6.3'];
const ICD9 = ['http://hl7.org/fhir/sid/icd-9-cm', 'urn:oid:2.16.840.1.113883.6.103'];
const SNOMED = ['http://snomed.info/sct', 'urn:oid:2.16.840.1.113883.6.96'];
const LOINC = ['http://loinc.org', 'urn:oid:2.16.840.1.113883.6.1'];
const V2_0074 = ['http://terminology.hl7.org/CodeSystem/v2-0074'];
const OBS_CATEGORY = ['http://terminology.hl7.org/CodeSystem/observation-category'];

/** How a rule matches codes: an explicit set, or inclusive ranges over the code's leading characters. */
export type CodeMatch =
  | { kind: 'set'; codes: readonly string[] }
  /** ICD style: `F01`–`F09` matches `F01`, `F03.90`… (compares the first `from.length` characters). */
  | { kind: 'range'; ranges: readonly (readonly [from: string, to: string])[] };

/** One row of the scope table. */
export interface ScopeRule {
  /** Stable id, recorded with each decision so the UI can say why a record is where it is. */
  id: string;
  scope: ScopeName;
  /** What this row looks at. */
  on: 'security-label' | 'code' | 'category' | 'type';
  /** For `security-label`, `code`, `category`: the code systems and codes that match. */
  systems?: readonly string[];
  match?: CodeMatch;
  /** For `type` and `category` rows: the resource types the row applies to. */
  resourceTypes?: readonly string[];
  /** Why, for a human reading the table. */
  why: string;
}

const set = (...codes: string[]): CodeMatch => ({ kind: 'set', codes });
const ranges = (...r: [string, string][]): CodeMatch => ({ kind: 'range', ranges: r });

/**
 * THE TABLE. Rows are evaluated in order; the first matching row decides. Every row has a test in
 * scopes.test.ts.
 */
export const SCOPE_RULES: readonly ScopeRule[] = [
  // 1. Security labels (HL7 v3 ActCode, InformationSensitivityPolicy), strictest first.
  { id: 'label-substance', scope: 'substance-use', on: 'security-label', systems: ACT_CODE, match: set('ETH', 'ETHUD', 'SUD', 'ALCUD', 'OPIOIDUD'), why: 'substance use information sensitivity (42 CFR Part 2)' },
  { id: 'label-mental', scope: 'mental-health', on: 'security-label', systems: ACT_CODE, match: set('PSY', 'PSYTHPN', 'BH', 'MH', 'SDV', 'MST'), why: 'psychiatry, psychotherapy note, behavioural health, sexual/domestic violence, military sexual trauma' },
  { id: 'label-reproductive', scope: 'reproductive', on: 'security-label', systems: ACT_CODE, match: set('SEX', 'STD', 'HIV'), why: 'sexuality and reproductive health, sexually transmitted disease, HIV' },
  { id: 'label-genomics', scope: 'genomics', on: 'security-label', systems: ACT_CODE, match: set('GDIS', 'SCA', 'SICKLE'), why: 'genetic disease information sensitivity' },

  // 2. Well-known codes in any Coding of the resource, strictest first.
  { id: 'icd10-substance', scope: 'substance-use', on: 'code', systems: ICD10, match: ranges(['F10', 'F19']), why: 'ICD-10 F10–F19: mental and behavioural disorders due to psychoactive substance use' },
  { id: 'icd10-substance-counselling', scope: 'substance-use', on: 'code', systems: ICD10, match: ranges(['Z71.4', 'Z71.5'], ['T40', 'T40']), why: 'ICD-10 Z71.4–Z71.5 alcohol/drug counselling; T40 narcotic poisoning' },
  { id: 'icd9-substance', scope: 'substance-use', on: 'code', systems: ICD9, match: ranges(['303', '305']), why: 'ICD-9-CM 303–305: alcohol and drug dependence and abuse' },
  { id: 'snomed-substance', scope: 'substance-use', on: 'code', systems: SNOMED, match: set('7200002', '15167005', '66590003', '26416006', '191816009', '5602001', '75544000'), why: 'SNOMED CT alcoholism, alcohol abuse/dependence, drug abuse/dependence, opioid abuse/dependence' },
  { id: 'loinc-substance-screening', scope: 'substance-use', on: 'code', systems: LOINC, match: set('72109-2', '75626-2', '82666-9', '82667-7', '68518-0', '68519-8', '68520-6'), why: 'LOINC AUDIT-C and DAST-10 screening panels and scores' },
  { id: 'icd10-mental', scope: 'mental-health', on: 'code', systems: ICD10, match: ranges(['F01', 'F09'], ['F20', 'F99'], ['R45.851', 'R45.851'], ['X71', 'X83'], ['Z91.5', 'Z91.5']), why: 'ICD-10 F01–F99 without F10–F19 (mental and behavioural disorders), suicidal ideation, intentional self-harm' },
  { id: 'icd9-mental', scope: 'mental-health', on: 'code', systems: ICD9, match: ranges(['290', '302'], ['306', '319']), why: 'ICD-9-CM 290–319 without 303–305: mental disorders' },
  { id: 'snomed-mental', scope: 'mental-health', on: 'code', systems: SNOMED, match: set('74732009', '35489007', '370143000', '36923009', '197480006', '58214004', '13746004', '47505003', '69322001', '6471006', '231504006'), why: 'SNOMED CT mental disorder, depressive and anxiety disorders, schizophrenia, bipolar disorder, PTSD, psychotic disorder, suicidal thoughts, mixed anxiety and depressive disorder' },
  { id: 'loinc-mental-screening', scope: 'mental-health', on: 'code', systems: LOINC, match: set('44249-1', '44261-6', '55757-9', '55758-7', '69737-5', '70274-6'), why: 'LOINC PHQ-9, PHQ-2, GAD-7 panels and total scores' },
  { id: 'icd10-reproductive', scope: 'reproductive', on: 'code', systems: ICD10, match: ranges(['O00', 'O9A'], ['Z30', 'Z39'], ['Z3A', 'Z3A'], ['N96', 'N98'], ['B20', 'B20'], ['Z21', 'Z21'], ['A50', 'A64']), why: 'ICD-10 pregnancy (O), contraception and procreation (Z30–Z39, Z3A), infertility (N96–N98), HIV (B20, Z21), sexually transmitted infections (A50–A64)' },
  { id: 'icd9-reproductive', scope: 'reproductive', on: 'code', systems: ICD9, match: ranges(['630', '679'], ['V22', 'V28'], ['042', '042']), why: 'ICD-9-CM pregnancy complications, pregnancy supervision and family planning, HIV' },
  { id: 'snomed-reproductive', scope: 'reproductive', on: 'code', systems: SNOMED, match: set('77386006', '72892002', '13197004', '65200003', '86406008', '165816005', '8619003'), why: 'SNOMED CT pregnancy, normal pregnancy, contraception, IUD insertion, HIV infection, HIV positive, infertility' },
  { id: 'loinc-reproductive', scope: 'reproductive', on: 'code', systems: LOINC, match: set('2106-3', '2118-8', '19080-1', '82810-3', '11449-6', '20447-9', '75622-1', '7918-6'), why: 'LOINC pregnancy tests (hCG), pregnancy status, HIV tests' },
  { id: 'loinc-genomics', scope: 'genomics', on: 'code', systems: LOINC, match: set('51969-4', '81247-9', '55233-1', '55232-3', '69548-6', '48018-6', '81252-9', '48004-6', '48005-3', '69547-8', '69551-0', '53037-8', '84413-4', '51958-7', '48013-7'), why: 'LOINC genetic analysis reports and the HL7 genetic variant reporting panel and its members' },

  // 3. Categories that move a resource between ordinary scopes.
  { id: 'category-imaging', scope: 'imaging', on: 'category', resourceTypes: ['DiagnosticReport', 'Observation'], systems: [...V2_0074, ...OBS_CATEGORY], match: set('RAD', 'imaging'), why: 'radiology reports and imaging observations' },

  // 4. Resource types.
  { id: 'type-genomics', scope: 'genomics', on: 'type', resourceTypes: ['MolecularSequence'], why: 'raw genomic data' },
  { id: 'type-imaging', scope: 'imaging', on: 'type', resourceTypes: ['ImagingStudy', 'Media'], why: 'images and imaging studies' },
  { id: 'type-labs', scope: 'labs', on: 'type', resourceTypes: ['Observation', 'DiagnosticReport', 'Specimen', 'ServiceRequest'], why: 'results, reports, specimens and the orders for them' },
  { id: 'type-notes', scope: 'notes', on: 'type', resourceTypes: ['DocumentReference', 'Binary', 'Composition', 'Encounter', 'EpisodeOfCare', 'ClinicalImpression', 'QuestionnaireResponse', 'Communication', 'Appointment', 'Claim', 'ExplanationOfBenefit', 'Coverage', 'Provenance', 'SupplyDelivery'], why: 'documents, visits, assessments and the administrative record of care' },
  { id: 'type-summary', scope: 'summary', on: 'type', resourceTypes: ['Patient', 'RelatedPerson', 'Practitioner', 'PractitionerRole', 'Organization', 'Location', 'AllergyIntolerance', 'Condition', 'Medication', 'MedicationStatement', 'MedicationRequest', 'MedicationAdministration', 'MedicationDispense', 'Immunization', 'ImmunizationRecommendation', 'Procedure', 'FamilyMemberHistory', 'CarePlan', 'CareTeam', 'Goal', 'Device', 'DeviceUseStatement', 'Flag'], why: 'the International Patient Summary core, and who and where care came from' },
];

/** Resource types that skip code rules (identity and directory data). */
export const CODE_RULES_SKIPPED_FOR: readonly string[] = ['Patient', 'RelatedPerson', 'Practitioner', 'PractitionerRole', 'Organization', 'Location'];

/** Every resource type the vault accepts: exactly the types named by a `type` row. */
export const ACCEPTED_RESOURCE_TYPES: readonly string[] = SCOPE_RULES.filter((r) => r.on === 'type').flatMap((r) => r.resourceTypes ?? []);

const ACCEPTED = new Set(ACCEPTED_RESOURCE_TYPES);

/** True if the vault stores resources of this type. */
export function isAcceptedResourceType(resourceType: string): boolean {
  return ACCEPTED.has(resourceType);
}

/** Where a resource goes, and why. */
export interface ScopeDecision {
  scope: ScopeName;
  /** The id of the table row that decided. */
  rule: string;
  /** The producer labelled it confidentiality R or V (see the header of this file). */
  restricted: boolean;
}

/** A Coding as found in a resource (only the fields the table reads). */
interface CodingLike {
  system?: unknown;
  code?: unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function codeMatches(match: CodeMatch, code: string): boolean {
  if (match.kind === 'set') return match.codes.includes(code);
  const upper = code.toUpperCase();
  for (const [from, to] of match.ranges) {
    const head = upper.slice(0, from.length);
    // Codes compare as strings of the same length: 'F10' ≤ 'F15' ≤ 'F19', 'Z71.4' ≤ 'Z71.49'.
    if (head.length === from.length && head >= from && head <= to) return true;
  }
  return false;
}

function matchesAny(codings: readonly CodingLike[], systems: readonly string[], match: CodeMatch): boolean {
  for (const c of codings) {
    if (typeof c.system === 'string' && typeof c.code === 'string' && systems.includes(c.system) && codeMatches(match, c.code)) return true;
  }
  return false;
}

/** Every object with a `code` string under `value` (Codings, and `code` fields of Quantities, which never match a rule's systems). */
function collectCodings(value: unknown, out: CodingLike[], depth = 0): void {
  if (depth > 64) return; // inputs are depth-checked before this; the guard keeps the function total
  if (Array.isArray(value)) {
    for (const v of value) collectCodings(v, out, depth + 1);
  } else if (isObject(value)) {
    if (typeof value.code === 'string' && typeof value.system === 'string') out.push(value);
    for (const key in value) {
      if (key === 'meta') continue; // security labels are step 1; tags carry no clinical meaning
      collectCodings(value[key], out, depth + 1);
    }
  }
}

function securityLabels(resource: Record<string, unknown>): CodingLike[] {
  const meta = resource.meta;
  if (!isObject(meta) || !Array.isArray(meta.security)) return [];
  return meta.security.filter(isObject);
}

function categoryCodings(resource: Record<string, unknown>): CodingLike[] {
  const out: CodingLike[] = [];
  const category = resource.category;
  for (const cc of Array.isArray(category) ? category : [category]) {
    if (isObject(cc) && Array.isArray(cc.coding)) out.push(...cc.coding.filter(isObject));
  }
  return out;
}

/**
 * Decides the scope of `resource`. `related` are Codings of resources it points at that carry its
 * meaning (e.g. the Medication behind a MedicationRequest's `medicationReference`); they count as
 * the resource's own codes.
 */
export function assignScope(resource: { resourceType: string }, related: readonly unknown[] = []): ScopeDecision {
  const r = resource as Record<string, unknown> & { resourceType: string };
  const labels = securityLabels(r);
  const restricted = labels.some((l) => typeof l.system === 'string' && CONFIDENTIALITY.includes(l.system) && (l.code === 'R' || l.code === 'V'));
  let codings: CodingLike[] | undefined;
  for (const rule of SCOPE_RULES) {
    switch (rule.on) {
      case 'security-label':
        if (matchesAny(labels, rule.systems ?? [], rule.match!)) return { scope: rule.scope, rule: rule.id, restricted };
        break;
      case 'code':
        if (CODE_RULES_SKIPPED_FOR.includes(r.resourceType)) break;
        if (codings === undefined) {
          codings = [];
          collectCodings(r, codings);
          for (const other of related) collectCodings(other, codings);
        }
        if (matchesAny(codings, rule.systems ?? [], rule.match!)) return { scope: rule.scope, rule: rule.id, restricted };
        break;
      case 'category':
        if (rule.resourceTypes?.includes(r.resourceType) && matchesAny(categoryCodings(r), rule.systems ?? [], rule.match!)) {
          return { scope: rule.scope, rule: rule.id, restricted };
        }
        break;
      case 'type':
        if (rule.resourceTypes?.includes(r.resourceType)) return { scope: rule.scope, rule: rule.id, restricted };
        break;
    }
  }
  // Unreachable for accepted types; callers check isAcceptedResourceType first.
  return { scope: 'notes', rule: 'fallback', restricted };
}
