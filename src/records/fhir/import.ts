/**
 * parseImport: input bytes or text in, validated and scoped FHIR R4 resources with provenance out.
 *
 * Accepted inputs (detected, not declared):
 * - FHIR JSON: a single resource, or a Bundle (collection, document, transaction, batch, searchset);
 * - a `.smart-health-card` file: `{"verifiableCredential": ["<JWS>", …]}`;
 * - one or more raw JWS (one per line);
 * - `shc:/` QR text, one QR per line or whitespace-separated, chunked `shc:/C/N/…` in any order;
 * - a PNG or JPEG image holding one QR code.
 *
 * All-or-nothing by default: any problem throws a {@link RecordsError} (`INVALID_RESOURCE` with
 * `.problems` naming each entry and rule, or the code of a whole-input failure such as
 * `MALFORMED_JSON`, `TOO_DEEP`, `FILE_TOO_LARGE`, `SHC_BAD_SIGNATURE`). With `partial`, the valid
 * part is returned and `problems` lists the rest; a resource that references an entry left out is
 * left out too (`REFERENCES_INVALID_ENTRY`), so what is returned is always self-consistent.
 */
import type { Resource } from '@medplum/fhirtypes';
import { RecordsError, type ImportProblem } from '../errors.js';
import { fhirJsonProvenance, shcProvenance, type Provenance } from '../provenance.js';
import { assignScope, type ScopeName } from '../scopes.js';
import { MAX_CARDS_PER_FILE, assembleQrLines, decodeQrImageAsync, imageKind, looksLikeJws, parseJws, verifyCard, type FetchJwks, type TrustedIssuers } from '../shc/index.js';
import { entriesOfBundle, type RawEntry } from './bundle.js';
import { ensureDefinitions } from './definitions.js';
import { canonicalJson, contentSourceKey, declaredSourceKey, vaultIdFor } from './identity.js';
import { MAX_IMPORT_BYTES, decodeUtf8, parseJsonSafely } from './json.js';
import { ReferenceIndex, referenceProblem, type ResolveReferenceHook, type Resolution } from './references.js';
import { validateLoaded, type ResourceValidation } from './validate.js';

export type { ImportProblem } from '../errors.js';
export type { Provenance } from '../provenance.js';

/** Most resources one import may hold. */
export const MAX_RESOURCES_PER_IMPORT = 50_000;
/** How long validation runs before yielding to the event loop (so a page stays responsive). */
const SLICE_MS = 50;

/** One resource ready for the store. */
export interface ImportedResource {
  /** The resource, its `id` set to the vault id and its references rewritten to vault ids. */
  resource: Resource;
  scope: ScopeName;
  provenance: Provenance;
  /** Stable dedup key: fullUrl or identifier system|value, else content hash (see identity.ts). */
  sourceKey: string;
  /** Other names of the resource at its source (`id:Type/id`, the id it had in its file). */
  aliases?: string[];
  /** The scope table row that decided (scopes.ts), for "why is this here". */
  scopeRule: string;
  /** Labelled confidentiality R or V by its producer: hold back even within its scope. */
  restricted: boolean;
}

/** The verification status of one health card in the input. */
export interface CardReport {
  /** The card's `iss` ('' if the card could not be read at all). */
  issuer: string;
  verified: boolean;
  /** Why the card is not verified, or why it was refused (partial mode). */
  reason?: string;
  /** Resources the card holds (0 if refused); identical ones across cards are imported once. */
  resourceCount: number;
}

/** What an import produced. */
export interface ParsedImport {
  resources: ImportedResource[];
  problems: ImportProblem[];
  cards: CardReport[];
}

/** Options of {@link parseImport}. */
export interface ParseImportOptions {
  /** Recorded in provenance (its base name only). */
  fileName?: string;
  /** Issuers whose keys are trusted for health cards. */
  trust?: TrustedIssuers;
  /** The clock: card validity is judged against it, and provenance records it. */
  now: Date;
  /** Return the valid part and the problems instead of throwing. @default false */
  partial?: boolean;
  /** Fetches `iss + /.well-known/jwks.json` for issuers not in `trust` (see httpFetchJwks). */
  fetchJwks?: FetchJwks;
  /** Import health cards whose issuer cannot be checked, as `verified: false`. @default false */
  allowUnverified?: boolean;
  /** Resolves references to resources outside the input (e.g. already in the vault). */
  resolveReference?: ResolveReferenceHook;
  /** Called as validation advances (`done` of `total` resources), at least at the start and end. */
  onProgress?: (done: number, total: number) => void;
}

type FhirResource = Record<string, unknown> & { resourceType: string };

/** One resource being imported. */
interface Entry extends RawEntry {
  unit: number;
  provenance: Provenance;
  validation?: ResourceValidation;
  problems: ImportProblem[];
  sourceKey?: string;
  vaultId?: string;
  resolutions: Resolution[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------
// Input detection
// ---------------------------------------------------------------------------------------------
type Detected = { kind: 'json'; value: unknown } | { kind: 'jws'; list: string[] } | { kind: 'qr'; lines: string[] };

function detectText(text: string): Detected {
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return { kind: 'json', value: parseJsonSafely(trimmed) };
  const tokens = trimmed.split(/\s+/).filter((t) => t !== '');
  if (tokens.length > 0 && tokens.every((t) => /^shc:\//i.test(t))) return { kind: 'qr', lines: tokens };
  if (tokens.length > 0 && tokens.every((t) => looksLikeJws(t))) return { kind: 'jws', list: tokens };
  throw new RecordsError('UNKNOWN_FORMAT', 'The input is not FHIR JSON, a SMART Health Card, shc:/ QR text or a QR image');
}

async function detect(input: Uint8Array | string): Promise<Detected> {
  if (typeof input === 'string') {
    if (input.length > MAX_IMPORT_BYTES) throw new RecordsError('FILE_TOO_LARGE', `The input is larger than ${MAX_IMPORT_BYTES / 1024 / 1024} MiB`);
    return detectText(input);
  }
  if (!(input instanceof Uint8Array)) throw new RecordsError('INVALID_INPUT', '"input" expected Uint8Array or string');
  if (input.length > MAX_IMPORT_BYTES) throw new RecordsError('FILE_TOO_LARGE', `The input is larger than ${MAX_IMPORT_BYTES / 1024 / 1024} MiB`);
  if (imageKind(input)) return detectText(await decodeQrImageAsync(input));
  return detectText(decodeUtf8(input));
}

// ---------------------------------------------------------------------------------------------
// Gathering entries: from FHIR JSON, or from each verified card.
// ---------------------------------------------------------------------------------------------
interface Gathered {
  entries: Entry[];
  problems: ImportProblem[];
  cards: CardReport[];
  /** Set when the input as a whole must be refused (bundle type, first card error…). */
  fatal?: RecordsError;
}

function addUnitEntries(g: Gathered, unit: number, value: FhirResource, prefix: string, provenance: Provenance): void {
  if (value.resourceType === 'Bundle') {
    const { entries, problems, fatal } = entriesOfBundle(value, prefix);
    if (fatal) {
      g.problems.push(fatal);
      g.fatal ??= new RecordsError('INVALID_RESOURCE', `${fatal.entry}: ${fatal.message}`, { problems: [fatal] });
      return;
    }
    g.problems.push(...problems);
    for (const e of entries) g.entries.push({ ...e, unit, provenance, problems: [], resolutions: [] });
  } else {
    g.entries.push({ label: prefix || 'resource', resource: value, unit, provenance, problems: [], resolutions: [] });
  }
}

async function gatherCards(jwsList: readonly string[], options: ParseImportOptions, g: Gathered): Promise<void> {
  if (jwsList.length > MAX_CARDS_PER_FILE) throw new RecordsError('SHC_TOO_LARGE', `At most ${MAX_CARDS_PER_FILE} cards are read from one input`);
  for (const [i, jws] of jwsList.entries()) {
    const label = `card ${i + 1}`;
    try {
      if (typeof jws !== 'string') throw new RecordsError('SHC_MALFORMED', 'verifiableCredential entries must be JWS strings');
      const card = await verifyCard(jws, {
        now: options.now,
        ...(options.trust ? { trust: options.trust } : {}),
        ...(options.fetchJwks ? { fetchJwks: options.fetchJwks } : {}),
        ...(options.allowUnverified ? { allowUnverified: true } : {}),
      });
      const before = g.entries.length;
      const bundleType = card.bundle.type;
      if (bundleType !== 'collection') {
        const problem = { entry: label, rule: 'SHC_BAD_PAYLOAD', message: 'A card fhirBundle must be of type collection' };
        g.problems.push(problem);
        g.fatal ??= new RecordsError('SHC_BAD_PAYLOAD', problem.message, { problems: [problem] });
        g.cards.push({ issuer: card.issuer, verified: false, reason: problem.message, resourceCount: 0 });
        continue;
      }
      addUnitEntries(g, i, card.bundle as FhirResource, label, shcProvenance(options.now, card.issuer, card.verified, options.fileName));
      const report: CardReport = { issuer: card.issuer, verified: card.verified, resourceCount: g.entries.length - before };
      if (card.reason !== undefined) report.reason = card.reason;
      g.cards.push(report);
    } catch (e) {
      if (!(e instanceof RecordsError)) throw e;
      const problem = { entry: label, rule: e.code, message: e.message };
      g.problems.push(problem);
      g.fatal ??= new RecordsError(e.code, jwsList.length > 1 ? `${label}: ${e.message}` : e.message, { problems: [problem] });
      g.cards.push({ issuer: issuerHint(jws), verified: false, reason: e.message, resourceCount: 0 });
    }
  }
}

/** The issuer a refused card claims, for its report ('' when the card cannot be read at all). */
function issuerHint(jws: unknown): string {
  if (typeof jws !== 'string') return '';
  try {
    const iss = parseJws(jws).payload.iss;
    return typeof iss === 'string' ? iss : '';
  } catch {
    return '';
  }
}

async function gather(detected: Detected, options: ParseImportOptions): Promise<Gathered> {
  const g: Gathered = { entries: [], problems: [], cards: [] };
  if (detected.kind === 'json') {
    const value = detected.value;
    if (isObject(value) && Array.isArray(value.verifiableCredential)) {
      // A health-card file without a card is bad input, not an empty success (SHC spec: the array holds the card JWSs).
      if (value.verifiableCredential.length === 0) throw new RecordsError('SHC_MALFORMED', 'The health-card file holds no card (verifiableCredential is empty)');
      await gatherCards(value.verifiableCredential as string[], options, g);
    } else if (isObject(value) && value.verifiableCredential !== undefined) {
      throw new RecordsError('SHC_MALFORMED', 'verifiableCredential must be an array of JWS strings');
    } else if (isObject(value) && typeof value.resourceType === 'string') {
      addUnitEntries(g, 0, value as FhirResource, '', fhirJsonProvenance(options.now, options.fileName));
    } else if (isObject(value) && 'resourceType' in value) {
      const problem = { entry: 'resource', rule: 'R4_NOT_A_RESOURCE', message: 'resourceType must be a string' };
      g.problems.push(problem);
      g.fatal = new RecordsError('INVALID_RESOURCE', problem.message, { problems: [problem] });
    } else {
      throw new RecordsError('UNKNOWN_FORMAT', 'The JSON is neither a FHIR resource nor a SMART Health Card file');
    }
  } else if (detected.kind === 'jws') {
    await gatherCards(detected.list, options, g);
  } else {
    await gatherCards(assembleQrLines(detected.lines), options, g);
  }
  return g;
}

// ---------------------------------------------------------------------------------------------
// Validation (time-sliced, with progress)
// ---------------------------------------------------------------------------------------------
/**
 * Lets the event loop run (a page repaints, a progress bar moves) without the 1–4 ms minimum delay
 * of setTimeout: setImmediate in Node, a MessageChannel round trip in browsers.
 */
function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (cb: () => void) => unknown }).setImmediate;
  if (immediate) return new Promise((resolve) => void immediate(resolve));
  if (typeof MessageChannel !== 'undefined') {
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}
async function validateAll(entries: Entry[], options: ParseImportOptions): Promise<void> {
  const defs = await ensureDefinitions();
  const total = entries.length;
  options.onProgress?.(0, total);
  let sliceStart = performance.now();
  for (let i = 0; i < total; i++) {
    const entry = entries[i]!;
    entry.validation = validateLoaded(entry.resource, defs);
    for (const p of entry.validation.problems) entry.problems.push({ entry: entry.label, rule: p.rule, message: p.path ? `${p.path}: ${p.message}` : p.message });
    if (performance.now() - sliceStart > SLICE_MS) {
      options.onProgress?.(i + 1, total);
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
  }
  options.onProgress?.(total, total);
}

// ---------------------------------------------------------------------------------------------
// References, keys, ids
// ---------------------------------------------------------------------------------------------
function identifiersOf(resource: Record<string, unknown>): { system?: string; value?: string }[] {
  if (!Array.isArray(resource.identifier)) return [];
  return resource.identifier.filter(isObject).map((i) => {
    const out: { system?: string; value?: string } = {};
    if (typeof i.system === 'string') out.system = i.system;
    if (typeof i.value === 'string') out.value = i.value;
    return out;
  });
}

function resolveUnit(unitEntries: Entry[], options: ParseImportOptions): void {
  const resolvable = unitEntries.map((e) => {
    const r = e.resource as FhirResource;
    const item: { fullUrl?: string; resourceType: string; id?: string; identifiers: { system?: string; value?: string }[]; containedIds: ReadonlySet<string> } = {
      resourceType: typeof r.resourceType === 'string' ? r.resourceType : '',
      identifiers: identifiersOf(r),
      containedIds: e.validation?.containedIds ?? new Set(),
    };
    if (e.fullUrl !== undefined) item.fullUrl = e.fullUrl;
    if (typeof r.id === 'string') item.id = r.id;
    return item;
  });
  const index = new ReferenceIndex(resolvable);
  unitEntries.forEach((entry, i) => {
    for (const ref of entry.validation?.references ?? []) {
      const resolution = index.resolve(ref.holder.reference, i, options.resolveReference);
      entry.resolutions.push(resolution);
      const problem = referenceProblem(entry.label, ref, resolution);
      if (problem) entry.problems.push(problem);
    }
  });
  // Keys: declared ones first, then content keys (which name local targets by type only).
  for (const entry of unitEntries) {
    if (entry.problems.length > 0 && !entry.validation) continue;
    const key = declaredSourceKey(entry.resource as FhirResource, entry.fullUrl);
    if (key !== undefined) entry.sourceKey = key;
  }
  for (const entry of unitEntries) {
    if (entry.sourceKey !== undefined) continue;
    const local = new Map<object, string>();
    (entry.validation?.references ?? []).forEach((ref, k) => {
      const res = entry.resolutions[k];
      if (res?.kind === 'entry') local.set(ref.holder, (unitEntries[res.target]!.resource as FhirResource).resourceType);
    });
    entry.sourceKey = contentSourceKey(entry.resource as FhirResource, local);
  }
  for (const entry of unitEntries) entry.vaultId = vaultIdFor(entry.sourceKey!);
}

/** `meta.versionId` of a resource, if it has one. */
function versionIdOf(resource: unknown): string | undefined {
  const meta = (resource as { meta?: unknown }).meta;
  const v = typeof meta === 'object' && meta !== null ? (meta as { versionId?: unknown }).versionId : undefined;
  return typeof v === 'string' ? v : undefined;
}

/** Leaves out entries that reference an entry that is itself left out, until nothing changes. */
function cascadeExclusions(units: Map<number, Entry[]>): void {
  let changed = true;
  while (changed) {
    changed = false;
    for (const unitEntries of units.values()) {
      for (const entry of unitEntries) {
        if (entry.problems.length > 0) continue;
        const bad = entry.resolutions.some((r) => r.kind === 'entry' && unitEntries[r.target]!.problems.length > 0);
        if (bad) {
          entry.problems.push({ entry: entry.label, rule: 'REFERENCES_INVALID_ENTRY', message: 'it references an entry that was not imported' });
          changed = true;
        }
      }
    }
  }
}

/** Codings of the resources a resource takes its meaning from (its Medication). */
function relatedCodings(entry: Entry, unitEntries: Entry[]): unknown[] {
  const out: unknown[] = [];
  (entry.validation?.references ?? []).forEach((ref, k) => {
    const res = entry.resolutions[k];
    if (res?.kind !== 'entry' || !ref.path.endsWith('.medicationReference')) return;
    const target = unitEntries[res.target]!.resource as FhirResource;
    if (target.resourceType === 'Medication') out.push(target.code, target.ingredient);
  });
  return out;
}

function finish(entry: Entry, unitEntries: Entry[]): ImportedResource {
  const resource = entry.resource as FhirResource;
  const related = relatedCodings(entry, unitEntries);
  (entry.validation?.references ?? []).forEach((ref, k) => {
    const res = entry.resolutions[k]!;
    if (res.kind === 'entry') {
      const target = unitEntries[res.target]!;
      ref.holder.reference = `${(target.resource as FhirResource).resourceType}/${target.vaultId!}`;
    } else if ((res.kind === 'external' || res.kind === 'hook') && res.rewriteTo !== undefined) {
      ref.holder.reference = res.rewriteTo;
    }
  });
  // The file's own `Type/id`, so a later import's relative reference to it resolves (see aliases).
  const originalId = typeof resource.id === 'string' && resource.id !== entry.vaultId ? `id:${resource.resourceType}/${resource.id}` : undefined;
  resource.id = entry.vaultId!;
  const decision = assignScope(resource, related);
  return {
    resource: resource as unknown as Resource,
    scope: decision.scope,
    provenance: entry.provenance,
    sourceKey: entry.sourceKey!,
    ...(originalId ? { aliases: [originalId] } : {}),
    scopeRule: decision.rule,
    restricted: decision.restricted,
  };
}

/**
 * Parses, validates, resolves and scopes everything in `input`. See the module comment for the
 * formats and the all-or-nothing rule.
 */
export async function parseImport(input: Uint8Array | string, options: ParseImportOptions): Promise<ParsedImport> {
  if (!(options.now instanceof Date) || Number.isNaN(options.now.getTime())) throw new RecordsError('INVALID_INPUT', '"now" expected a valid Date');
  const detected = await detect(input);
  const g = await gather(detected, options);
  if (g.fatal && !options.partial) throw g.fatal;
  if (g.entries.length > MAX_RESOURCES_PER_IMPORT) {
    throw new RecordsError('TOO_MANY_RESOURCES', `The input holds ${g.entries.length} resources; at most ${MAX_RESOURCES_PER_IMPORT} are imported at once`);
  }
  await validateAll(g.entries, options);
  const units = new Map<number, Entry[]>();
  for (const e of g.entries) {
    const list = units.get(e.unit);
    if (list) list.push(e);
    else units.set(e.unit, [e]);
  }
  for (const unitEntries of units.values()) resolveUnit(unitEntries, options);

  // The same record twice (same key): identical content is imported once; two versions of it
  // (different meta.versionId, which R4's bdl-7 allows under one fullUrl) are both imported, the
  // store keeping one as current and the other in its history; different content under one key
  // otherwise is a conflict the file itself carries.
  const byKey = new Map<string, Entry[]>();
  const duplicates = new Set<Entry>();
  for (const entry of g.entries) {
    if (entry.sourceKey === undefined) continue;
    const earlier = byKey.get(entry.sourceKey);
    if (!earlier) {
      byKey.set(entry.sourceKey, [entry]);
      continue;
    }
    const strip = (r: unknown): string => {
      const { id: _id, meta: _meta, ...rest } = r as Record<string, unknown>;
      return canonicalJson(rest);
    };
    const version = versionIdOf(entry.resource);
    if (earlier.some((e) => strip(e.resource) === strip(entry.resource))) duplicates.add(entry);
    else if (version !== undefined && earlier.every((e) => versionIdOf(e.resource) !== undefined && versionIdOf(e.resource) !== version)) earlier.push(entry);
    else entry.problems.push({ entry: entry.label, rule: 'DUPLICATE_ENTRY', message: 'another entry is the same record (same fullUrl or identifier) with different content' });
  }

  cascadeExclusions(units);
  const problems = [...g.problems];
  for (const e of g.entries) problems.push(...e.problems);
  if (problems.length > 0 && !options.partial) {
    throw new RecordsError('INVALID_RESOURCE', `${problems.length} problem${problems.length === 1 ? '' : 's'} in the input; first: ${problems[0]!.entry} ${problems[0]!.rule}`, { problems });
  }
  if (g.fatal && g.entries.length === 0 && g.cards.length === 0) throw g.fatal;
  const resources: ImportedResource[] = [];
  for (const unitEntries of units.values()) {
    for (const entry of unitEntries) {
      if (entry.problems.length === 0 && !duplicates.has(entry)) resources.push(finish(entry, unitEntries));
    }
  }
  return { resources, problems, cards: g.cards };
}
