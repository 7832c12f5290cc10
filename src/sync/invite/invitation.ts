import { multiaddr } from '@multiformats/multiaddr';
import { z } from 'zod';
import { SyncError } from '../errors.js';
import { bytesMax } from '../framing.js';
import { decodeCanonical, didFromPublicKey, encodeCanonical, fromBase64Url, peerIdFromDid, publicKeyFromDid, randomBytes, toBase64Url, type Did } from '../../crypto/index.js';
import { DEFAULT_INVITATION_TTL_MS, INVITATION_SCHEME, MAX_INVITATION_CHARS, TOKEN_BYTES } from './constants.js';

/** A one-time invitation: whom to reach, through which relay, with which token, until when. */
export interface Invitation {
  /** The patient (the inviting device's did; its PeerId is derived from it). */
  readonly did: Did;
  /** The relay's multiaddr, ending in `/p2p/<relay id>`; or a direct address of the patient. */
  readonly relay: string;
  /** One-time secret, {@link TOKEN_BYTES} random bytes. */
  readonly token: Uint8Array;
  /** Epoch ms after which the token is refused. */
  readonly expires: number;
}

// Compact wire form: short keys, the raw 32-byte public key and the binary multiaddr keep the
// string near 150 characters, a QR code of version 7–8.
const wireSchema = z.object({
  v: z.literal(1),
  k: z.instanceof(Uint8Array).refine((b) => b.length === 32, { message: 'key must be 32 bytes' }),
  r: bytesMax(200),
  t: z.instanceof(Uint8Array).refine((b) => b.length === TOKEN_BYTES, { message: `token must be ${TOKEN_BYTES} bytes` }),
  e: z.number().int().min(0).max(2 ** 42),
});

/** A new invitation with a fresh random token. */
export function newInvitation(did: Did, relay: string, options: { now?: number; ttlMs?: number } = {}): Invitation {
  const now = options.now ?? Date.now();
  checkRelay(relay);
  return { did, relay, token: randomBytes(TOKEN_BYTES), expires: now + (options.ttlMs ?? DEFAULT_INVITATION_TTL_MS) };
}

/** The `pvault:` string of an invitation: base64url of its canonical DAG-CBOR. */
export function encodeInvitation(invitation: Invitation): string {
  const wire = {
    v: 1,
    k: publicKeyFromDid(invitation.did),
    r: multiaddr(invitation.relay).bytes,
    t: invitation.token,
    e: Math.floor(invitation.expires / 1000),
  };
  return `${INVITATION_SCHEME}${toBase64Url(encodeCanonical(wire))}`;
}

/** Parses a `pvault:` string. Throws {@link SyncError} BAD_INVITATION saying what is wrong. */
export function decodeInvitation(text: string): Invitation {
  if (typeof text !== 'string') throw new SyncError('BAD_INVITATION', 'invitation must be a string');
  const trimmed = text.trim();
  if (trimmed.length > MAX_INVITATION_CHARS) throw new SyncError('BAD_INVITATION', `invitation longer than ${MAX_INVITATION_CHARS} characters`);
  if (!trimmed.startsWith(INVITATION_SCHEME)) throw new SyncError('BAD_INVITATION', `invitation must start with '${INVITATION_SCHEME}'`);
  let value: unknown;
  try {
    value = decodeCanonical(fromBase64Url(trimmed.slice(INVITATION_SCHEME.length)));
  } catch (cause) {
    throw new SyncError('BAD_INVITATION', 'invitation is not valid base64url DAG-CBOR', { cause });
  }
  const parsed = wireSchema.safeParse(value);
  if (!parsed.success) throw new SyncError('BAD_INVITATION', `invitation field ${parsed.error.issues[0]?.path.join('.') ?? ''} is invalid`);
  let relay: string;
  let did: Did;
  try {
    relay = multiaddr(parsed.data.r).toString();
    did = didFromPublicKey(parsed.data.k);
  } catch (cause) {
    throw new SyncError('BAD_INVITATION', 'invitation names an invalid address or key', { cause });
  }
  return { did, relay, token: parsed.data.t, expires: parsed.data.e * 1000 };
}

/**
 * The address to dial the inviting patient at: through the relay's circuit when the invitation
 * names a relay, else the direct address itself.
 */
export function invitationDialAddress(invitation: Invitation): string {
  const patient = peerIdFromDid(invitation.did).toString();
  if (invitation.relay.endsWith(`/p2p/${patient}`)) return invitation.relay;
  return `${invitation.relay}/p2p-circuit/p2p/${patient}`;
}

function checkRelay(relay: string): void {
  try {
    multiaddr(relay);
  } catch (cause) {
    throw new SyncError('INVALID_INPUT', 'relay is not a multiaddr', { cause });
  }
}
