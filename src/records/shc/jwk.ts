/**
 * Issuer keys (spec "Determining keys associated with an issuer"): EC P-256 JWKs with `kty: EC`,
 * `use: sig`, `alg: ES256`, and `kid` equal to the RFC 7638 SHA-256 thumbprint of the key.
 * Verification is ECDSA P-256 / SHA-256 through WebCrypto (the JWS signature is r‖s, the format
 * WebCrypto takes).
 */
import { sha256, toBase64Url, utf8 } from '../../crypto/index.js';
import { RecordsError } from '../errors.js';

/** The public part of an issuer's signing key. */
export interface IssuerJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  use?: string;
  alg?: string;
}

/** RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace. */
export function jwkThumbprint(jwk: { crv: string; kty: string; x: string; y: string }): string {
  const canonical = `{"crv":${JSON.stringify(jwk.crv)},"kty":${JSON.stringify(jwk.kty)},"x":${JSON.stringify(jwk.x)},"y":${JSON.stringify(jwk.y)}}`;
  return toBase64Url(sha256(utf8(canonical)));
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/**
 * The usable signing keys of a JWKS document. Keys that are not EC P-256 signing keys are skipped
 * (a JWKS may list others); a signing key whose `kid` is not its thumbprint makes the whole set
 * invalid (`SHC_BAD_JWKS`), since the spec requires them to match.
 */
export function signingKeysOf(jwks: unknown): IssuerJwk[] {
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray((jwks as { keys?: unknown }).keys)) {
    throw new RecordsError('SHC_BAD_JWKS', 'A JWKS must be an object with a keys array');
  }
  const out: IssuerJwk[] = [];
  for (const key of (jwks as { keys: unknown[] }).keys) {
    if (typeof key !== 'object' || key === null) continue;
    const k = key as Record<string, unknown>;
    if (k.kty !== 'EC' || k.crv !== 'P-256') continue;
    if (k.use !== undefined && k.use !== 'sig') continue;
    if (k.alg !== undefined && k.alg !== 'ES256') continue;
    if (typeof k.x !== 'string' || typeof k.y !== 'string' || !B64URL.test(k.x) || !B64URL.test(k.y) || k.d !== undefined) {
      throw new RecordsError('SHC_BAD_JWKS', 'A JWKS signing key is malformed (or carries a private part)');
    }
    const thumbprint = jwkThumbprint({ crv: 'P-256', kty: 'EC', x: k.x, y: k.y });
    if (typeof k.kid !== 'string' || k.kid !== thumbprint) throw new RecordsError('SHC_BAD_JWKS', 'A JWKS key id is not the RFC 7638 thumbprint of its key');
    out.push({ kty: 'EC', crv: 'P-256', x: k.x, y: k.y, kid: k.kid });
  }
  return out;
}

/** Imports a JWK for ES256 verification. */
export async function importVerifyKey(jwk: IssuerJwk): Promise<CryptoKey> {
  try {
    return await globalThis.crypto.subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, ext: true }, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  } catch (e) {
    throw new RecordsError('SHC_BAD_JWKS', 'A JWKS key is not a valid P-256 point', { cause: e });
  }
}

/** ES256 verification of `signature` (r‖s) over `data`. */
export async function verifyEs256(key: CryptoKey, signature: Uint8Array, data: Uint8Array): Promise<boolean> {
  return globalThis.crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, signature as Uint8Array<ArrayBuffer>, data as Uint8Array<ArrayBuffer>);
}
