/**
 * Full FHIR R4 validation of one resource: @medplum/core's validateResource (structure, types,
 * cardinality, primitive formats, FHIRPath invariants) plus what it misses:
 * - Resource.id format ([A-Za-z0-9\-.]{1,64}, R4 §2.24.0.1 "id"), for the resource and contained ones;
 * - empty arrays, objects and strings (R4 JSON §2.6.2: no empty elements);
 * - keys that are not FHIR element names (prototype pollution keys included);
 * - per-1 (Period.start ≤ Period.end) on every Period, comparing the widest reading of each;
 * - narrative safety (txt-1, txt-2; see narrative.ts);
 * - required terminology bindings of `code` elements (e.g. Observation.status).
 * It also collects every Reference, for reference resolution (references.ts).
 */
import { OperationOutcomeError, getAllDataTypes, validateResource as medplumValidate } from './medplum.js';
import type { InternalSchemaElement, InternalTypeSchema, TypedValueWithPath } from './medplum.js';
import type { Resource } from '@medplum/fhirtypes';
import { ensureDefinitions, type LoadedDefinitions } from './definitions.js';
import { checkNarrative } from './narrative.js';
import { isAcceptedResourceType } from '../scopes.js';
import { MAX_IMPORT_BYTES } from './json.js';

/** One rule broken inside one resource; `path` is a FHIRPath-like location, never a value. */
export interface ResourceProblem {
  path: string;
  rule: string;
  message: string;
}

/** A Reference found in a resource, with the object that holds it (so it can be rewritten). */
export interface FoundReference {
  path: string;
  holder: { reference?: unknown };
  /** True if found inside a contained resource. */
  inContained: boolean;
}

/** The outcome of validating one resource. */
export interface ResourceValidation {
  problems: ResourceProblem[];
  references: FoundReference[];
  /** ids of contained resources (targets of `#id` references). */
  containedIds: Set<string>;
}

const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;
const SPACE = /\s/;
const SPACES = /\s+/g;
/** Standard base64 (RFC 4648 §4) with its padding, whitespace left out. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ELEMENT_NAME = /^_?[A-Za-z][A-Za-z0-9]*$/;
const PRIMITIVE_TYPES = new Set([
  'base64Binary', 'boolean', 'canonical', 'code', 'date', 'dateTime', 'decimal', 'id', 'instant', 'integer', 'markdown',
  'oid', 'positiveInt', 'string', 'time', 'unsignedInt', 'uri', 'url', 'uuid', 'xhtml', 'http://hl7.org/fhirpath/System.String',
]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------
// per-1: compare the earliest moment a start can mean with the latest moment an end can mean.
// ---------------------------------------------------------------------------------------------
const DATE_TIME = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;
const FOURTEEN_HOURS = 14 * 3600_000;

/**
 * The interval a FHIR date/dateTime denotes, in ms on a UTC-like timeline: [earliest, latest].
 * `zoned` is false when the value has no time zone (a date, or a local time): its bounds are then
 * "naive" (as if UTC) and shift by up to ±14 h when compared with a zoned value.
 */
export function dateTimeBounds(value: string): { from: number; to: number; zoned: boolean } | undefined {
  const m = DATE_TIME.exec(value);
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = m[2] ? Number(m[2]) - 1 : undefined;
  const day = m[3] ? Number(m[3]) : undefined;
  if (month === undefined) return { from: Date.UTC(year, 0, 1), to: Date.UTC(year + 1, 0, 1) - 1, zoned: false };
  if (day === undefined) return { from: Date.UTC(year, month, 1), to: Date.UTC(year, month + 1, 1) - 1, zoned: false };
  if (m[4] === undefined) return { from: Date.UTC(year, month, day), to: Date.UTC(year, month, day + 1) - 1, zoned: false };
  const seconds = m[6] ? Number(m[6]) : 0;
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  const local = Date.UTC(year, month, day, Number(m[4]), Number(m[5]), seconds, ms);
  const width = m[6] === undefined ? 59_999 : m[7] === undefined ? 999 : 0;
  const zone = m[8];
  if (!zone) return { from: local, to: local + width, zoned: false };
  const offset = zone === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  return { from: local - offset, to: local - offset + width, zoned: true };
}

/** per-1: true when `start` certainly comes after `end`, at the precision each is given. */
export function startsAfterEnd(start: string, end: string): boolean {
  const a = dateTimeBounds(start);
  const b = dateTimeBounds(end);
  if (!a || !b) return false;
  // Mixed zoned/unzoned: the unzoned one may sit anywhere within ±14 h.
  const widen = a.zoned !== b.zoned ? FOURTEEN_HOURS : 0;
  return a.from - (a.zoned ? 0 : widen) > b.to + (b.zoned ? 0 : widen);
}

function checkPeriod(period: Record<string, unknown>, path: string, problems: ResourceProblem[]): void {
  if (typeof period.start !== 'string' || typeof period.end !== 'string') return;
  if (startsAfterEnd(period.start, period.end)) {
    problems.push({ path, rule: 'R4_INVARIANT', message: 'per-1: Period.start is after Period.end' });
  }
}

// ---------------------------------------------------------------------------------------------
// A walk of the resource along its schema.
// ---------------------------------------------------------------------------------------------
interface WalkContext {
  problems: ResourceProblem[];
  references: FoundReference[];
  containedIds: Set<string>;
  registry: Record<string, InternalTypeSchema>;
  inContained: boolean;
  /** Paths of base64Binary values that are valid once their whitespace is left out (see below). */
  spacedBase64?: Set<string>;
  /** `#id` values of canonical, uri and url elements (dom-3 counts them as references). */
  localUris?: Set<string>;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

interface KeyElement {
  element: InternalSchemaElement;
  code: string;
}

/** Per schema: JSON key → element and type code, filled lazily (choice types make keys many). */
const keyCache = new WeakMap<InternalTypeSchema, Map<string, KeyElement | null>>();

/** The element and type code a JSON key stands for (`valueQuantity` → value[x], Quantity). */
function elementFor(schema: InternalTypeSchema, key: string): KeyElement | undefined {
  let cache = keyCache.get(schema);
  if (!cache) {
    cache = new Map();
    keyCache.set(schema, cache);
  }
  const cached = cache.get(key);
  if (cached !== undefined) return cached ?? undefined;
  let found: KeyElement | null = null;
  const direct = schema.elements[key];
  if (direct) {
    found = { element: direct, code: direct.type[0]?.code ?? '' };
  } else {
    for (const [name, element] of Object.entries(schema.elements)) {
      if (!name.endsWith('[x]')) continue;
      const stem = name.slice(0, -3);
      if (!key.startsWith(stem)) continue;
      const t = element.type.find((x) => stem + capitalize(x.code) === key);
      if (t) {
        found = { element, code: t.code };
        break;
      }
    }
  }
  // Only keys that name an element are cached, so hostile input cannot grow the cache.
  if (found) cache.set(key, found);
  return found ?? undefined;
}

function typeSchema(schema: InternalTypeSchema, code: string, registry: Record<string, InternalTypeSchema>): InternalTypeSchema | undefined {
  let s: InternalTypeSchema | undefined = schema;
  while (s) {
    const inner = s.innerTypes.find((t) => t.name === code);
    if (inner) return inner;
    s = s.parentType;
  }
  return registry[code];
}

function walkResource(resource: Record<string, unknown>, path: string, ctx: WalkContext): void {
  const type = resource.resourceType;
  const schema = typeof type === 'string' ? ctx.registry[type] : undefined;
  if (!schema) return; // medplum reports unknown types
  if (resource.id !== undefined && (typeof resource.id !== 'string' || !ID_PATTERN.test(resource.id))) {
    ctx.problems.push({ path: `${path}.id`, rule: 'R4_FORMAT', message: 'Resource.id must match [A-Za-z0-9-.]{1,64}' });
  }
  walkObject(resource, schema, path, ctx);
}

function walkValue(value: unknown, code: string, owner: InternalTypeSchema, path: string, ctx: WalkContext): void {
  if (Array.isArray(value)) {
    if (value.length === 0) ctx.problems.push({ path, rule: 'R4_EMPTY', message: 'empty array' });
    value.forEach((v, i) => {
      walkValue(v, code, owner, `${path}[${i}]`, ctx);
    });
    return;
  }
  if (typeof value === 'string') {
    if (value.trim() === '') ctx.problems.push({ path, rule: 'R4_EMPTY', message: 'empty string' });
    if (code === 'base64Binary' && SPACE.test(value)) {
      // R4's base64Binary allows whitespace between the groups (regex `(\s*([0-9a-zA-Z\+\=]){4}\s*)+`,
      // XML Schema's lexical form; the HL7 examples Binary, Media and DiagnosticReport.presentedForm
      // wrap their data in lines). @medplum/core refuses it: its format error is dropped for these paths.
      if (BASE64.test(value.replace(SPACES, ''))) (ctx.spacedBase64 ??= new Set()).add(path);
    }
    if (code === 'xhtml') {
      for (const issue of checkNarrative(value)) ctx.problems.push({ path, rule: issue.rule, message: issue.message });
    }
    if (value.charCodeAt(0) === 0x23 /* # */ && (code === 'canonical' || code === 'uri' || code === 'url')) (ctx.localUris ??= new Set()).add(value);
    return;
  }
  if (!isObject(value)) return;
  if (Object.keys(value).length === 0) {
    ctx.problems.push({ path, rule: 'R4_EMPTY', message: 'empty object' });
    return;
  }
  if (code === 'Resource' || (typeof value.resourceType === 'string' && ctx.registry[code]?.kind === 'resource')) {
    const wasContained = ctx.inContained;
    if (path.endsWith(']') && /\.contained\[\d+\]$/.test(path)) {
      ctx.inContained = true;
      if (typeof value.id === 'string') ctx.containedIds.add(value.id);
    }
    walkResource(value, path, ctx);
    ctx.inContained = wasContained;
    return;
  }
  if (code === 'Period') checkPeriod(value, path, ctx.problems);
  if (code === 'Reference' && value.reference !== undefined) {
    ctx.references.push({ path, holder: value, inContained: ctx.inContained });
  }
  if (PRIMITIVE_TYPES.has(code)) return; // `_x` extension objects of primitives are walked as Element
  const schema = typeSchema(owner, code, ctx.registry);
  if (schema) walkObject(value, schema, path, ctx);
}

function walkObject(object: Record<string, unknown>, schema: InternalTypeSchema, path: string, ctx: WalkContext): void {
  let choices: Set<InternalSchemaElement> | undefined;
  for (const key of Object.keys(object)) {
    const value = object[key];
    const childPath = `${path}.${key}`;
    if (key === 'resourceType') continue;
    if (!ELEMENT_NAME.test(key) || key in Object.prototype) {
      // The key itself is not echoed: a malformed file may carry data where names belong.
      ctx.problems.push({ path: `${path}.<invalid name>`, rule: 'R4_UNKNOWN_ELEMENT', message: 'not a FHIR element name' });
      continue;
    }
    if (key.startsWith('_')) {
      // Extensions of a primitive: an Element (or an array of Element|null).
      const elementSchema = ctx.registry.Element;
      if (Array.isArray(value)) {
        value.forEach((v, i) => {
          if (v !== null && elementSchema) walkValue(v, 'Element', elementSchema, `${childPath}[${i}]`, ctx);
        });
      } else if (elementSchema) {
        walkValue(value, 'Element', elementSchema, childPath, ctx);
      }
      continue;
    }
    const found = elementFor(schema, key);
    if (!found) continue; // medplum reports unknown elements with their exact path
    if (found.element.path.endsWith('[x]')) {
      // R4 JSON §2.6.2.3 (choice of data types): one type per element, so one key per `x[x]`.
      // @medplum/core validates each key it finds and never notices two (valueQuantity + valueString).
      choices ??= new Set();
      if (choices.has(found.element)) ctx.problems.push({ path: childPath, rule: 'R4_CARDINALITY', message: 'a choice element is given in more than one type' });
      choices.add(found.element);
    }
    walkValue(value, found.code, schema, childPath, ctx);
  }
}

// ---------------------------------------------------------------------------------------------
// Mapping medplum's OperationOutcome issues to stable rule codes.
// ---------------------------------------------------------------------------------------------
function ruleOf(code: string | undefined, text: string): string {
  if (code === 'invariant') return 'R4_INVARIANT';
  if (code === 'processing') return 'R4_INVARIANT';
  if (text.startsWith('Missing required property')) return 'R4_REQUIRED';
  if (text.startsWith('Invalid number of values') || text.startsWith('Expected array') || text.startsWith('Expected single') || text.startsWith('Incorrect number of values provided for slice')) return 'R4_CARDINALITY';
  if (text.startsWith('Invalid JSON type') || text.startsWith('Expected number') || text === 'Invalid numeric value') return 'R4_TYPE';
  if (text.startsWith('Invalid additional property')) return 'R4_UNKNOWN_ELEMENT';
  if (text.startsWith('Invalid empty') || text.startsWith('String must contain')) return 'R4_EMPTY';
  if (text.startsWith('Invalid null') || text.startsWith('Invalid undefined')) return 'R4_NULL';
  if (/^Invalid \w+ (format|value)$/.test(text) || text.startsWith('String cannot be larger') || text.startsWith('base64Binary exceeds')) return 'R4_FORMAT';
  if (text.startsWith('Value did not match')) return 'R4_FIXED_VALUE';
  return 'R4_STRUCTURE';
}

interface IssueLike {
  severity?: string;
  code?: string;
  details?: { text?: string };
  expression?: string[];
}

/**
 * The problem's path with every segment an element name (others are not echoed: they could be
 * data). A choice element the validator names `value[x]` is given its JSON name (`valueQuantity`,
 * R4 §2.24.0.1 "Choice of Data Types"), found by walking `resource` along the path.
 */
function sanitizePath(path: string, resource: unknown): string {
  let cursor: unknown = resource;
  return path
    .split('.')
    .map((raw, i) => {
      let segment = raw;
      const choice = /^([A-Za-z][A-Za-z0-9]*)\[x\](\[\d+\])?$/.exec(raw);
      if (choice && isObject(cursor)) {
        const name = Object.keys(cursor).find((k) => k.startsWith(choice[1]!) && /^[A-Z][A-Za-z]*$/.test(k.slice(choice[1]!.length)));
        if (name !== undefined) segment = name + (choice[2] ?? '');
      }
      const ok = /^[A-Za-z_][A-Za-z0-9_]*(\[\d+\])?$/.test(segment) && !(segment in Object.prototype);
      // Follow the resource (the first segment is its type).
      if (i > 0) {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$/.exec(segment);
        let next: unknown = m && isObject(cursor) && Object.hasOwn(cursor, m[1]!) ? cursor[m[1]!] : undefined;
        if (Array.isArray(next)) next = next[m?.[2] !== undefined ? Number(m[2]) : 0];
        cursor = next;
      }
      return ok ? segment : '<invalid name>';
    })
    .join('.');
}

function issuesToProblems(issues: readonly IssueLike[], resource: unknown): ResourceProblem[] {
  const out: ResourceProblem[] = [];
  for (const issue of issues) {
    if (issue.severity !== 'error' && issue.severity !== 'fatal') continue;
    const text = issue.details?.text ?? '';
    const rule = ruleOf(issue.code, text);
    // Processing errors quote FHIRPath engine messages, which might echo data: keep a fixed text.
    // Quoted parts (property names) and path segments that are not element names are not echoed.
    const message = issue.code === 'processing' ? 'an invariant could not be evaluated' : text.replace(/\s*"[^"]*"/g, '');
    let path = sanitizePath(issue.expression?.[0] ?? '', resource);
    // An element R4 does not define has a name the file chose, and a file may put data there
    // (`"Jane-Doe-HIV-positive": …`): the path stops at its parent.
    if (rule === 'R4_UNKNOWN_ELEMENT') path = path.replace(/\.[^.]*$/, '.<unknown element>');
    out.push({ path, rule, message });
  }
  return out;
}

function checkRequiredCodes(tokens: Record<string, TypedValueWithPath[]>, defs: LoadedDefinitions, problems: ResourceProblem[]): void {
  for (const [url, values] of Object.entries(tokens)) {
    const allowed = defs.requiredCodes.get(url);
    if (!allowed) continue; // not enumerable offline (filters, external code systems)
    for (const v of values) {
      if (v.type === 'code' && typeof v.value === 'string' && !allowed.has(v.value)) {
        problems.push({ path: v.path, rule: 'R4_CODE_INVALID', message: `code is not in the required value set ${url.split('|')[0] ?? url}` });
      }
    }
  }
}

/**
 * dom-3: a contained resource SHALL be referred to from elsewhere in the resource (a Reference, or a
 * canonical/uri/url, `#id`) or SHALL refer to the containing resource (`#`). @medplum/core does not
 * evaluate this invariant; R4 examples and Synthea's claims (`#referral`, `#coverage`) meet it.
 */
function checkContainedReferenced(resource: Record<string, unknown>, ctx: WalkContext): void {
  const referred = new Set<string>(ctx.localUris);
  let toContainer = ctx.localUris?.has('#') ?? false;
  for (const ref of ctx.references) {
    const r = ref.holder.reference;
    if (typeof r !== 'string' || r.charCodeAt(0) !== 0x23) continue;
    if (r === '#') toContainer = true;
    else referred.add(r);
  }
  if (toContainer) return; // which contained one refers back is not tracked: do not refuse on a guess
  const contained = resource.contained;
  if (!Array.isArray(contained)) return;
  contained.forEach((c, i) => {
    if (isObject(c) && typeof c.id === 'string' && !referred.has(`#${c.id}`)) {
      ctx.problems.push({ path: `${String(resource.resourceType)}.contained[${i}]`, rule: 'R4_INVARIANT', message: 'dom-3: a contained resource must be referenced from the resource that contains it' });
    }
  });
}

/**
 * Validates one resource with definitions already loaded (see {@link ensureDefinitions}). Pure
 * apart from reading the loaded definitions; never throws for bad data.
 */
export function validateLoaded(resource: unknown, defs: LoadedDefinitions): ResourceValidation {
  const result: ResourceValidation = { problems: [], references: [], containedIds: new Set() };
  if (!isObject(resource) || typeof resource.resourceType !== 'string') {
    result.problems.push({ path: '', rule: 'R4_NOT_A_RESOURCE', message: 'not a FHIR resource (no resourceType)' });
    return result;
  }
  const type = resource.resourceType;
  if (!defs.allResourceTypes.has(type)) {
    result.problems.push({ path: '', rule: 'R4_UNKNOWN_TYPE', message: 'resourceType is not a FHIR R4 resource type' });
    return result;
  }
  if (!isAcceptedResourceType(type)) {
    result.problems.push({ path: type, rule: 'UNSUPPORTED_TYPE', message: `${type} resources are not stored in a vault` });
    return result;
  }
  const ctx: WalkContext = { problems: result.problems, references: result.references, containedIds: result.containedIds, registry: getAllDataTypes(), inContained: false };
  walkResource(resource, type, ctx);
  if (result.containedIds.size > 0) checkContainedReferenced(resource, ctx);
  const tokens: Record<string, TypedValueWithPath[]> = {};
  try {
    // R4 sets no size limit on base64Binary (medplum's default is 1 MiB): attachments are bounded by
    // the import size limit instead, and the store splits them into chunks.
    medplumValidate(resource as unknown as Resource, { collect: { tokens }, base64BinaryMaxBytes: MAX_IMPORT_BYTES });
  } catch (e) {
    if (e instanceof OperationOutcomeError) {
      let problems = issuesToProblems(e.outcome.issue ?? [], resource);
      const spaced = ctx.spacedBase64;
      if (spaced) problems = problems.filter((p) => !(p.rule === 'R4_FORMAT' && spaced.has(p.path) && p.message.startsWith('Invalid base64Binary')));
      result.problems.push(...problems);
    } else {
      // A crash inside the validator is a refusal, never a pass.
      result.problems.push({ path: type, rule: 'R4_STRUCTURE', message: 'the resource could not be validated' });
    }
  }
  checkRequiredCodes(tokens, defs, result.problems);
  // The walk and medplum may both see the same broken element: report it once.
  const seen = new Set<string>();
  result.problems = result.problems.filter((p) => {
    const key = `${p.path}\u0000${p.rule}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return result;
}

/** The problems of one resource among many (index into the input list). */
export interface IndexedProblem extends ResourceProblem {
  index: number;
}

/**
 * The validator alone, over many resources: loads the definitions if needed, then runs
 * {@link validateLoaded} on each. This is the baseline of the `import_10k` benchmark: parsing,
 * reference resolution, scope assignment and storage come on top of it.
 */
export async function validateResources(resources: readonly unknown[]): Promise<IndexedProblem[]> {
  const defs = await ensureDefinitions();
  const out: IndexedProblem[] = [];
  resources.forEach((resource, index) => {
    for (const p of validateLoaded(resource, defs).problems) out.push({ ...p, index });
  });
  return out;
}
