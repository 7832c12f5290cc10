import { z } from 'zod';
import { bytesMax } from '../framing.js';
import {
  MAX_ENTRIES_PER_BATCH,
  MAX_FRONTIER_AUTHORS,
  MAX_TREE_HEAD_BYTES,
  MAX_WANTED_BODIES,
  MAX_WIRE_BODY_BYTES,
  MAX_WIRE_HEADER_BYTES,
} from './constants.js';

const vault = z.string().min(1).max(128);
/** An entry id: base64url SHA-256, 43 characters. */
const entryId = z.string().regex(/^[A-Za-z0-9_-]{43}$/);
const did = z.string().min(8).max(128).startsWith('did:key:');

/** The newest entry this side holds from one author. */
export const frontierItemSchema = z.object({ author: did, seq: z.number().int().min(0).max(2 ** 32), id: entryId });
/** An entry as it travels: signed header, signature, body when the receiver is entitled to it. */
export const wireEntrySchema = z.object({
  header: bytesMax(MAX_WIRE_HEADER_BYTES),
  signature: z.custom<Uint8Array>((b) => b instanceof Uint8Array && b.length === 64, { message: 'signature must be 64 bytes' }),
  body: bytesMax(MAX_WIRE_BODY_BYTES).optional(),
});

/**
 * Both sides, first: the vault, what each holds (per-author frontier), its signed tree head, and
 * (`want`, optional) ids of entries it holds without their body: the other side sends those bodies
 * it may send this side now (it became entitled after it took the header). Optional within wire
 * version 1: a peer that does not know `want` ignores it (unknown fields are stripped) and one
 * that sends none gets only what its frontier lacks, as before.
 */
export const helloSchema = z.object({
  v: z.literal(1),
  t: z.literal('hello'),
  vault,
  frontier: z.array(frontierItemSchema).max(MAX_FRONTIER_AUTHORS),
  sth: bytesMax(MAX_TREE_HEAD_BYTES).optional(),
  want: z.array(entryId).max(MAX_WANTED_BODIES).optional(),
});
/** A batch of entries the other side lacks, in an order where parents come first. */
export const entriesSchema = z.object({ v: z.literal(1), t: z.literal('entries'), entries: z.array(wireEntrySchema).min(1).max(MAX_ENTRIES_PER_BATCH) });
/** Nothing more to send; `count` entries were sent in all. */
export const doneSchema = z.object({ v: z.literal(1), t: z.literal('done'), count: z.number().int().min(0) });
/** After verifying and storing all it received: how many it accepted. The exchange succeeds when both acknowledge. */
export const ackSchema = z.object({ v: z.literal(1), t: z.literal('ack'), accepted: z.number().int().min(0) });
/** What may follow the hellos. */
export const streamMessageSchema = z.discriminatedUnion('t', [entriesSchema, doneSchema]);

/** {@link frontierItemSchema}'s type. */
export type FrontierItem = z.infer<typeof frontierItemSchema>;
/** {@link wireEntrySchema}'s type (the shape of src/grants' SignedEntry). */
export type WireEntry = z.infer<typeof wireEntrySchema>;
/** {@link helloSchema}'s type. */
export type HelloMessage = z.infer<typeof helloSchema>;
