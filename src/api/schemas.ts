import { z } from 'zod';
import { SCOPE_NAMES, SENSITIVE_SCOPES as GRANT_SENSITIVE_SCOPES, type ScopeName } from '../grants/index.js';
import {
  MAX_METHOD_CHARS,
  MAX_NAME_CHARS,
  MAX_NOTE_CHARS,
  MAX_RECORDS_PAGE,
  MAX_SHARE_DAYS,
  MAX_SHC_CHARS,
} from './constants.js';
import { rpcErrors } from './errors.js';

/**
 * The page API's methods and the schema of each one's params, checked at the door: nothing a
 * page sends reaches the vault before it parses here. Objects are strict (unknown keys refused),
 * so a typo or an injected field fails loudly instead of being silently dropped.
 */

/** Scopes a vault is split into: the grant log's list (ARCHITECTURE.md "Vault and scopes"). */
export const SCOPES = SCOPE_NAMES;
/** A scope name. */
export type Scope = ScopeName;
/** Scopes never shared unless the user turns them on explicitly. */
export const SENSITIVE_SCOPES: ReadonlySet<Scope> = new Set(GRANT_SENSITIVE_SCOPES);

/** Why a provider asks for data (ARCHITECTURE.md "The grant log", grant purpose). */
export const PURPOSES = ['treatment', 'research', 'family', 'emergency'] as const;
/** A grant purpose. */
export type Purpose = (typeof PURPOSES)[number];

/** did:key of an Ed25519 key: multibase base58btc, 48 characters after `z` for 0xed01 + 32 bytes. */
const didKey = z.string().regex(/^did:key:z[1-9A-HJ-NP-Za-km-z]{46,50}$/, 'expected a did:key');
const scope = z.enum(SCOPES);
const noParams = z.union([z.undefined(), z.null(), z.tuple([]), z.strictObject({})]);
const text = (max: number) => z.string().min(1).max(max);

const importParams = z.discriminatedUnion('format', [
  z.strictObject({
    format: z.literal('fhir'),
    /** A FHIR R4 resource or Bundle, as JSON. Deep validation is the records layer's job. */
    data: z.looseObject({ resourceType: z.string().min(1).max(64) }),
    label: text(MAX_NAME_CHARS).optional(),
  }),
  z.strictObject({
    format: z.literal('smart-health-card'),
    /** A `.smart-health-card` file's JSON text or object, a raw JWS, or `shc:/` QR text (chunks may be joined by newlines). */
    data: z.union([
      text(MAX_SHC_CHARS),
      z.strictObject({ verifiableCredential: z.array(text(MAX_SHC_CHARS)).min(1).max(64) }),
    ]),
    label: text(MAX_NAME_CHARS).optional(),
  }),
]);

const shareParams = z.strictObject({
  provider: z.strictObject({
    did: didKey,
    name: text(MAX_NAME_CHARS),
    /** Where the provider's node can be reached (a multiaddr), if the engine needs it. */
    relay: text(512).optional(),
  }),
  scopes: z
    .array(scope)
    .min(1)
    .max(SCOPES.length)
    .refine((s) => new Set(s).size === s.length, 'scopes must not repeat'),
  purpose: z.enum(PURPOSES),
  expiresInDays: z.number().int().min(1).max(MAX_SHARE_DAYS),
  note: text(MAX_NOTE_CHARS).optional(),
});

const getRecordsParams = z.strictObject({
  patient: didKey,
  scope: scope.optional(),
  resourceType: z.string().regex(/^[A-Z][A-Za-z]{1,63}$/).optional(),
  limit: z.number().int().min(1).max(MAX_RECORDS_PAGE).optional(),
  cursor: z.string().max(200).optional(),
});

const redeemParams = z.strictObject({
  /** A patient's `pvault:` invitation (from a QR code, a link, or the clinic's intake page). */
  invitation: z.string().min(8).max(2048).regex(/^pvault:/, 'expected a pvault: invitation'),
  scopes: z
    .array(scope)
    .min(1)
    .max(SCOPES.length)
    .refine((s) => new Set(s).size === s.length, 'scopes must not repeat')
    .optional(),
  purpose: z.enum(PURPOSES).optional(),
  expiresInDays: z.number().int().min(1).max(MAX_SHARE_DAYS).optional(),
});

const listSharedParams = z.union([noParams, z.strictObject({ includeEnded: z.boolean().optional() })]);

/** Params schema of each method. The keys are the method names a page may call. */
export const METHOD_PARAMS = {
  vault_connect: noParams,
  vault_status: noParams,
  vault_importRecords: importParams,
  vault_requestShare: shareParams,
  vault_listShared: listSharedParams,
  vault_getRecords: getRecordsParams,
  vault_redeemInvitation: redeemParams,
} as const;

/** A method of the page API. */
export type MethodName = keyof typeof METHOD_PARAMS;
/** The parsed params of method `M`. */
export type MethodParams<M extends MethodName> = z.output<(typeof METHOD_PARAMS)[M]>;
/** Params of vault_importRecords. */
export type ImportParams = MethodParams<'vault_importRecords'>;
/** Params of vault_requestShare. */
export type ShareParams = MethodParams<'vault_requestShare'>;
/** Params of vault_redeemInvitation. */
export type RedeemParams = MethodParams<'vault_redeemInvitation'>;
/** Params of vault_getRecords. */
export type GetRecordsParams = MethodParams<'vault_getRecords'>;

/** Every method name, for discovery and docs. */
export const METHODS = Object.keys(METHOD_PARAMS) as MethodName[];

/** True if `name` is one of the page API's methods (own keys only: `toString` is not a method). */
export function isMethodName(name: string): name is MethodName {
  return Object.prototype.hasOwnProperty.call(METHOD_PARAMS, name);
}

/** The request envelope: `{ method, params? }` as EIP-1193's `RequestArguments`. */
const envelope = z.looseObject({ method: z.string().min(1).max(MAX_METHOD_CHARS), params: z.unknown().optional() });

/** Parses the envelope; -32600 if it is not one. */
export function parseEnvelope(value: unknown): { method: string; params: unknown } {
  const parsed = envelope.safeParse(value);
  if (!parsed.success) throw rpcErrors.invalidRequest('expected { method: string, params?: unknown }');
  return { method: parsed.data.method, params: parsed.data.params };
}

/** Parses params of `method`; -32602 naming the first invalid field (never its value). */
export function parseParams<M extends MethodName>(method: M, params: unknown): MethodParams<M> {
  const parsed = METHOD_PARAMS[method].safeParse(params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue ? issue.path.map(String).join('.') : '';
    throw rpcErrors.invalidParams(`invalid params for ${method}${path ? ` at ${path}` : ''}: ${issue?.message ?? 'invalid'}`, path || undefined);
  }
  return parsed.data as MethodParams<M>;
}
