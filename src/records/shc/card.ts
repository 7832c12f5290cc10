/**
 * Verifying one SMART Health Card (a compact JWS) per the spec: header (jws.ts), payload shape,
 * issuer key by `kid` (trust.ts), ES256 signature, then `nbf`/`exp` against `now`.
 *
 * Policy for well-formed cards whose issuer cannot be checked (no trusted key set, nothing to fetch
 * with, or the fetch failed): refused with `SHC_UNTRUSTED_ISSUER`, unless the caller passes
 * `allowUnverified`, in which case the card is imported with `verified: false` and the reason.
 * A bad signature, an unknown kid at a known issuer, or a card outside its validity period is
 * refused whatever the caller allows: those are not "unknown", they are wrong. A card that a key
 * given without `iss` verifies, but that key is bound to another issuer (trust.ts), counts as from
 * an issuer that cannot be checked.
 */
import { RecordsError } from '../errors.js';
import { CLOCK_SKEW_SECONDS, HEALTH_CARD_TYPE } from './constants.js';
import { parseJws } from './jws.js';
import { verifyEs256 } from './jwk.js';
import { BOUND_ELSEWHERE, type FetchJwks, type TrustedIssuers } from './trust.js';

/** Options of {@link verifyCard}. */
export interface VerifyCardOptions {
  trust?: TrustedIssuers;
  now: Date;
  fetchJwks?: FetchJwks;
  /** Import cards whose issuer cannot be checked, marked unverified. @default false */
  allowUnverified?: boolean;
}

/** A card that passed verification (or was allowed unverified). */
export interface VerifiedCard {
  issuer: string;
  kid: string;
  verified: boolean;
  /** Why the card is not verified (only when `verified` is false). */
  reason?: string;
  /** Seconds since epoch, as in the card. */
  nbf: number;
  exp?: number;
  /** `vc.credentialSubject.fhirBundle`: a Bundle of type collection. */
  bundle: Record<string, unknown>;
  /** `vc.type`. */
  types: string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks the payload shape (spec "Modeling W3C Verifiable Credentials in FHIR"). */
function readPayload(payload: Record<string, unknown>): { iss: string; nbf: number; exp?: number; bundle: Record<string, unknown>; types: string[] } {
  const { iss, nbf, exp, vc } = payload;
  if (typeof iss !== 'string' || !/^https:\/\/[^\s]+$/.test(iss) || iss.endsWith('/')) {
    throw new RecordsError('SHC_BAD_PAYLOAD', 'The card iss must be an https URL without a trailing slash');
  }
  if (typeof nbf !== 'number' || !Number.isFinite(nbf)) throw new RecordsError('SHC_BAD_PAYLOAD', 'The card has no numeric nbf');
  if (exp !== undefined && (typeof exp !== 'number' || !Number.isFinite(exp))) throw new RecordsError('SHC_BAD_PAYLOAD', 'The card exp is not numeric');
  if (!isObject(vc)) throw new RecordsError('SHC_BAD_PAYLOAD', 'The card has no vc claim');
  const types = vc.type;
  if (!Array.isArray(types) || !types.every((t) => typeof t === 'string') || !types.includes(HEALTH_CARD_TYPE)) {
    throw new RecordsError('SHC_BAD_PAYLOAD', `The card vc.type must include ${HEALTH_CARD_TYPE}`);
  }
  const subject = vc.credentialSubject;
  if (!isObject(subject)) throw new RecordsError('SHC_BAD_PAYLOAD', 'The card has no vc.credentialSubject');
  if (typeof subject.fhirVersion !== 'string' || !subject.fhirVersion.startsWith('4.')) {
    throw new RecordsError('SHC_BAD_PAYLOAD', 'The card fhirVersion must be FHIR R4 (4.x)');
  }
  const bundle = subject.fhirBundle;
  if (!isObject(bundle) || bundle.resourceType !== 'Bundle') throw new RecordsError('SHC_BAD_PAYLOAD', 'The card has no fhirBundle');
  const out: { iss: string; nbf: number; exp?: number; bundle: Record<string, unknown>; types: string[] } = { iss, nbf, bundle, types };
  if (exp !== undefined) out.exp = exp;
  return out;
}

/** Verifies one card. Throws a {@link RecordsError} with an `SHC_*` code when it is refused. */
export async function verifyCard(jws: string, options: VerifyCardOptions): Promise<VerifiedCard> {
  const parsed = parseJws(jws);
  const { iss, nbf, exp, bundle, types } = readPayload(parsed.payload);
  const nowSeconds = options.now.getTime() / 1000;
  let verified = false;
  let reason: string | undefined;
  const resolution = options.trust
    ? await options.trust.resolveKey(iss, parsed.header.kid, options.now, options.fetchJwks)
    : { status: 'untrusted' as const, reason: 'no trusted issuers were given' };
  let untrusted: string | undefined;
  if (resolution.status === 'found') {
    if (!(await verifyEs256(resolution.key, parsed.signature, parsed.signingInput))) {
      throw new RecordsError('SHC_BAD_SIGNATURE', 'The card signature does not verify with the issuer key');
    }
    // A key given without iss belongs to the first issuer it verifies; binding happens only now,
    // after the signature checked out, so a forged card cannot claim the key.
    if (resolution.bind && !resolution.bind()) untrusted = BOUND_ELSEWHERE;
    else verified = true;
  } else if (resolution.status === 'unknown-kid') {
    throw new RecordsError('SHC_UNKNOWN_KID', 'The card was signed with a key its issuer does not list');
  } else {
    untrusted = resolution.reason;
  }
  if (untrusted !== undefined) {
    if (!options.allowUnverified) throw new RecordsError('SHC_UNTRUSTED_ISSUER', `The card issuer is not trusted (${untrusted})`);
    reason = untrusted;
  }
  if (nbf > nowSeconds + CLOCK_SKEW_SECONDS) throw new RecordsError('SHC_NOT_YET_VALID', 'The card is not valid yet (nbf is in the future)');
  if (exp !== undefined && exp < nowSeconds - CLOCK_SKEW_SECONDS) throw new RecordsError('SHC_EXPIRED', 'The card has expired (exp is in the past)');
  const card: VerifiedCard = { issuer: iss, kid: parsed.header.kid, verified, nbf, bundle, types };
  if (exp !== undefined) card.exp = exp;
  if (reason !== undefined) card.reason = reason;
  return card;
}
