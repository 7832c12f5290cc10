/**
 * Export: the vault (or chosen scopes) as a FHIR R4 Bundle of type `collection`, and an
 * International Patient Summary as a Bundle of type `document` (HL7 IPS IG, Bundle-uv-ips and
 * Composition-uv-ips).
 *
 * The collection export is made for fidelity: each resource exactly as stored (attachment data put
 * back inline), references as the vault holds them (`Type/id`, resolvable by type and id within the
 * bundle), and each entry's `fullUrl` rebuilt from the source key the record was first imported
 * under, so that importing the export — into this vault or a new one — derives the same ids and
 * gives back the same resources (see src/records/fhir/identity.ts for how ids follow source keys).
 *
 * The IPS export is made for other systems: every entry has a `urn:uuid:` fullUrl and references
 * between entries are rewritten to those, as FHIR R4 §2.36.4 requires inside a document.
 */
import type { Bundle, BundleEntry, Composition, CompositionSection, Resource } from '@medplum/fhirtypes';
import { SCOPES, SENSITIVE_SCOPES, type ScopeName } from './scopes.js';
import { sha256, toHex, utf8 } from '../crypto/index.js';
import { RecordStoreError } from './store/errors.js';
import type { RecordStore } from './store/record-store.js';
import { ipsSections, timeline, type IpsOptions, type IpsSections } from './store/queries.js';
import { inlineAttachments } from './store/attachments.js';
import { isJsonObject } from './store/record-codec.js';
import { setMember } from './json.js';
import type { JsonObject, RecordKey, StoredRecord } from './store/types.js';

/** Options of {@link exportBundle}. */
export interface ExportOptions {
  /** Scopes to export. @default every scope */
  scopes?: readonly ScopeName[];
  /** The export's timestamp. @default now */
  now?: Date;
  /** Put attachment content back inline (base64 `data`). @default true */
  inlineAttachments?: boolean;
}

/** The vault (or `scopes`) as a FHIR Bundle of type collection. */
export async function exportBundle(store: RecordStore, options: ExportOptions = {}): Promise<Bundle> {
  const scopes = options.scopes ?? SCOPES;
  const keys = store
    .list({ scopes })
    .map((l) => l.key)
    .sort();
  const records = await withAttachments(store, await store.getMany(keys), options.inlineAttachments ?? true);
  const entry: BundleEntry[] = records.map((record) => {
    const fullUrl = fullUrlFor(record, store.vaultId);
    const e: BundleEntry = { resource: record.resource as unknown as Resource };
    return fullUrl === undefined ? e : { fullUrl, ...e };
  });
  return {
    resourceType: 'Bundle',
    identifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${globalThis.crypto.randomUUID()}` },
    type: 'collection',
    timestamp: (options.now ?? new Date()).toISOString(),
    // R4 JSON (§2.6.2) allows no empty arrays: an empty export has no `entry` (Bundle.entry is 0..*).
    ...(entry.length > 0 ? { entry } : {}),
  };
}

/**
 * The fullUrl that makes a re-import derive the same source key: the URL or URN it came with; a
 * stable `urn:uuid:` for records keyed by identifier (the identifier keys them again); none for
 * records keyed by content (their content keys them again).
 */
function fullUrlFor(record: StoredRecord, vaultId: string): string | undefined {
  const source = record.sourceKeys[0];
  if (source?.startsWith('url:')) return source.slice('url:'.length);
  if (source?.startsWith('urn:')) {
    const urn = source.slice(source.indexOf('|') + 1);
    if (/^urn:(uuid|oid):/i.test(urn)) return urn;
  }
  if (source?.startsWith('sha256:')) return undefined;
  return stableUuidUrn(vaultId, record.key);
}

/** A `urn:uuid:` derived from vault and record (RFC 9562 version 8 layout, SHA-256 bits). */
function stableUuidUrn(vaultId: string, key: RecordKey): string {
  const h = sha256(utf8(`patient-vault/export-uuid\n${vaultId}\n${key}`)).slice(0, 16);
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = toHex(h);
  return `urn:uuid:${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

async function withAttachments(store: RecordStore, records: StoredRecord[], inline: boolean): Promise<StoredRecord[]> {
  if (!inline) return records;
  const out: StoredRecord[] = [];
  for (const record of records) {
    if (record.attachments.length === 0) {
      out.push(record);
      continue;
    }
    const contents = [];
    for (const ref of record.attachments) contents.push({ ref, bytes: await store.readAttachment(ref) });
    out.push({ ...record, resource: inlineAttachments(record.resource, contents) });
  }
  return out;
}

// --- IPS ----------------------------------------------------------------------------------------

const LOINC = 'http://loinc.org';
const EMPTY_REASON = 'http://terminology.hl7.org/CodeSystem/list-empty-reason';

/** The IPS sections this export fills: LOINC code, title, and whether the IPS requires it. */
const IPS_SECTIONS: readonly { key: keyof Omit<IpsSections, 'patient'>; code: string; display: string; title: string; required: boolean }[] = [
  { key: 'medications', code: '10160-0', display: 'History of Medication use Narrative', title: 'Medication Summary', required: true },
  { key: 'allergies', code: '48765-2', display: 'Allergies and adverse reactions Document', title: 'Allergies and Intolerances', required: true },
  { key: 'problems', code: '11450-4', display: 'Problem list - Reported', title: 'Problem List', required: true },
  { key: 'immunizations', code: '11369-6', display: 'History of Immunization Narrative', title: 'Immunizations', required: false },
  { key: 'procedures', code: '47519-4', display: 'History of Procedures Document', title: 'History of Procedures', required: false },
  { key: 'results', code: '30954-2', display: 'Relevant diagnostic tests/laboratory data Narrative', title: 'Results', required: false },
  { key: 'vitalSigns', code: '8716-3', display: 'Vital signs', title: 'Vital Signs', required: false },
  { key: 'pastIllness', code: '11348-0', display: 'History of Past illness Narrative', title: 'History of Past Illness', required: false },
];

/** Options of {@link exportIps}. */
export interface IpsExportOptions extends Omit<IpsOptions, 'patient'> {
  now?: Date;
  /**
   * The Patient the summary is about: its record key (`Patient/…`, as `list` shows it), or the
   * `Patient/id` (or bare id) it had in the file it was imported from, which the vault keeps as an
   * alias. @default the only Patient in the exported scopes
   */
  patient?: string;
}

/** Candidate keys listed in an AMBIGUOUS_PATIENT message (record keys only, never their content). */
const MAX_LISTED_PATIENTS = 20;

/**
 * The record key `ref` names, if it is a Patient of the vault: the key itself, or a Patient's
 * `Patient/id` (or bare id) in the file it came from (RecordStore.resolveReference's `id:` alias).
 */
function patientKeyOf(store: RecordStore, ref: string): RecordKey | undefined {
  if (ref.length === 0 || ref.length > 200) return undefined;
  const asPatient = (key: string | undefined): RecordKey | undefined => (key !== undefined && store.summary(key as RecordKey)?.type === 'Patient' ? (key as RecordKey) : undefined);
  const named = ref.includes('/') ? ref : `Patient/${ref}`;
  return asPatient(named) ?? asPatient(store.resolveReference(named));
}

function listKeys(keys: readonly RecordKey[]): string {
  const shown = keys.slice(0, MAX_LISTED_PATIENTS).join(', ');
  return keys.length > MAX_LISTED_PATIENTS ? `${shown} and ${keys.length - MAX_LISTED_PATIENTS} more` : shown;
}

/**
 * An IPS document: a Composition (LOINC 60591-5) with the Medication Summary, Allergies and Problem
 * List sections (each with entries or an emptyReason) and the optional sections that have entries,
 * followed by the Patient, the section entries and the records they reference. Drawn from the
 * non-sensitive scopes unless `scopes` says otherwise; only records whose subject/patient is the
 * summary's Patient are included. `NO_PATIENT` if the exported scopes hold no Patient;
 * `AMBIGUOUS_PATIENT` if they hold several and `patient` is not given, or `patient` names none of
 * them — the message then lists the candidates' record keys (keys only).
 */
export async function exportIps(store: RecordStore, options: IpsExportOptions = {}): Promise<Bundle> {
  const now = options.now ?? new Date();
  const scopes = options.scopes ?? SCOPES.filter((s) => !SENSITIVE_SCOPES.includes(s));
  const lines = timeline(store, { scopes, includeRestricted: options.includeRestricted ?? false });
  const candidates = lines.filter((l) => l.type === 'Patient').map((l) => l.key);
  if (candidates.length === 0) throw new RecordStoreError('NO_PATIENT', 'an International Patient Summary needs a Patient resource in the exported scopes');
  let chosen: RecordKey | undefined;
  if (options.patient !== undefined) {
    chosen = patientKeyOf(store, options.patient);
    if (chosen === undefined || !candidates.includes(chosen)) {
      throw new RecordStoreError(
        'AMBIGUOUS_PATIENT',
        `the Patient asked for ${chosen === undefined ? 'is no Patient of the vault' : 'is not in the exported scopes'}; they hold ${candidates.length === 1 ? 'one Patient' : `${candidates.length} Patients`}: ${listKeys(candidates)}`,
      );
    }
  } else if (candidates.length > 1) {
    throw new RecordStoreError('AMBIGUOUS_PATIENT', `the exported scopes hold ${candidates.length} Patients (${listKeys(candidates)}); say which one the summary is about`);
  }
  const { patient: _ignored, ...ipsOptions } = options;
  const sections = await ipsSections(store, { ...ipsOptions, ...(chosen !== undefined ? { patient: chosen } : {}) });
  const patient = sections.patient;
  if (!patient) throw new RecordStoreError('NO_PATIENT', 'an International Patient Summary needs a Patient resource in the exported scopes');

  // The entries: the section records, then every vault record they reference (transitively) that
  // lies in the exported scopes.
  const allowed = new Set(lines.map((l) => l.key));
  const included = new Map<RecordKey, StoredRecord>([[patient.key, patient]]);
  for (const s of IPS_SECTIONS) for (const r of sections[s.key]) included.set(r.key, r);
  let frontier = [...included.values()];
  while (frontier.length > 0) {
    const wanted = new Set<RecordKey>();
    for (const r of frontier) for (const ref of relativeReferences(r.resource)) if (allowed.has(ref) && !included.has(ref)) wanted.add(ref);
    const fetched = await store.getMany([...wanted]);
    for (const r of fetched) included.set(r.key, r);
    frontier = fetched;
  }
  const records = await withAttachments(store, [...included.values()], true);
  const urnOf = new Map<string, string>(records.map((r) => [r.key, stableUuidUrn(store.vaultId, r.key)]));
  const patientUrn = urnOf.get(patient.key)!;

  const composition: Composition = {
    resourceType: 'Composition',
    id: toHex(sha256(utf8(`ips\n${store.vaultId}\n${now.toISOString()}`)).slice(0, 16)),
    status: 'final',
    type: { coding: [{ system: LOINC, code: '60591-5', display: 'Patient summary Document' }] },
    subject: { reference: patientUrn },
    date: now.toISOString(),
    // The patient curates their own summary (Composition.author allows Patient).
    author: [{ reference: patientUrn }],
    title: `Patient Summary as of ${now.toISOString().slice(0, 10)}`,
    section: IPS_SECTIONS.filter((s) => s.required || sections[s.key].length > 0).map((s) => sectionOf(s, sections[s.key], urnOf)),
  };
  const compositionUrn = `urn:uuid:${globalThis.crypto.randomUUID()}`;
  const entry: BundleEntry[] = [
    { fullUrl: compositionUrn, resource: composition },
    ...records.map((r) => ({ fullUrl: urnOf.get(r.key)!, resource: rewriteToUrns(r.resource, urnOf) as Resource })),
  ];
  return {
    resourceType: 'Bundle',
    identifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${globalThis.crypto.randomUUID()}` },
    type: 'document',
    timestamp: now.toISOString(),
    entry,
  };
}

function sectionOf(s: (typeof IPS_SECTIONS)[number], records: StoredRecord[], urnOf: ReadonlyMap<string, string>): CompositionSection {
  const section: CompositionSection = {
    title: s.title,
    code: { coding: [{ system: LOINC, code: s.code, display: s.display }] },
    text: { status: 'generated', div: narrative(records) },
  };
  if (records.length > 0) section.entry = records.map((r) => ({ reference: urnOf.get(r.key)! }));
  else section.emptyReason = { coding: [{ system: EMPTY_REASON, code: 'unavailable', display: 'Unavailable' }] };
  return section;
}

/** A plain XHTML list of the section's records (escaped text only: no active content). */
function narrative(records: StoredRecord[]): string {
  if (records.length === 0) return '<div xmlns="http://www.w3.org/1999/xhtml"><p>No information available.</p></div>';
  const items = records.map((r) => `<li>${escapeXml(labelOf(r.resource))}</li>`).join('');
  return `<div xmlns="http://www.w3.org/1999/xhtml"><ul>${items}</ul></div>`;
}

function labelOf(resource: JsonObject): string {
  for (const field of ['code', 'vaccineCode', 'medicationCodeableConcept']) {
    const cc = resource[field];
    if (isJsonObject(cc)) {
      if (typeof cc.text === 'string') return cc.text;
      const coding = Array.isArray(cc.coding) ? cc.coding.find(isJsonObject) : undefined;
      if (coding && typeof coding.display === 'string') return coding.display;
      if (coding && typeof coding.code === 'string') return coding.code;
    }
  }
  return String(resource.resourceType);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const RELATIVE = /^([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})$/;

function relativeReferences(value: unknown, out: RecordKey[] = []): RecordKey[] {
  if (Array.isArray(value)) for (const v of value) relativeReferences(v, out);
  else if (isJsonObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string' && RELATIVE.test(v)) out.push(v as RecordKey);
      else if (typeof v === 'object' && v !== null) relativeReferences(v, out);
    }
  }
  return out;
}

function rewriteToUrns(value: unknown, urnOf: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteToUrns(v, urnOf));
  if (!isJsonObject(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    setMember(out, k, k === 'reference' && typeof v === 'string' && urnOf.has(v) ? urnOf.get(v) : rewriteToUrns(v, urnOf));
  }
  return out;
}
