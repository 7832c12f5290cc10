import { z } from 'zod';
import { MAX_LISTED_SLOTS } from './constants.js';

const vault = z.string().min(1).max(128);
const doc = z.string().min(1).max(512);

/** Recipient → relay: which slots wait for me. */
export const listSchema = z.object({ v: z.literal(1), t: z.literal('list') });
/** Depositor → relay: forget this slot (after a revocation, or once delivered). */
export const dropSchema = z.object({ v: z.literal(1), t: z.literal('drop'), vault, doc });
/** A request to the relay. */
export const requestSchema = z.discriminatedUnion('t', [listSchema, dropSchema]);
/** Relay → recipient: the slots addressed to it. */
export const slotsSchema = z.object({
  v: z.literal(1),
  t: z.literal('slots'),
  slots: z.array(z.object({ vault, doc, heads: z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(256) })).max(MAX_LISTED_SLOTS),
});
/** Relay → depositor: the slot is gone. */
export const droppedSchema = z.object({ v: z.literal(1), t: z.literal('dropped'), existed: z.boolean() });

/** One listed slot. */
export type ListedSlot = z.infer<typeof slotsSchema>['slots'][number];
