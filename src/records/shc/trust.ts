/**
 * The keys a verifier trusts, by issuer: loaded from JWKS files (CLI `--trust JWKS_FILE`) or
 * fetched from `iss + /.well-known/jwks.json` and cached. Imported WebCrypto keys are cached too,
 * so verifying many cards from one issuer imports its key once.
 */
import { RecordsError } from '../errors.js';
import { JWKS_PATH } from './constants.js';
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
  | { status: 'found'; key: CryptoKey }
  | { status: 'unknown-kid' }
  | { status: 'untrusted'; reason: string };

/** The issuers and keys this verifier trusts. */
export class TrustedIssuers {
  private readonly byIssuer = new Map<string, IssuerEntry>();
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
   * Reads a trust file: a JWKS (`{"keys":[…]}`) with an `iss` member naming the issuer its keys
   * belong to. A file without `iss` is refused (`SHC_BAD_JWKS`): trusting its keys for any issuer
   * would let a card signed with them claim any `iss` and show as verified.
   */
  addTrustFile(json: unknown): number {
    const iss = typeof json === 'object' && json !== null ? (json as { iss?: unknown }).iss : undefined;
    if (iss === undefined) {
      throw new RecordsError('SHC_BAD_JWKS', 'The trust file has no "iss" member: add the issuer URL its keys belong to ("iss": "https://…")');
    }
    if (typeof iss !== 'string' || !/^https?:\/\/\S+$/.test(iss)) throw new RecordsError('SHC_BAD_JWKS', 'The iss of a trust file must be an issuer URL string');
    return this.addJwks(iss, json);
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

  /**
   * The key for (`iss`, `kid`): from the user's keys, else from the cache, else fetched with
   * `fetchJwks` (again if the cached set is stale or lacks the kid).
   */
  async resolveKey(iss: string, kid: string, now: Date, fetchJwks?: FetchJwks): Promise<KeyResolution> {
    const issuer = normalizeIssuer(iss);
    let entry = this.byIssuer.get(issuer);
    const stale = entry?.fetchedAt !== undefined && now.getTime() - entry.fetchedAt > this.maxAgeMs;
    if (entry && !stale && entry.keys.has(kid)) return { status: 'found', key: await this.importKey(entry.keys.get(kid)!) };
    // User-given keys are final: an unknown kid there is not looked up elsewhere.
    if (entry && entry.fetchedAt === undefined) return { status: 'unknown-kid' };
    if (!fetchJwks) return entry ? { status: 'unknown-kid' } : { status: 'untrusted', reason: 'issuer not in the trusted list and no key fetching available' };
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

/** Issuer URLs compare without a trailing slash (the spec forbids one; be lenient in lookups). */
function normalizeIssuer(iss: string): string {
  return iss.endsWith('/') ? iss.slice(0, -1) : iss;
}

/** Largest JWKS document fetched. */
const MAX_JWKS_BYTES = 256 * 1024;

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
