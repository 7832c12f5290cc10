import { CryptoError, decodeCanonical, encodeCanonical } from '../crypto/index.js';
import { MAX_BODY_BYTES, MAX_LIST_ITEMS, MAX_SEQ } from './constants.js';
import type {
  AccessBody,
  BodyOf,
  ConsentBody,
  DelegateBody,
  DelegationSpec,
  DeviceAddBody,
  DeviceRemoveBody,
  EntryBody,
  EntryType,
  EraseBody,
  GenesisBody,
  GrantAction,
  GrantBody,
  GrantPurpose,
  RekeyBody,
  RevokeBody,
  SealedScopeKey,
  UndelegateBody,
  DelegateRole,
  EmergencyDenyBody,
  EmergencyRequestBody,
  HandoverBody,
  ProtectBody,
} from './types.js';
import {
  Invalid,
  didField,
  exactObject,
  idBytes,
  idField,
  intField,
  listField,
  oneOf,
  optionalText,
  optionalTime,
  plainBytes,
  scopeField,
  strictlyAscending,
} from './validate.js';

/**
 * Bodies: each entry type has one schema, every field always present (null where empty), so a body
 * has exactly one canonical encoding. Entry ids inside bodies travel as 32 raw bytes.
 */

const ROLES: readonly DelegateRole[] = ['guardian', 'emergency'];
const ACTIONS: readonly GrantAction[] = ['append', 'read'];
const PURPOSES: readonly GrantPurpose[] = ['treatment', 'research', 'family', 'emergency'];
/** Largest sealed key box: version ‖ ephemeral key ‖ nonce ‖ 32-byte key ‖ tag is 93 bytes; room for longer keys. */
const MAX_BOX_BYTES = 256;
/** Automerge change hashes are 32 bytes (64 hex digits). */
const HEAD_PATTERN = /^[0-9a-f]{64}$/;

function sealedKey(value: unknown, label: string): SealedScopeKey {
  const r = exactObject(value, ['scope', 'epoch', 'box'], label);
  const box = r.box;
  if (!(box instanceof Uint8Array) || box.length === 0 || box.length > MAX_BOX_BYTES) throw new Invalid(`${label}.box is not 1..${MAX_BOX_BYTES} bytes`);
  return { scope: scopeField(r.scope, `${label}.scope`), epoch: intField(r.epoch, `${label}.epoch`, 0, MAX_SEQ), box };
}

function sealedKeys(value: unknown, label: string): SealedScopeKey[] {
  const keys = listField(value, label, sealedKey);
  strictlyAscending(keys, label, (k) => `${k.scope}\u0000${k.epoch.toString().padStart(10, '0')}`);
  return keys;
}

function delegationSpec(value: unknown, label: string): DelegationSpec {
  const r = exactObject(value, ['delegate', 'role', 'expires'], label);
  return { delegate: didField(r.delegate, `${label}.delegate`), role: oneOf(r.role, ['guardian'] as const, `${label}.role`), expires: optionalTime(r.expires, `${label}.expires`) };
}

function genesis(value: unknown): GenesisBody {
  const r = exactObject(value, ['subject', 'devices', 'delegates', 'label'], 'genesis body');
  const devices = listField(r.devices, 'devices', didField);
  strictlyAscending(devices, 'devices');
  const delegates = listField(r.delegates, 'delegates', delegationSpec);
  strictlyAscending(delegates, 'delegates', (d) => d.delegate);
  if (devices.length === 0 && delegates.length === 0) {
    throw new Invalid('genesis body names no device and no guardian: nobody could act for the vault');
  }
  return { subject: didField(r.subject, 'subject'), devices, delegates, label: optionalText(r.label, 'label') };
}

function deviceAdd(value: unknown): DeviceAddBody {
  const r = exactObject(value, ['device', 'label', 'keys'], 'device.add body');
  return { device: didField(r.device, 'device'), label: optionalText(r.label, 'label'), keys: sealedKeys(r.keys, 'keys') };
}

function deviceRemove(value: unknown): DeviceRemoveBody {
  const r = exactObject(value, ['device'], 'device.remove body');
  return { device: didField(r.device, 'device') };
}

function delegate(value: unknown): DelegateBody {
  const r = exactObject(value, ['delegate', 'role', 'expires', 'scopes', 'wait', 'keys'], 'delegate body');
  const role = oneOf(r.role, ROLES, 'role');
  const scopes = listField(r.scopes, 'scopes', scopeField);
  strictlyAscending(scopes, 'scopes');
  const wait = r.wait === null ? null : intField(r.wait, 'wait', 0, Number.MAX_SAFE_INTEGER);
  if (role === 'guardian' && (scopes.length > 0 || wait !== null)) throw new Invalid('a guardian delegation has no scopes and no wait (a guardian acts for the subject)');
  if (role === 'emergency' && (scopes.length === 0 || wait === null)) throw new Invalid('an emergency delegation names its scopes and its wait');
  return { delegate: didField(r.delegate, 'delegate'), role, expires: optionalTime(r.expires, 'expires'), scopes, wait, keys: sealedKeys(r.keys, 'keys') };
}

function handover(value: unknown): HandoverBody {
  const r = exactObject(value, ['subject', 'devices', 'guardians'], 'handover body');
  const devices = listField(r.devices, 'devices', didField);
  if (devices.length === 0) throw new Invalid('devices is empty: the new owner needs a device');
  strictlyAscending(devices, 'devices');
  return { subject: didField(r.subject, 'subject'), devices, guardians: oneOf(r.guardians, ['end', 'read'] as const, 'guardians') };
}

function protect(value: unknown): ProtectBody {
  const r = exactObject(value, ['scopes', 'from'], 'protect body');
  const scopes = listField(r.scopes, 'scopes', scopeField);
  if (scopes.length === 0) throw new Invalid('scopes is empty');
  strictlyAscending(scopes, 'scopes');
  return { scopes, from: intField(r.from, 'from', 0, Number.MAX_SAFE_INTEGER) };
}

function emergencyRequest(value: unknown): EmergencyRequestBody {
  const r = exactObject(value, ['delegation', 'reason'], 'emergency.request body');
  return { delegation: idField(r.delegation, 'delegation'), reason: optionalText(r.reason, 'reason') };
}

function emergencyDeny(value: unknown): EmergencyDenyBody {
  const r = exactObject(value, ['request', 'reason'], 'emergency.deny body');
  return { request: idField(r.request, 'request'), reason: optionalText(r.reason, 'reason') };
}

function undelegate(value: unknown): UndelegateBody {
  const r = exactObject(value, ['delegation', 'delegate'], 'undelegate body');
  return { delegation: idField(r.delegation, 'delegation'), delegate: didField(r.delegate, 'delegate') };
}

function grant(value: unknown): GrantBody {
  const r = exactObject(value, ['grantee', 'scopes', 'actions', 'purpose', 'expires', 'keys'], 'grant body');
  const scopes = listField(r.scopes, 'scopes', scopeField);
  if (scopes.length === 0) throw new Invalid('scopes is empty');
  strictlyAscending(scopes, 'scopes');
  const actions = listField(r.actions, 'actions', (v, l) => oneOf(v, ACTIONS, l));
  if (actions.length === 0) throw new Invalid('actions is empty');
  strictlyAscending(actions, 'actions');
  const keys = sealedKeys(r.keys, 'keys');
  for (const key of keys) if (!scopes.includes(key.scope)) throw new Invalid('keys names a scope the grant does not give');
  return {
    grantee: didField(r.grantee, 'grantee'),
    scopes,
    actions,
    purpose: oneOf(r.purpose, PURPOSES, 'purpose'),
    expires: optionalTime(r.expires, 'expires'),
    keys,
  };
}

function revoke(value: unknown): RevokeBody {
  const r = exactObject(value, ['grant', 'reason'], 'revoke body');
  return { grant: idField(r.grant, 'grant'), reason: optionalText(r.reason, 'reason') };
}

function rekey(value: unknown): RekeyBody {
  const r = exactObject(value, ['grant', 'keys'], 'rekey body');
  const keys = sealedKeys(r.keys, 'keys');
  if (keys.length === 0) throw new Invalid('keys is empty');
  return { grant: idField(r.grant, 'grant'), keys };
}

function consent(value: unknown): ConsentBody {
  const r = exactObject(value, ['grant', 'consent'], 'consent body');
  const resource = r.consent;
  if (typeof resource !== 'object' || resource === null || Array.isArray(resource) || resource instanceof Uint8Array) {
    throw new Invalid('consent is not a FHIR resource');
  }
  if ((resource as Record<string, unknown>).resourceType !== 'Consent') throw new Invalid('consent.resourceType is not "Consent"');
  return { grant: r.grant === null ? null : idField(r.grant, 'grant'), consent: resource as Record<string, unknown> };
}

function access(value: unknown): AccessBody {
  const r = exactObject(value, ['grant', 'scope', 'heads'], 'access body');
  const heads = listField(
    r.heads,
    'heads',
    (v, l) => {
      if (typeof v !== 'string' || !HEAD_PATTERN.test(v)) throw new Invalid(`${l} is not a 64-digit lower-case hex hash`);
      return v;
    },
    MAX_LIST_ITEMS,
  );
  strictlyAscending(heads, 'heads');
  return { grant: idField(r.grant, 'grant'), scope: scopeField(r.scope, 'scope'), heads };
}

function erase(value: unknown): EraseBody {
  const r = exactObject(value, ['grant'], 'erase body');
  return { grant: idField(r.grant, 'grant') };
}

const PARSERS: { [T in EntryType]: (value: unknown) => BodyOf[T] } = {
  genesis,
  'device.add': deviceAdd,
  'device.remove': deviceRemove,
  delegate,
  undelegate,
  grant,
  revoke,
  rekey,
  consent,
  access,
  erase,
  handover,
  protect,
  'emergency.request': emergencyRequest,
  'emergency.deny': emergencyDeny,
};

/** Checks a decoded body against its type's schema; throws {@link Invalid}. */
export function parseBody<T extends EntryType>(type: T, value: unknown): BodyOf[T] {
  return PARSERS[type](value);
}

/** Decodes and checks a body's canonical bytes. Throws CryptoError (NON_CANONICAL) or {@link Invalid}. */
export function decodeBody<T extends EntryType>(type: T, bytes: Uint8Array): BodyOf[T] {
  return parseBody(type, decodeCanonical(bytes, MAX_BODY_BYTES));
}

/** The wire value of a body: entry ids become their 32 bytes. */
function toWire(type: EntryType, body: EntryBody): unknown {
  const b = body as unknown as Record<string, unknown>;
  switch (type) {
    case 'undelegate':
      return { ...b, delegation: idBytes((body as UndelegateBody).delegation) };
    case 'revoke':
    case 'rekey':
    case 'access':
    case 'erase':
      return { ...b, grant: idBytes(b.grant as string) };
    case 'consent':
      return { ...b, grant: b.grant === null ? null : idBytes(b.grant as string) };
    case 'emergency.request':
      return { ...b, delegation: idBytes(b.delegation as string) };
    case 'emergency.deny':
      return { ...b, request: idBytes(b.request as string) };
    default:
      return b;
  }
}

/**
 * Canonical bytes of a body, after checking it against its schema (so a writer can never sign a
 * body a verifier would refuse). Throws {@link Invalid}.
 */
export function encodeBody<T extends EntryType>(type: T, body: BodyOf[T]): Uint8Array {
  let wire: unknown;
  try {
    wire = toWire(type, body);
  } catch (error) {
    if (error instanceof CryptoError) throw new Invalid('an entry id in the body is not a 43-character base64url id');
    throw error;
  }
  const bytes = plainBytes(encodeCanonical(wire));
  if (bytes.length > MAX_BODY_BYTES) throw new Invalid(`body is larger than ${MAX_BODY_BYTES} bytes`);
  // Round trip through the verifier's own parser: what we sign is exactly what it accepts.
  decodeBody(type, bytes);
  return bytes;
}

/** Types whose bodies every party holding the log receives: they define who may act. */
export const PUBLIC_BODY_TYPES: ReadonlySet<EntryType> = new Set(['genesis', 'device.add', 'device.remove', 'handover', 'protect']);
