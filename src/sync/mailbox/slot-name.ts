import { SyncError } from '../errors.js';
import type { Did } from '../../crypto/index.js';
import { SLOT_PREFIX } from './constants.js';

/** A slot: what `depositor` left at the relay for `recipient`, under a name (a scope, `log`, `inbox`). */
export interface SlotAddress {
  readonly depositor: Did;
  readonly recipient: Did;
  readonly name: string;
}

const DID = /^did:key:z[1-9A-HJ-NP-Za-km-z]{40,60}$/;
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** The doc-protocol document name of a slot: `mailbox/<depositor>/<recipient>/<name>`. */
export function slotDocName(slot: SlotAddress): string {
  if (!DID.test(slot.depositor) || !DID.test(slot.recipient)) throw new SyncError('INVALID_INPUT', 'slot parties must be did:key');
  if (!NAME.test(slot.name)) throw new SyncError('INVALID_INPUT', 'slot name must be 1–64 of a-z 0-9 . _ -');
  return `${SLOT_PREFIX}${slot.depositor}/${slot.recipient}/${slot.name}`;
}

/** Parses a slot document name; undefined if `doc` is not one. */
export function parseSlotDocName(doc: string): SlotAddress | undefined {
  if (!doc.startsWith(SLOT_PREFIX)) return undefined;
  const parts = doc.slice(SLOT_PREFIX.length).split('/');
  if (parts.length !== 3) return undefined;
  const [depositor, recipient, name] = parts as [string, string, string];
  if (!DID.test(depositor) || !DID.test(recipient) || !NAME.test(name)) return undefined;
  return { depositor: depositor as Did, recipient: recipient as Did, name };
}
