/**
 * The keys a verifier trusts, by issuer: loaded from JWKS files (CLI `--trust JWKS_FILE`) or
 * fetched from `iss + /.well-known/jwks.json` and cached. Imported WebCrypto keys are cached too,
 * so verifying many cards from one issuer imports its key once.
 *
 * A key set is bound to its issuer (the spec reads keys from `iss + /.well-known/jwks.json`): a key
 * never vouches for another `iss`, else a card re-signed with a trusted key could claim any issuer
 * and show as verified. A JWKS saved to a file loses that origin, so a trust file may name it
 * (`"iss"`); a bare JWKS — exactly what an issuer publishes — is accepted too, and each of its keys
 * is bound to the first issuer whose card it verifies (see {@link TrustedIssuers.addTrustDocument}).
 */
import { RecordsError } from '../errors.js';
import { JWKS_PATH, MAX_JWKS_BYTES } from './constants.js';
import { importVerifyKey, signingKeysOf, type IssuerJwk } from './jwk.js';

/** Fetches the JWKS document of an issuer (the parsed JSON of `iss + /.well-known/jwks.json`). */
export type FetchJwks = (iss: string) => Promise<unknown>;

interface IssuerEntry {
  keys: Map<string, IssuerJwk>;
  /** ms since epoch; undefined for keys given by the user (never stale). */
  fetchedAt?: number;
}

/** Options of {@link TrustedIssuers}. */
export interface TrustedIssuersInit {
  /** Fetched key sets older than this are fetched again before use. @default 86_400_000 (24 h) */
  maxAgeMs?: number;
}

/** What {@link TrustedIssuers.resolveKey} found. */
export type KeyResolution =
  | {
      status: 'found';
      key: CryptoKey;
      /**
       * Set for a key from a JWKS without `iss`: call it once the signature verifies; it binds the
       * key to the card's issuer and returns false if the key is bound to another issuer by then.
       */
      bind?: () => boolean;
    }
  | { status: 'unknown-kid' }
  | { status: 'untrusted'; reason: string };

/** Most saved bindings of bare keys restored into one trust set. */
const MAX_SAVED_BINDINGS = 10_000;
/** Most key sets in one trust document (an array of `{ "iss", "keys" }`). */
const MAX_TRUST_SETS = 100;
/** Deepest nesting of a trust document (array → set → keys → key → x5c). */
const MAX_TRUST_DEPTH = 8;
/** Members of a JWK that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** The issuers and keys this verifier trusts. */
export class TrustedIssuers {
  /** Largest trust file {@link addTrustDocument} is meant to read (callers check before parsing). */
  static readonly MAX_TRUST_FILE_BYTES = MAX_JWKS_BYTES;

  private readonly byIssuer = new Map<string, IssuerEntry>();
  /** Keys from a JWKS without `iss`, by kid: trusted for the first issuer they verify. */
  private readonly bareKeys = new Map<string, IssuerJwk>();
  /** kid → the issuer a bare key verified first. */
  private readonly boundTo = new Map<string, string>();
  private readonly cryptoKeys = new Map<string, Promise<CryptoKey>>();
  private readonly maxAgeMs: number;

  constructor(init: TrustedIssuersInit = {}) {
    this.maxAgeMs = init.maxAgeMs ?? 86_400_000;
  }

  /**
   * Trusts the signing keys of `jwks` for issuer `iss` only: the SHC spec binds a key set to its
   * issuer (keys come from `iss + /.well-known/jwks.json`), so a key never vouches for another `iss`.
   * Returns how many keys were added. Throws `SHC_BAD_JWKS` for a malformed set.
   */
  addJwks(iss: string, jwks: unknown, fetchedAt?: Date): number {
    const keys = signingKeysOf(jwks);
    const entry: IssuerEntry = { keys: new Map(keys.map((k) => [k.kid, k])) };
    if (fetchedAt) entry.fetchedAt = fetchedAt.getTime();
    this.byIssuer.set(normalizeIssuer(iss), entry);
    return keys.length;
  }

  /**
   * Reads a trust file in its strict form: a JWKS (`{"keys":[…]}`) with an `iss` member naming the
   * issuer its keys belong to. A file without `iss` is refused (`SHC_BAD_JWKS`). The CLI reads
   * trust files with {@link addTrustDocument}, which also takes a bare JWKS.
   */
  addTrustFile(json: unknown): number {
    const iss = typeof json === 'object' && json !== null ? (json as { iss?: unknown }).iss : undefined;
    if (iss === undefined) {
      throw new RecordsError('SHC_BAD_JWKS', 'The trust file has no "iss" member: add the issuer URL its keys belong to ("iss": "https://…")');
    }
    if (Array.isArray(json)) throw new RecordsError('SHC_BAD_JWKS', 'A trust file must be a JWKS object');
    return this.addTrustDocument(json);
  }

  /**
   * Reads a trust document (the parsed JSON of a CLI `--trust` file), in any of these forms:
   * - `{"iss": "https://…", "keys": […]}`: the keys are trusted for that issuer only;
   * - a bare JWKS `{"keys": […]}`, as an issuer publishes it at `iss + /.well-known/jwks.json`:
   *   the keys are trusted, each for the first issuer whose card it verifies in this trust set (a
   *   later card signed with it but naming another `iss` is untrusted); a key that a set with
   *   `iss` also lists stays bound to that issuer;
   * - an array of such objects (several issuers in one file).
   *
   * All or nothing: the document is checked whole before any key is added. Throws `SHC_BAD_JWKS`
   * (the message says what is wrong, never quotes a value) for anything else: not an object, no
   * `keys` array, a set with no ES256 signing key, a key with a private part (a trust file holds
   * public keys only), a malformed key or kid, an `iss` that is not an https URL, a `__proto__`
   * member, more than 100 sets or deeper nesting than a JWKS has. Returns the number of keys added.
   */
  addTrustDocument(json: unknown): number {
    checkShape(json, 0);
    const sets = Array.isArray(json) ? (json as unknown[]) : [json];
    if (sets.length === 0) throw new RecordsError('SHC_BAD_JWKS', 'The trust file holds an empty list: give a JWKS ({"keys": [...]})');
    if (sets.length > MAX_TRUST_SETS) throw new RecordsError('SHC_BAD_JWKS', `The trust file holds more than ${MAX_TRUST_SETS} key sets`);
    const read = sets.map((set, i) => readTrustSet(set, sets.length > 1 ? `key set ${i + 1} of the trust file` : 'the trust file'));
    let added = 0;
    for (const { iss, keys } of read) {
      added += keys.length;
      if (iss === undefined) {
        for (const k of keys) this.bareKeys.set(k.kid, k);
        continue;
      }
      // Several files may name one issuer: their keys add up (a user-given set never goes stale).
      const issuer = normalizeIssuer(iss);
      const existing = this.byIssuer.get(issuer);
      const entry: IssuerEntry = existing && existing.fetchedAt === undefined ? existing : { keys: new Map() };
      for (const k of keys) entry.keys.set(k.kid, k);
      this.byIssuer.set(issuer, entry);
    }
    return added;
  }

  /** The keys given without `iss` that have verified a card so far, with the issuer each is bound to. */
  keyBindings(): { kid: string; iss: string }[] {
    return [...this.boundTo].map(([kid, iss]) => ({ kid, iss }));
  }

  /**
   * Restores bindings of keys given without `iss` (as {@link keyBindings} listed them after an
   * earlier import into the same vault), so a key keeps the issuer it first verified across runs:
   * a card re-signed with it next week and naming another `iss` is untrusted, as it would be in
   * one run. Entries are checked whole first; a malformed list is refused (`SHC_BAD_JWKS`) and
   * nothing is restored. A binding is kept for a kid even if no key with it is given now.
   */
  restoreBindings(bindings: unknown): void {
    const bad = () => new RecordsError('SHC_BAD_JWKS', 'The saved issuer bindings of trusted keys are malformed');
    if (!Array.isArray(bindings) || bindings.length > MAX_SAVED_BINDINGS) throw bad();
    const read: [string, string][] = [];
    for (const b of bindings) {
      if (typeof b !== 'object' || b === null || Array.isArray(b)) throw bad();
      const { kid, iss } = b as { kid?: unknown; iss?: unknown };
      if (typeof kid !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(kid) || typeof iss !== 'string' || !/^https?:\/\/\S+$/.test(iss) || iss.length > 2048) throw bad();
      read.push([kid, normalizeIssuer(iss)]);
    }
    for (const [kid, iss] of read) if (!this.boundTo.has(kid)) this.boundTo.set(kid, iss);
  }

  /** The issuers with a key set. */
  issuers(): string[] {
    return [...this.byIssuer.keys()];
  }

  private importKey(jwk: IssuerJwk): Promise<CryptoKey> {
    let key = this.cryptoKeys.get(jwk.kid);
    if (!key) {
      key = importVerifyKey(jwk);
      this.cryptoKeys.set(jwk.kid, key);
      key.catch(() => this.cryptoKeys.delete(jwk.kid));
    }
    return key;
  }

  /** Issuers whose user-given set (one with `iss`) lists `kid`: a bare copy of that key is bound to them. */
  private pinnedIssuers(kid: string): string[] {
    const out: string[] = [];
    for (const [issuer, entry] of this.byIssuer) if (entry.fetchedAt === undefined && entry.keys.has(kid)) out.push(issuer);
    return out;
  }

  /** Whether the bare key `kid` may vouch for `issuer`: unbound (and not pinned) or bound to it. */
  private bareKeyFits(kid: string, issuer: string): boolean {
    const bound = this.boundTo.get(kid);
    return bound === undefined ? this.pinnedIssuers(kid).length === 0 : bound === issuer;
  }

  /** Binds the bare key `kid` to `issuer` if it is free; true if it is bound to `issuer` now. */
  private bind(kid: string, issuer: string): boolean {
    if (!this.bareKeyFits(kid, issuer)) return false;
    this.boundTo.set(kid, issuer);
    return true;
  }

  /**
   * The key for (`iss`, `kid`): from the user's keys for that issuer, else a key the user gave
   * without `iss` (bound to `iss` once its signature verifies: see `bind`), else from the cache,
   * else fetched with `fetchJwks` (again if the cached set is stale or lacks the kid).
   */
  async resolveKey(iss: string, kid: string, now: Date, fetchJwks?: FetchJwks): Promise<KeyResolution> {
    const issuer = normalizeIssuer(iss);
    let entry = this.byIssuer.get(issuer);
    const stale = entry?.fetchedAt !== undefined && now.getTime() - entry.fetchedAt > this.maxAgeMs;
    if (entry && !stale && entry.keys.has(kid)) return { status: 'found', key: await this.importKey(entry.keys.get(kid)!) };
    const bare = this.bareKeys.get(kid);
    if (bare && this.bareKeyFits(kid, issuer)) return { status: 'found', key: await this.importKey(bare), bind: () => this.bind(kid, issuer) };
    // User-given keys are final: an unknown kid there is not looked up elsewhere.
    if (entry && entry.fetchedAt === undefined) return { status: 'unknown-kid' };
    if (!fetchJwks) {
      if (entry) return { status: 'unknown-kid' };
      return { status: 'untrusted', reason: bare ? BOUND_ELSEWHERE : 'issuer not in the trusted list and no key fetching available' };
    }
    let jwks: unknown;
    try {
      jwks = await fetchJwks(issuer);
    } catch {
      if (entry && !stale) return { status: 'unknown-kid' };
      return { status: 'untrusted', reason: 'the issuer key set could not be fetched' };
    }
    this.addJwks(issuer, jwks, now);
    entry = this.byIssuer.get(issuer)!;
    const jwk = entry.keys.get(kid);
    return jwk ? { status: 'found', key: await this.importKey(jwk) } : { status: 'unknown-kid' };
  }
}

/** Why a card signed with a trusted key is not verified: the key belongs to another issuer. */
export const BOUND_ELSEWHERE = 'its key is trusted for another issuer only: a key given without "iss" belongs to the first issuer whose card it verified';

/**
 * Refuses what a JWKS never holds and a hostile file might: `__proto__` (and `constructor`,
 * `prototype`) members, which a careless merge would turn into prototype writes, and deep nesting.
 */
function checkShape(value: unknown, depth: number): void {
  if (typeof value !== 'object' || value === null) return;
  if (depth > MAX_TRUST_DEPTH) throw new RecordsError('SHC_BAD_JWKS', 'The trust file is nested deeper than a JWKS is');
  if (Array.isArray(value)) {
    for (const v of value) checkShape(v, depth + 1);
    return;
  }
  for (const k of Object.keys(value)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') throw new RecordsError('SHC_BAD_JWKS', `The trust file has a "${k}" member, which no JWKS has`);
    checkShape((value as Record<string, unknown>)[k], depth + 1);
  }
}

/** One key set of a trust document: its `iss` (if named) and its signing keys. */
function readTrustSet(set: unknown, where: string): { iss?: string; keys: IssuerJwk[] } {
  if (typeof set !== 'object' || set === null || Array.isArray(set)) throw new RecordsError('SHC_BAD_JWKS', `${capitalize(where)} is not a JWKS object ({"keys": [...]})`);
  const { iss, keys } = set as { iss?: unknown; keys?: unknown };
  if (iss !== undefined && (typeof iss !== 'string' || !/^https:\/\/[^\s/]+(\/\S*)?$/.test(iss))) {
    throw new RecordsError('SHC_BAD_JWKS', `The "iss" of ${where} must be the issuer's https URL`);
  }
  if (!Array.isArray(keys)) throw new RecordsError('SHC_BAD_JWKS', `${capitalize(where)} has no "keys" array`);
  for (const key of keys as unknown[]) {
    if (typeof key === 'object' && key !== null && PRIVATE_MEMBERS.some((m) => Object.hasOwn(key, m))) {
      throw new RecordsError('SHC_BAD_JWKS', `${capitalize(where)} holds a private key (a "d" or other private member): trust public keys only, and keep the private key secret`);
    }
  }
  let signing: IssuerJwk[];
  try {
    signing = signingKeysOf(set);
  } catch (e) {
    throw new RecordsError('SHC_BAD_JWKS', `${capitalize(where)}: ${(e as Error).message}`, { cause: e });
  }
  if (signing.length === 0) throw new RecordsError('SHC_BAD_JWKS', `${capitalize(where)} has no health-card signing key (EC P-256, ES256)`);
  return iss === undefined ? { keys: signing } : { iss, keys: signing };
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Issuer URLs compare without a trailing slash (the spec forbids one; be lenient in lookups). */
function normalizeIssuer(iss: string): string {
  return iss.endsWith('/') ? iss.slice(0, -1) : iss;
}

/**
 * A {@link FetchJwks} over `fetch`: https only, 10 s timeout, size-capped, JSON. For the browser
 * (the spec requires issuers to serve their JWKS with CORS enabled).
 */
export function httpFetchJwks(fetchImpl: typeof fetch = fetch, timeoutMs = 10_000): FetchJwks {
  return async (iss: string): Promise<unknown> => {
    const url = new URL(iss + JWKS_PATH);
    if (url.protocol !== 'https:') throw new RecordsError('SHC_UNTRUSTED_ISSUER', 'Issuer key sets are fetched over https only');
    const response = await fetchImpl(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error', credentials: 'omit' });
    if (!response.ok) throw new RecordsError('SHC_UNTRUSTED_ISSUER', `The issuer key set answered HTTP ${response.status}`);
    const body = new Uint8Array(await response.arrayBuffer());
    if (body.length > MAX_JWKS_BYTES) throw new RecordsError('SHC_BAD_JWKS', 'The issuer key set is too large');
    return JSON.parse(new TextDecoder().decode(body)) as unknown;
  };
}
