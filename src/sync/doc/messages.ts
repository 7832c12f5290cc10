import { z } from 'zod';
import { bytesMax } from '../framing.js';
import { MAX_DOC_MESSAGE_BYTES, MAX_DOC_NAME_CHARS, MAX_HEADS, MAX_VAULT_ID_CHARS } from './constants.js';

/** An Automerge change hash: 32 bytes as 64 lowercase hex characters. */
const head = z.string().regex(/^[0-9a-f]{64}$/);
const heads = z.array(head).max(MAX_HEADS);
// Room for the envelope around the largest payload.
const payload = bytesMax(MAX_DOC_MESSAGE_BYTES - 1024);

/** Dialer → listener, first: which document, and the heads the dialer holds (empty = nothing). */
export const openSchema = z.object({
  v: z.literal(1),
  t: z.literal('open'),
  vault: z.string().min(1).max(MAX_VAULT_ID_CHARS),
  doc: z.string().min(1).max(MAX_DOC_NAME_CHARS),
  heads,
});
/** Listener → dialer after authorizing: the listener's heads, and what the dialer may do. */
export const readySchema = z.object({
  v: z.literal(1),
  t: z.literal('ready'),
  heads,
  access: z.enum(['read', 'write']),
});
/** The whole document (`Automerge.save`) for a side that holds nothing yet (STACK.md: 13–16× faster). */
export const snapshotSchema = z.object({ v: z.literal(1), t: z.literal('snapshot'), bytes: payload });
/** One Automerge sync message, with the sender's heads (so each side knows when both agree). */
export const syncSchema = z.object({ v: z.literal(1), t: z.literal('sync'), msg: payload, heads });
/** What either side may send once the exchange runs. */
export const sessionMessageSchema = z.discriminatedUnion('t', [snapshotSchema, syncSchema]);

/** {@link openSchema}'s type. */
export type OpenMessage = z.infer<typeof openSchema>;
/** {@link readySchema}'s type. */
export type ReadyMessage = z.infer<typeof readySchema>;
/** {@link sessionMessageSchema}'s type. */
export type SessionMessage = z.infer<typeof sessionMessageSchema>;
