/**
 * Readable text for FHIR R4 resources: what a patient or clinician needs to see (names, values
 * with units, dates, who issued it), never raw JSON. Pure functions of the resource; anything
 * missing is left out rather than guessed.
 */

type Json = Readonly<Record<string, unknown>>;

/** A resource rendered for people: a title and labelled lines. */
export interface ResourceText {
  readonly title: string;
  readonly lines: readonly (readonly [label: string, value: string])[];
}

const obj = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);
const arr = (v: unknown): readonly unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

/** Text of a CodeableConcept: its text, else the first coding's display, else its code. */
export function conceptText(concept: unknown): string | undefined {
  const c = obj(concept);
  if (!c) return undefined;
  const text = str(c.text);
  if (text) return text;
  for (const coding of arr(c.coding)) {
    const display = str(obj(coding)?.display);
    if (display) return display;
  }
  const first = obj(arr(c.coding)[0]);
  return str(first?.code);
}

/** A Quantity as `value unit`. */
export function quantityText(q: unknown): string | undefined {
  const v = obj(q);
  if (!v || typeof v.value !== 'number') return undefined;
  const unit = str(v.unit) ?? str(v.code);
  const comparator = str(v.comparator) ?? '';
  return `${comparator}${formatNumber(v.value)}${unit ? ` ${unit}` : ''}`;
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Math.round(n * 1000) / 1000);
}

/** A FHIR date or dateTime as a readable date (the time only when it has one). */
export function dateText(value: unknown): string | undefined {
  const s = str(value);
  if (!s) return undefined;
  if (/^\d{4}$/.test(s) || /^\d{4}-\d{2}$/.test(s)) return s;
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  const hasTime = s.includes('T');
  return hasTime
    ? d.toLocaleString('en-GB', { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC' }) + ' UTC'
    : d.toLocaleDateString('en-GB', { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' });
}

function humanName(v: unknown): string | undefined {
  const name = obj(arr(v)[0]);
  if (!name) return undefined;
  const text = str(name.text);
  if (text) return text;
  const given = arr(name.given).filter((g): g is string => typeof g === 'string').join(' ');
  const family = str(name.family) ?? '';
  const full = `${given} ${family}`.trim();
  return full || undefined;
}

/** A Reference's display; a bare `Type/id` means nothing to a reader, so it is left out. */
function referenceText(v: unknown): string | undefined {
  return str(obj(v)?.display);
}

/** The clinically relevant date of a resource, as stored (ISO), if it has one. */
export function resourceDate(resource: Json): string | undefined {
  const period = obj(resource.effectivePeriod) ?? obj(resource.period) ?? obj(resource.performedPeriod);
  return (
    str(resource.effectiveDateTime) ??
    str(resource.issued) ??
    str(resource.occurrenceDateTime) ??
    str(resource.onsetDateTime) ??
    str(resource.recordedDate) ??
    str(resource.authoredOn) ??
    str(resource.performedDateTime) ??
    str(resource.date) ??
    str(period?.start) ??
    str(resource.birthDate)
  );
}

function valueText(resource: Json): string | undefined {
  return (
    quantityText(resource.valueQuantity) ??
    conceptText(resource.valueCodeableConcept) ??
    str(resource.valueString) ??
    (typeof resource.valueBoolean === 'boolean' ? (resource.valueBoolean ? 'yes' : 'no') : undefined) ??
    (typeof resource.valueInteger === 'number' ? String(resource.valueInteger) : undefined)
  );
}

function push(lines: [string, string][], label: string, value: string | undefined): void {
  if (value !== undefined) lines.push([label, value]);
}

/** Renders one resource for people. Unknown types get their type and date. */
export function describeResource(resource: Json): ResourceText {
  const type = str(resource.resourceType) ?? 'Resource';
  const lines: [string, string][] = [];
  let title: string | undefined;
  switch (type) {
    case 'Patient':
      title = humanName(resource.name) ?? 'Patient';
      push(lines, 'Born', dateText(resource.birthDate));
      push(lines, 'Sex', str(resource.gender));
      break;
    case 'Observation': {
      title = conceptText(resource.code);
      push(lines, 'Result', valueText(resource));
      for (const component of arr(resource.component)) {
        const c = obj(component);
        if (c) push(lines, conceptText(c.code) ?? 'Component', valueText(c));
      }
      const range = obj(arr(resource.referenceRange)[0]);
      if (range) {
        const low = quantityText(range.low);
        const high = quantityText(range.high);
        push(lines, 'Reference range', str(range.text) ?? (low || high ? `${low ?? ''} – ${high ?? ''}`.trim() : undefined));
      }
      push(lines, 'Interpretation', conceptText(arr(resource.interpretation)[0]));
      push(lines, 'Status', str(resource.status));
      break;
    }
    case 'Condition':
      title = conceptText(resource.code);
      push(lines, 'Status', conceptText(resource.clinicalStatus));
      push(lines, 'Since', dateText(resource.onsetDateTime ?? obj(resource.onsetPeriod)?.start));
      push(lines, 'Resolved', dateText(resource.abatementDateTime));
      break;
    case 'MedicationStatement':
    case 'MedicationRequest':
      title = conceptText(resource.medicationCodeableConcept) ?? referenceText(resource.medicationReference);
      push(lines, 'Dose', str(obj(arr(resource.dosage ?? resource.dosageInstruction)[0])?.text));
      push(lines, 'Status', str(resource.status));
      push(lines, 'Prescribed by', referenceText(resource.requester));
      break;
    case 'AllergyIntolerance':
      title = conceptText(resource.code);
      push(lines, 'Criticality', str(resource.criticality));
      push(lines, 'Reaction', conceptText(arr(obj(arr(resource.reaction)[0])?.manifestation)[0]));
      push(lines, 'Status', conceptText(resource.clinicalStatus));
      break;
    case 'Immunization':
      title = conceptText(resource.vaccineCode);
      push(lines, 'Given', dateText(resource.occurrenceDateTime));
      push(lines, 'Lot', str(resource.lotNumber));
      push(lines, 'Status', str(resource.status));
      break;
    case 'Procedure':
      title = conceptText(resource.code);
      push(lines, 'Performed', dateText(resource.performedDateTime ?? obj(resource.performedPeriod)?.start));
      push(lines, 'Status', str(resource.status));
      break;
    case 'Encounter':
      title = conceptText(arr(resource.type)[0]) ?? conceptText(obj(resource.class) ? { coding: [resource.class] } : undefined) ?? 'Encounter';
      push(lines, 'Reason', conceptText(arr(resource.reasonCode)[0]));
      push(lines, 'Where', referenceText(resource.serviceProvider));
      break;
    case 'DiagnosticReport':
      title = conceptText(resource.code);
      push(lines, 'Conclusion', str(resource.conclusion));
      push(lines, 'Results', arr(resource.result).length ? String(arr(resource.result).length) : undefined);
      push(lines, 'Status', str(resource.status));
      break;
    case 'DocumentReference':
      title = str(resource.description) ?? conceptText(resource.type);
      push(lines, 'Author', referenceText(arr(resource.author)[0]));
      break;
    default:
      break;
  }
  push(lines, 'Date', dateText(resourceDate(resource)));
  push(lines, 'Issued by', referenceText(arr(resource.performer)[0]) ?? referenceText(resource.recorder) ?? referenceText(resource.asserter));
  return { title: title ?? type, lines };
}

/** The IPS sections (HL7 IPS §3): which resource types go where. */
export const IPS_SECTIONS = [
  { title: 'Problems', types: ['Condition'] },
  { title: 'Medications', types: ['MedicationStatement', 'MedicationRequest'] },
  { title: 'Allergies and intolerances', types: ['AllergyIntolerance'] },
  { title: 'Immunizations', types: ['Immunization'] },
  { title: 'Procedures', types: ['Procedure'] },
  { title: 'Results', types: ['Observation', 'DiagnosticReport'] },
] as const;

/**
 * Groups records into IPS sections, newest first; Results keep only the latest result per code
 * (the summary, not the history).
 */
export function ipsSections<R extends { readonly resourceType: string; readonly date?: string; readonly resource: Json }>(
  records: readonly R[],
): { title: string; records: R[] }[] {
  const byDate = [...records].sort((a, b) => (b.date ?? '').localeCompare(a.date ?? ''));
  return IPS_SECTIONS.map((section) => {
    let list = byDate.filter((r) => (section.types as readonly string[]).includes(r.resourceType));
    if (section.title === 'Results') {
      const seen = new Set<string>();
      list = list.filter((r) => {
        const key = conceptText(r.resource.code) ?? r.resourceType;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    }
    return { title: section.title, records: list };
  });
}
