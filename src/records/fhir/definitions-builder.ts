/**
 * The pure part of the definitions build (build-definitions.ts, run by scripts/build-fhir-definitions.sh): raw definition bundles in, the text of
 * r4-definitions.json out (deterministic, so a test can compare it with the committed file).
 */
import { parseStructureDefinition } from './medplum.js';
import type { InternalSchemaElement, InternalTypeSchema } from './medplum.js';
import type { Bundle, CodeSystem, CodeSystemConcept, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import { ACCEPTED_RESOURCE_TYPES } from '../scopes.js';
import { DEFINITIONS_FORMAT, type StoredDefinitions, type StoredElement, type StoredSchema } from './definitions-format.js';

export interface BuildInput {
  types: unknown;
  resources: unknown;
  valueSets: unknown;
  v3CodeSystems: unknown;
  medplumVersion: string;
}

/** Types every resource reaches through Resource/DomainResource, plus the abstract bases. */
const ALWAYS = ['Resource', 'DomainResource', 'Element', 'BackboneElement', 'Extension', 'Narrative', 'Meta'];

/**
 * Resource types the vault does not store on their own but that real records carry as contained
 * resources, so they must validate there: Substance (Medication.ingredient.itemReference,
 * Specimen.container.additive; R4 medicationexample0310…, specimen-example), CommunicationRequest
 * (Communication.basedOn; communication-example-fm-solicited-attachment) and Group
 * (e.g. a ServiceRequest or CarePlan subject). Any other type is still refused when contained.
 */
export const CONTAINED_ONLY_TYPES = ['Substance', 'CommunicationRequest', 'Group'] as const;

/** Profiles that @medplum/core indexes as base types (types.ts TYPE_SPECIAL_CASES). */
const SPECIAL_TYPES: Record<string, string> = {
  'http://hl7.org/fhir/StructureDefinition/MoneyQuantity': 'MoneyQuantity',
  'http://hl7.org/fhir/StructureDefinition/SimpleQuantity': 'SimpleQuantity',
};

function resourcesOf<T>(bundle: unknown, resourceType: string): T[] {
  const entries = (bundle as Bundle).entry ?? [];
  return entries.map((e) => e.resource).filter((r): r is NonNullable<typeof r> => r?.resourceType === resourceType) as T[];
}

function baseName(sd: StructureDefinition): string | undefined {
  if (SPECIAL_TYPES[sd.url]) return SPECIAL_TYPES[sd.url];
  if (sd.url === `http://hl7.org/fhir/StructureDefinition/${sd.type}`) return sd.type;
  return undefined;
}

function storeMax(max: number): number {
  return Number.isFinite(max) ? max : -1;
}

function storeElement(element: InternalSchemaElement): StoredElement {
  const out: StoredElement = { path: element.path, min: element.min, max: storeMax(element.max), type: element.type.map((t) => {
    const type: { code: string; targetProfile?: string[]; profile?: string[] } = { code: t.code };
    if (t.targetProfile?.length) type.targetProfile = t.targetProfile;
    if (t.profile?.length) type.profile = t.profile;
    return type;
  }) };
  if (element.isArray) out.isArray = true;
  if (element.constraints?.length) out.constraints = element.constraints.map((c) => ({ key: c.key, severity: c.severity, expression: c.expression, description: c.description }));
  if (element.fixed) out.fixed = element.fixed;
  if (element.pattern) out.pattern = element.pattern;
  if (element.binding?.strength === 'required' && element.binding.valueSet) {
    out.binding = { strength: 'required', valueSet: element.binding.valueSet };
  }
  if (element.slicing) {
    out.slicing = {
      ...element.slicing,
      slices: element.slicing.slices.map((slice) => ({
        ...(storeElement(slice) as unknown as InternalSchemaElement),
        name: slice.name,
        max: storeMax(slice.max),
        elements: Object.fromEntries(Object.entries(slice.elements).map(([k, v]) => [k, storeElement(v) as unknown as InternalSchemaElement])),
      })),
    };
  }
  return out;
}

function storeSchema(schema: InternalTypeSchema, name = schema.name): StoredSchema {
  const out: StoredSchema = {
    name,
    type: schema.type,
    path: schema.path,
    elements: Object.fromEntries(Object.entries(schema.elements).map(([k, v]) => [k, storeElement(v)])),
  };
  if (schema.url) out.url = schema.url;
  if (schema.kind) out.kind = schema.kind;
  if (schema.constraints?.length) out.constraints = schema.constraints.map((c) => ({ key: c.key, severity: c.severity, expression: c.expression, description: c.description }));
  if (schema.innerTypes.length) out.innerTypes = schema.innerTypes.map((inner) => storeSchema(inner));
  return out;
}

function typeCodesOf(schema: InternalTypeSchema): string[] {
  const codes: string[] = [];
  const visit = (elements: Record<string, InternalSchemaElement>): void => {
    for (const element of Object.values(elements)) {
      for (const t of element.type) codes.push(t.code);
      for (const slice of element.slicing?.slices ?? []) {
        for (const t of slice.type) codes.push(t.code);
        visit(slice.elements);
      }
    }
  };
  visit(schema.elements);
  for (const inner of schema.innerTypes) codes.push(...typeCodesOf(inner));
  return codes;
}

function bindingsOf(schema: StoredSchema, out: Set<string>): void {
  for (const element of Object.values(schema.elements)) {
    if (element.binding?.valueSet && element.type.some((t) => t.code === 'code')) out.add(element.binding.valueSet);
  }
  for (const inner of schema.innerTypes ?? []) bindingsOf(inner, out);
}

/** All codes of a CodeSystem, nested concepts included; undefined if it is not complete. */
function allCodes(cs: CodeSystem): string[] | undefined {
  if (cs.content !== 'complete') return undefined;
  const codes: string[] = [];
  const visit = (concepts: CodeSystemConcept[] | undefined): void => {
    for (const c of concepts ?? []) {
      codes.push(c.code);
      visit(c.concept);
    }
  };
  visit(cs.concept);
  return codes;
}

/** The codes of a value set, or undefined where they cannot be enumerated offline (filters, external systems). */
function resolveValueSet(url: string, valueSets: Map<string, ValueSet>, codeSystems: Map<string, CodeSystem>, depth = 0): string[] | undefined {
  if (depth > 8) return undefined;
  const vs = valueSets.get(url.split('|')[0]!);
  const compose = vs?.compose;
  if (!compose?.include.length) return undefined;
  const codes = new Set<string>();
  for (const include of compose.include) {
    if (include.filter?.length) return undefined;
    if (include.concept?.length) {
      for (const c of include.concept) codes.add(c.code);
    } else if (include.system) {
      const cs = codeSystems.get(include.system);
      const all = cs ? allCodes(cs) : undefined;
      if (!all) return undefined;
      for (const c of all) codes.add(c);
    }
    for (const inner of include.valueSet ?? []) {
      const more = resolveValueSet(inner, valueSets, codeSystems, depth + 1);
      if (!more) return undefined;
      for (const c of more) codes.add(c);
    }
  }
  for (const exclude of compose.exclude ?? []) {
    if (exclude.filter?.length || exclude.valueSet?.length || !exclude.concept?.length) return undefined;
    for (const c of exclude.concept) codes.delete(c.code);
  }
  return codes.size > 0 ? [...codes].sort() : undefined;
}

/** Builds the text of r4-definitions.json. */
export function buildTrimmedDefinitions(input: BuildInput): string {
  const sds = [...resourcesOf<StructureDefinition>(input.types, 'StructureDefinition'), ...resourcesOf<StructureDefinition>(input.resources, 'StructureDefinition')];
  const parsed = new Map<string, InternalTypeSchema>();
  const allResourceTypes: string[] = [];
  for (const sd of sds) {
    const name = baseName(sd);
    if (!name || !sd.snapshot?.element?.length) continue;
    if (sd.kind === 'resource' && name === sd.type && !sd.abstract) allResourceTypes.push(name);
    parsed.set(name, parseStructureDefinition(sd));
  }
  const wanted = new Set<string>([...ALWAYS, ...ACCEPTED_RESOURCE_TYPES, ...CONTAINED_ONLY_TYPES]);
  // Every primitive type, so that primitive extensions (`_birthDate`) validate.
  for (const [name, schema] of parsed) if (schema.kind === 'primitive-type') wanted.add(name);
  const queue = [...wanted];
  while (queue.length > 0) {
    const name = queue.pop()!;
    const schema = parsed.get(name);
    if (!schema) throw new Error(`no StructureDefinition for type ${name}`);
    for (const code of typeCodesOf(schema)) {
      if (!wanted.has(code) && parsed.has(code)) {
        wanted.add(code);
        queue.push(code);
      }
    }
  }
  const types: Record<string, StoredSchema> = {};
  for (const name of [...wanted].sort()) {
    const schema = parsed.get(name);
    if (schema) types[name] = storeSchema(schema, name);
  }

  const valueSets = new Map<string, ValueSet>();
  const codeSystems = new Map<string, CodeSystem>();
  for (const bundle of [input.valueSets, input.v3CodeSystems]) {
    for (const vs of resourcesOf<ValueSet>(bundle, 'ValueSet')) if (vs.url) valueSets.set(vs.url, vs);
    for (const cs of resourcesOf<CodeSystem>(bundle, 'CodeSystem')) if (cs.url) codeSystems.set(cs.url, cs);
  }
  const bindings = new Set<string>();
  for (const schema of Object.values(types)) bindingsOf(schema, bindings);
  const requiredCodes: Record<string, string[]> = {};
  for (const url of [...bindings].sort()) {
    const codes = resolveValueSet(url, valueSets, codeSystems);
    if (codes) requiredCodes[url] = codes;
  }

  const out: StoredDefinitions = {
    format: DEFINITIONS_FORMAT,
    fhirVersion: '4.0.1',
    medplumVersion: input.medplumVersion,
    allResourceTypes: allResourceTypes.sort(),
    types,
    requiredCodes,
  };
  return JSON.stringify(out);
}
