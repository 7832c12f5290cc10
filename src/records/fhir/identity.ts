/**
 * Stable identity of imported resources.
 *
 * `sourceKey` says "this is the same record as before" across imports, so the store can
 * deduplicate and keep versions. In order of preference:
 *   1. `url:<absolute fullUrl>` — a server's own address for the resource (without `/_history/…`);
 *   2. `identifier:<Type>|<system>|<value>` — the first business identifier with both parts
 *      (identifiers with use `old` or `temp` are skipped);
 *   3. `urn:<Type>|urn:uuid:…` / `urn:oid:` fullUrls — stable in exports such as Synthea's and IPS;
 *   4. `sha256:<hex>` of the content (canonical JSON, without id and meta, with local references
 *      replaced by the referenced type): identical content is the same record. SHC `resource:N`
 *      fullUrls are card-local and never used as keys.
 *
 * The vault id is derived from the key (so a re-import gives the same id, and references between
 * resources stay resolvable): the first 128 bits of SHA-256 over a domain tag and the key, in hex
 * (32 characters, a valid FHIR id).
 */
import { sha256, toHex, utf8 } from '../../crypto/index.js';
import { setMember } from '../json.js';

const ID_DOMAIN = 'patient-vault/records/resource-id/v1\n';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON with object keys sorted (RFC 8785 style ordering for our plain-JSON values). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The vault's id for a resource with this source key. */
export function vaultIdFor(sourceKey: string): string {
  return toHex(sha256(utf8(ID_DOMAIN + sourceKey))).slice(0, 32);
}

/** Strips `/_history/<version>` from an absolute resource URL. */
export function withoutHistory(url: string): string {
  const at = url.indexOf('/_history/');
  return at < 0 ? url : url.slice(0, at);
}

/** True for http(s) URLs. */
export function isAbsoluteHttpUrl(value: string): boolean {
  return /^https?:\/\/[^\s/]+/i.test(value);
}

/** The key from the fullUrl or identifiers, without looking at content; undefined if neither serves. */
export function declaredSourceKey(resource: Record<string, unknown> & { resourceType: string }, fullUrl: string | undefined): string | undefined {
  if (fullUrl !== undefined && isAbsoluteHttpUrl(fullUrl)) return `url:${withoutHistory(fullUrl)}`;
  if (Array.isArray(resource.identifier)) {
    for (const id of resource.identifier) {
      if (isObject(id) && typeof id.system === 'string' && typeof id.value === 'string' && id.use !== 'old' && id.use !== 'temp') {
        return `identifier:${resource.resourceType}|${id.system}|${id.value}`;
      }
    }
  }
  if (fullUrl !== undefined && /^urn:(uuid|oid):/i.test(fullUrl)) return `urn:${resource.resourceType}|${fullUrl.toLowerCase()}`;
  return undefined;
}

/**
 * The content key: SHA-256 of the canonical JSON of `resource` without `id` and `meta`, where each
 * reference in `localReferences` (a set of the Reference objects that point inside the import) is
 * replaced by its target's type, so keys do not depend on card-local or random fullUrls.
 */
export function contentSourceKey(resource: Record<string, unknown>, localReferences: ReadonlyMap<object, string>): string {
  const strip = (value: unknown, top: boolean): unknown => {
    if (Array.isArray(value)) return value.map((v) => strip(v, false));
    if (!isObject(value)) return value;
    const targetType = localReferences.get(value);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (top && (k === 'id' || k === 'meta')) continue;
      setMember(out, k, k === 'reference' && targetType !== undefined ? targetType : strip(v, false));
    }
    return out;
  };
  return `sha256:${toHex(sha256(utf8(canonicalJson(strip(resource, true)))))}`;
}
