/**
 * Bundle-level rules (FHIR R4 Bundle, invariants bdl-1…bdl-11) and extraction of the entries to
 * import. The Bundle itself is not stored: only its entries are, so its rules are checked here
 * rather than by validating the whole Bundle again (which would validate every entry twice).
 *
 * - Types imported: collection, document (e.g. an International Patient Summary), transaction,
 *   batch, searchset. Others (history, message, *-response) are refused as a whole.
 * - transaction/batch entries need `request` (bdl-3); POST and PUT entries are imported; DELETE,
 *   GET, HEAD and PATCH ask a server to do something a vault import does not do, and are reported
 *   as `UNSUPPORTED_OPERATION` (the whole import fails unless partial).
 * - searchset entries with search.mode `outcome` (an OperationOutcome about the search) are skipped.
 * - document: the first entry is a Composition (bdl-11), identifier and timestamp present (bdl-9,
 *   bdl-10).
 * - fullUrls are unique unless their meta.versionId differ (bdl-7) and absolute (urn:uuid:,
 *   urn:oid:, http(s):, or SHC `resource:N`); a resource's type and id (and version) are unique among
 *   the entries without an http(s) fullUrl (with one, the fullUrl names the server as well).
 */
import type { ImportProblem } from '../errors.js';

/** One entry to import, before validation. */
export interface RawEntry {
  label: string;
  fullUrl?: string;
  resource: unknown;
}

export const IMPORTED_BUNDLE_TYPES = ['collection', 'document', 'transaction', 'batch', 'searchset'] as const;

const FULL_URL = /^(urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|urn:oid:[0-2](\.(0|[1-9]\d*))+|https?:\/\/\S+|resource:\d+)$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The entries of `bundle` to import, and the bundle-level problems found. */
export function entriesOfBundle(bundle: Record<string, unknown>, prefix: string): { entries: RawEntry[]; problems: ImportProblem[]; fatal?: ImportProblem } {
  const where = prefix ? `${prefix} bundle` : 'bundle';
  const type = bundle.type;
  if (typeof type !== 'string' || !(IMPORTED_BUNDLE_TYPES as readonly string[]).includes(type)) {
    return { entries: [], problems: [], fatal: { entry: where, rule: 'UNSUPPORTED_BUNDLE_TYPE', message: `Bundle.type must be one of ${IMPORTED_BUNDLE_TYPES.join(', ')}` } };
  }
  const problems: ImportProblem[] = [];
  const rawEntries = bundle.entry;
  if (rawEntries !== undefined && !Array.isArray(rawEntries)) {
    return { entries: [], problems: [], fatal: { entry: where, rule: 'R4_CARDINALITY', message: 'Bundle.entry must be an array' } };
  }
  const list = (rawEntries ?? []) as unknown[];
  if (Array.isArray(rawEntries) && rawEntries.length === 0) problems.push({ entry: where, rule: 'R4_EMPTY', message: 'Bundle.entry is an empty array' });
  if (type === 'document') {
    if (!isObject(bundle.identifier)) problems.push({ entry: where, rule: 'R4_INVARIANT', message: 'bdl-9: a document must have an identifier' });
    if (typeof bundle.timestamp !== 'string') problems.push({ entry: where, rule: 'R4_INVARIANT', message: 'bdl-10: a document must have a timestamp' });
    const first = list[0];
    if (!isObject(first) || !isObject(first.resource) || first.resource.resourceType !== 'Composition') {
      problems.push({ entry: where, rule: 'R4_INVARIANT', message: 'bdl-11: the first entry of a document must be a Composition' });
    }
  }
  const entries: RawEntry[] = [];
  const fullUrls = new Set<string>();
  const typeIds = new Set<string>();
  list.forEach((entry, i) => {
    const label = `${prefix ? `${prefix} ` : ''}entry[${i}]`;
    if (!isObject(entry)) {
      problems.push({ entry: label, rule: 'R4_STRUCTURE', message: 'a Bundle entry must be an object' });
      return;
    }
    for (const key of Object.keys(entry)) {
      if (!['fullUrl', 'resource', 'request', 'response', 'search', 'link', 'id', 'extension', 'modifierExtension'].includes(key)) {
        problems.push({ entry: label, rule: 'R4_UNKNOWN_ELEMENT', message: 'Bundle.entry has an element FHIR R4 does not define' });
      }
    }
    if (type === 'transaction' || type === 'batch') {
      const request = entry.request;
      if (!isObject(request) || typeof request.method !== 'string' || typeof request.url !== 'string') {
        problems.push({ entry: label, rule: 'R4_INVARIANT', message: 'bdl-3: transaction and batch entries need request.method and request.url' });
        return;
      }
      if (request.method !== 'POST' && request.method !== 'PUT') {
        problems.push({ entry: label, rule: 'UNSUPPORTED_OPERATION', message: `a ${request.method} request is not something an import performs` });
        return;
      }
    } else if (entry.request !== undefined) {
      problems.push({ entry: label, rule: 'R4_INVARIANT', message: 'bdl-3: only transaction and batch entries have a request' });
    }
    if (type !== 'searchset' && entry.search !== undefined) {
      problems.push({ entry: label, rule: 'R4_INVARIANT', message: 'bdl-2: only searchset entries have search' });
    }
    if (type === 'searchset' && isObject(entry.search) && entry.search.mode === 'outcome') return;
    // bdl-7: fullUrl is unique, "or else entries with the same fullUrl must have different
    // meta.versionId" (two versions of one resource, as in the R4 example bundle-references.json).
    const meta = isObject(entry.resource) && isObject(entry.resource.meta) ? entry.resource.meta : undefined;
    const version = typeof meta?.versionId === 'string' ? meta.versionId : '';
    let fullUrl: string | undefined;
    if (entry.fullUrl !== undefined) {
      if (typeof entry.fullUrl !== 'string' || !FULL_URL.test(entry.fullUrl)) {
        problems.push({ entry: label, rule: 'R4_FORMAT', message: 'fullUrl must be an absolute URI (urn:uuid:, urn:oid:, http(s):)' });
      } else if (fullUrls.has(`${entry.fullUrl}\u0000${version}`)) {
        problems.push({ entry: label, rule: 'DUPLICATE_FULLURL', message: 'bdl-7: another entry has the same fullUrl and meta.versionId' });
        return;
      } else {
        fullUrl = entry.fullUrl;
        fullUrls.add(`${fullUrl}\u0000${version}`);
      }
    }
    if (!isObject(entry.resource)) {
      problems.push({ entry: label, rule: 'R4_REQUIRED', message: 'the entry has no resource to import' });
      return;
    }
    const { resourceType, id } = entry.resource;
    // An http(s) fullUrl names the server too: the same Type/id on two servers are two resources
    // (R4 §2.36.4; bundle-references.json has Observation/14 of two bases). bdl-7 covers those.
    if (typeof resourceType === 'string' && typeof id === 'string' && !(fullUrl !== undefined && /^https?:/i.test(fullUrl))) {
      const key = `${resourceType}/${id}\u0000${version}`;
      if (typeIds.has(key)) {
        problems.push({ entry: label, rule: 'DUPLICATE_ID', message: 'another entry has a resource of the same type and id' });
        return;
      }
      typeIds.add(key);
    }
    const raw: RawEntry = { label, resource: entry.resource };
    if (fullUrl !== undefined) raw.fullUrl = fullUrl;
    entries.push(raw);
  });
  return { entries, problems };
}
