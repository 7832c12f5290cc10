import { z } from 'zod';
import { MAX_NOTE_CHARS, MAX_REQUESTED_SCOPES, MAX_REQUESTER_NAME_CHARS, TOKEN_BYTES } from './constants.js';

/** What a redeemer asks for: shown to the patient, who may approve it as asked, edit it or deny it. */
export const shareRequestSchema = z.object({
  /** The requester's display name (a clinic, a pharmacy); the did is proven by the connection. */
  name: z.string().min(1).max(MAX_REQUESTER_NAME_CHARS),
  scopes: z.array(z.string().min(1).max(64)).max(MAX_REQUESTED_SCOPES),
  purpose: z.enum(['treatment', 'research', 'family', 'emergency']),
  /** Requested length of the grant in days. */
  days: z.number().int().min(1).max(3650),
  note: z.string().max(MAX_NOTE_CHARS).optional(),
});

/** Redeemer → patient: the token and the request. */
export const redeemSchema = z.object({
  v: z.literal(1),
  t: z.literal('redeem'),
  token: z.instanceof(Uint8Array).refine((b) => b.length === TOKEN_BYTES, { message: `token must be ${TOKEN_BYTES} bytes` }),
  request: shareRequestSchema,
});
/** Patient → redeemer: the request is queued for the patient's decision. */
export const queuedSchema = z.object({ v: z.literal(1), t: z.literal('queued'), id: z.string().min(1).max(64) });
/** Patient → redeemer: approved, with the vault to replicate and the grant's entry id. */
export const approvedSchema = z.object({
  v: z.literal(1),
  t: z.literal('approved'),
  vault: z.string().min(1).max(128),
  grant: z.string().max(64).optional(),
  scopes: z.array(z.string().min(1).max(64)).max(MAX_REQUESTED_SCOPES),
  expires: z.number().int().min(0),
});

/** {@link shareRequestSchema}'s type. */
export type ShareRequest = z.infer<typeof shareRequestSchema>;
/** {@link approvedSchema}'s type, less the envelope. */
export type Approval = Omit<z.infer<typeof approvedSchema>, 'v' | 't'>;
