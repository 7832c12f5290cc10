/**
 * Loads the FHIR R4 definitions that validation needs, once, lazily, and caches them.
 *
 * The source is the pre-indexed file generated/r4-definitions.json (scripts/build-fhir-
 * definitions.ts): ~0.9 MB instead of the 35 MB raw StructureDefinitions. In Node it is read from
 * disk next to this module; in the extension the bundler turns `new URL(…, import.meta.url)` into
 * an asset URL that is fetched. A host may also inject its own loader ({@link setDefinitionsLoader}).
 */
import './websocket-constants.js';
import type * as NodeFs from 'node:fs/promises';
import type * as NodeUrl from 'node:url';
import { RecordsError } from '../errors.js';
import { DEFINITIONS_FORMAT, inflateSchema, type StoredDefinitions } from './definitions-format.js';
import { MEDPLUM_VERSION, getAllDataTypes } from './medplum.js';

/** Returns the parsed content of r4-definitions.json. */
export type DefinitionsLoader = () => Promise<unknown>;

/** The loaded definitions that validation reads beyond @medplum/core's registry. */
export interface LoadedDefinitions {
  allResourceTypes: ReadonlySet<string>;
  requiredCodes: ReadonlyMap<string, ReadonlySet<string>>;
  /** Milliseconds spent loading and registering (for the report and benchmarks). */
  loadMs: number;
}

const DEFINITIONS_URL = new URL('./generated/r4-definitions.json', import.meta.url);

async function defaultLoader(): Promise<unknown> {
  if (DEFINITIONS_URL.protocol === 'file:') {
    // Node (CLI, tests): read from disk. The specifier is a variable so bundlers leave it alone.
    const fsModule = 'node:fs/promises';
    const fs = (await import(/* @vite-ignore */ fsModule)) as typeof NodeFs;
    const urlModule = 'node:url';
    const { fileURLToPath } = (await import(/* @vite-ignore */ urlModule)) as typeof NodeUrl;
    return JSON.parse(await fs.readFile(fileURLToPath(DEFINITIONS_URL), 'utf8')) as unknown;
  }
  const response = await fetch(DEFINITIONS_URL);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return (await response.json()) as unknown;
}

let loader: DefinitionsLoader = defaultLoader;
let loading: Promise<LoadedDefinitions> | undefined;

/**
 * Replaces where the definitions come from (before the first validation). For hosts whose bundler
 * does not handle `new URL(…, import.meta.url)` assets.
 */
export function setDefinitionsLoader(next: DefinitionsLoader): void {
  loader = next;
  loading = undefined;
}

function isStoredDefinitions(value: unknown): value is StoredDefinitions {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<StoredDefinitions>;
  return v.format === DEFINITIONS_FORMAT && typeof v.types === 'object' && Array.isArray(v.allResourceTypes) && typeof v.requiredCodes === 'object';
}

/** Registers stored schemas in @medplum/core's type registry (what its loadDataType does after parsing). */
function register(defs: StoredDefinitions): void {
  const registry = getAllDataTypes();
  for (const [name, stored] of Object.entries(defs.types)) {
    const schema = inflateSchema(stored);
    registry[name] = schema;
    for (const inner of schema.innerTypes) registry[inner.name] = inner;
  }
}

async function load(): Promise<LoadedDefinitions> {
  const started = performance.now();
  let raw: unknown;
  try {
    raw = await loader();
  } catch (e) {
    throw new RecordsError('DEFINITIONS_UNAVAILABLE', 'The FHIR R4 definitions file could not be loaded', { cause: e });
  }
  if (!isStoredDefinitions(raw)) {
    throw new RecordsError('DEFINITIONS_UNAVAILABLE', `The FHIR R4 definitions file is not in format ${DEFINITIONS_FORMAT}: rebuild it with scripts/build-fhir-definitions.ts`);
  }
  // The schemas are @medplum/core's internal objects: another version may read them differently.
  if (MEDPLUM_VERSION !== raw.medplumVersion && !MEDPLUM_VERSION.startsWith(`${raw.medplumVersion}-`)) {
    throw new RecordsError('DEFINITIONS_UNAVAILABLE', 'The FHIR R4 definitions file was built for another @medplum/core version: rebuild it with scripts/build-fhir-definitions.ts');
  }
  register(raw);
  return {
    allResourceTypes: new Set(raw.allResourceTypes),
    requiredCodes: new Map(Object.entries(raw.requiredCodes).map(([url, codes]) => [url, new Set(codes)])),
    loadMs: performance.now() - started,
  };
}

/** The definitions, loaded on first call and cached; concurrent callers share one load. */
export function ensureDefinitions(): Promise<LoadedDefinitions> {
  if (!loading) {
    loading = load();
    // A failed load is not cached: the next call tries again.
    loading.catch(() => {
      loading = undefined;
    });
  }
  return loading;
}
