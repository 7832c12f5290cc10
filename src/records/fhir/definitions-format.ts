/**
 * The format of the pre-indexed FHIR R4 definitions file (generated/r4-definitions.json), written by
 * scripts/build-fhir-definitions.ts and read by definitions.ts. It holds @medplum/core's own
 * parsed schema objects (InternalTypeSchema) with prose dropped, so that loading them needs no
 * StructureDefinition parsing.
 */
import type { InternalSchemaElement, InternalTypeSchema } from './medplum.js';

/** Bumped whenever the shape below changes; the loader refuses other versions. */
export const DEFINITIONS_FORMAT = 'patient-vault/fhir-r4-definitions@1';

/** An element as stored: `max` -1 stands for unbounded (JSON has no Infinity). */
export type StoredElement = Omit<InternalSchemaElement, 'max' | 'description'> & { max: number };

/** A type schema as stored: inner (backbone) types inline, no parent links, no prose. */
export interface StoredSchema {
  name: string;
  type: string;
  path: string;
  url?: string;
  kind?: string;
  constraints?: InternalTypeSchema['constraints'];
  elements: Record<string, StoredElement>;
  innerTypes?: StoredSchema[];
}

/** The whole file. */
export interface StoredDefinitions {
  format: typeof DEFINITIONS_FORMAT;
  fhirVersion: string;
  /** The @medplum/core version whose parser produced `types`; the loader checks it matches. */
  medplumVersion: string;
  /** Every R4 resource type name (to tell an unknown type from one the vault does not accept). */
  allResourceTypes: string[];
  /** The types loaded for validation, by name. */
  types: Record<string, StoredSchema>;
  /** Required bindings of `code` elements, resolved: value set URL (as in the binding) → codes. */
  requiredCodes: Record<string, string[]>;
}

function inflateElement(stored: StoredElement): InternalSchemaElement {
  return {
    ...stored,
    description: '',
    max: stored.max < 0 ? Number.POSITIVE_INFINITY : stored.max,
    constraints: stored.constraints ?? [],
  };
}

function inflateElements(elements: Record<string, StoredElement>): Record<string, InternalSchemaElement> {
  const out: Record<string, InternalSchemaElement> = Object.create(null) as Record<string, InternalSchemaElement>;
  for (const [key, element] of Object.entries(elements)) {
    const inflated = inflateElement(element);
    if (inflated.slicing) {
      inflated.slicing = {
        ...inflated.slicing,
        slices: inflated.slicing.slices.map((slice) => ({
          ...slice,
          max: slice.max < 0 ? Number.POSITIVE_INFINITY : slice.max,
          elements: inflateElements(slice.elements as unknown as Record<string, StoredElement>),
        })),
      };
    }
    out[key] = inflated;
  }
  return out;
}

/** Turns a stored schema back into the object @medplum/core's validator walks. */
export function inflateSchema(stored: StoredSchema, parent?: InternalTypeSchema): InternalTypeSchema {
  const schema: InternalTypeSchema = {
    name: stored.name,
    type: stored.type,
    path: stored.path,
    elements: inflateElements(stored.elements),
    constraints: stored.constraints ?? [],
    innerTypes: [],
    summaryProperties: new Set(),
    mandatoryProperties: new Set(),
  };
  if (stored.url !== undefined) schema.url = stored.url;
  if (stored.kind !== undefined) schema.kind = stored.kind;
  if (parent) schema.parentType = parent;
  schema.innerTypes = (stored.innerTypes ?? []).map((inner) => inflateSchema(inner, schema));
  return schema;
}
