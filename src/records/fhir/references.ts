/**
 * Reference resolution inside one import unit (a Bundle, a single resource, or one health card).
 * FHIR R4 §2.36.4 "Resolving references in Bundles": a reference resolves against the fullUrls of
 * the entries, relative references against the base of the referencing entry's fullUrl.
 *
 * Classes of reference, and what happens to each:
 * - local: `urn:uuid:`, `urn:oid:`, SHC `resource:N` — only meaningful inside the file. Resolved to
 *   an entry, or DANGLING_REFERENCE.
 * - contained: `#id` — must name a contained resource of the same resource, else DANGLING_REFERENCE.
 * - relative `Type/id[/_history/v]` and absolute `http(s)` URLs — resolved to an entry when one
 *   matches (by fullUrl, or by type and id); otherwise they point at the server the data came from
 *   and are EXTERNAL: kept (a relative one is made absolute when the entry's fullUrl gives a base).
 * - conditional `Type?identifier=system|value` — resolved to an entry with that identifier when
 *   one exists, else external and kept (a server-side search the vault cannot run).
 * - anything else is INVALID_REFERENCE.
 * The caller's `resolveReference` hook (e.g. the store, knowing what the vault already holds) is
 * asked before a reference is declared dangling or external.
 *
 * Resolved references are rewritten to `Type/<vault id>` of their target, so they stay resolvable
 * inside the vault and in any export of it.
 */
import type { ImportProblem } from '../errors.js';
import { isAbsoluteHttpUrl, withoutHistory } from './identity.js';
import type { FoundReference } from './validate.js';

/** What a reference resolved to. */
export type Resolution =
  | { kind: 'entry'; target: number }
  | { kind: 'contained' }
  | { kind: 'external'; rewriteTo?: string }
  | { kind: 'hook'; rewriteTo: string }
  | { kind: 'dangling' }
  | { kind: 'invalid' };

/** What the resolver needs to know about each entry of the unit. */
export interface ResolvableEntry {
  fullUrl?: string;
  resourceType: string;
  id?: string;
  identifiers: readonly { system?: string; value?: string }[];
  containedIds: ReadonlySet<string>;
}

/** Looks a reference up in the vault (or elsewhere); returns the reference to use instead, if known. */
export type ResolveReferenceHook = (reference: string) => string | undefined;

const RELATIVE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/[A-Za-z0-9\-.]{1,64})?$/;
const CONDITIONAL = /^([A-Z][A-Za-z]+)\?(.+)$/;
const LOCAL = /^(urn:uuid:|urn:oid:|resource:)/i;

/** `http://server/fhir/Patient/1` → `http://server/fhir/`; undefined if the URL is not of that form. */
function baseOf(fullUrl: string | undefined): string | undefined {
  if (!fullUrl || !isAbsoluteHttpUrl(fullUrl)) return undefined;
  const m = /^(.*\/)[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}(\/_history\/[A-Za-z0-9\-.]{1,64})?$/.exec(fullUrl);
  return m?.[1];
}

/** Indexes the entries of one unit for lookups. */
export class ReferenceIndex {
  private readonly byFullUrl = new Map<string, number>();
  private readonly byTypeId = new Map<string, number | 'ambiguous'>();
  private readonly byIdentifier = new Map<string, number | 'ambiguous'>();

  constructor(private readonly entries: readonly ResolvableEntry[]) {
    entries.forEach((e, i) => {
      if (e.fullUrl) this.byFullUrl.set(LOCAL.test(e.fullUrl) ? e.fullUrl.toLowerCase() : withoutHistory(e.fullUrl), i);
      if (e.id) {
        const key = `${e.resourceType}/${e.id}`;
        this.byTypeId.set(key, this.byTypeId.has(key) ? 'ambiguous' : i);
      }
      for (const id of e.identifiers) {
        if (id.system === undefined || id.value === undefined) continue;
        const key = `${e.resourceType}|${id.system}|${id.value}`;
        this.byIdentifier.set(key, this.byIdentifier.has(key) ? 'ambiguous' : i);
      }
    });
  }

  /** Resolves `reference`, found in entry `from`. */
  resolve(reference: unknown, from: number, hook?: ResolveReferenceHook): Resolution {
    if (typeof reference !== 'string' || reference === '') return { kind: 'invalid' };
    const entry = this.entries[from]!;
    if (reference.startsWith('#')) {
      return reference === '#' || entry.containedIds.has(reference.slice(1)) ? { kind: 'contained' } : { kind: 'dangling' };
    }
    if (LOCAL.test(reference)) {
      const target = this.byFullUrl.get(reference.toLowerCase());
      if (target !== undefined) return { kind: 'entry', target };
      const hooked = hook?.(reference);
      return hooked ? { kind: 'hook', rewriteTo: hooked } : { kind: 'dangling' };
    }
    if (isAbsoluteHttpUrl(reference)) {
      const target = this.byFullUrl.get(withoutHistory(reference));
      if (target !== undefined) return { kind: 'entry', target };
      const hooked = hook?.(reference);
      return hooked ? { kind: 'hook', rewriteTo: hooked } : { kind: 'external' };
    }
    const relative = RELATIVE.exec(reference);
    if (relative) {
      const typeId = `${relative[1]}/${relative[2]}`;
      const base = baseOf(entry.fullUrl);
      if (base) {
        const target = this.byFullUrl.get(base + typeId);
        if (target !== undefined) return { kind: 'entry', target };
      }
      const byId = this.byTypeId.get(typeId);
      if (typeof byId === 'number') return { kind: 'entry', target: byId };
      const hooked = hook?.(reference);
      if (hooked) return { kind: 'hook', rewriteTo: hooked };
      return base ? { kind: 'external', rewriteTo: base + reference } : { kind: 'external' };
    }
    const conditional = CONDITIONAL.exec(reference);
    if (conditional) {
      const m = /^identifier=([^|&]*)\|([^&]+)$/.exec(conditional[2]!);
      if (m) {
        const target = this.byIdentifier.get(`${conditional[1]}|${decodeURIComponentSafe(m[1]!)}|${decodeURIComponentSafe(m[2]!)}`);
        if (typeof target === 'number') return { kind: 'entry', target };
      }
      const hooked = hook?.(reference);
      return hooked ? { kind: 'hook', rewriteTo: hooked } : { kind: 'external' };
    }
    return { kind: 'invalid' };
  }
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Problems for references that cannot stand. */
export function referenceProblem(label: string, ref: FoundReference, resolution: Resolution): ImportProblem | undefined {
  if (resolution.kind === 'dangling') return { entry: label, rule: 'DANGLING_REFERENCE', message: `${ref.path} points at nothing in this import` };
  if (resolution.kind === 'invalid') return { entry: label, rule: 'INVALID_REFERENCE', message: `${ref.path} is not a FHIR reference` };
  return undefined;
}
