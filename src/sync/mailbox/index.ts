/**
 * The relay's store-and-forward mailbox: sealed Automerge documents (scopes, log entries, inbox
 * results) left for a party that is offline, merged without keys, handed over later.
 * @packageDocumentation
 */
export {
  MAILBOX_PROTOCOL,
  SLOT_PREFIX,
  MAX_MAILBOX_MESSAGE_BYTES,
  MAX_SLOTS_PER_DEPOSITOR,
  MAX_LISTED_SLOTS,
  MAX_SLOT_BYTES,
  MAX_BYTES_PER_DEPOSITOR,
  MAX_LOADED_SLOTS,
  MAX_LOADED_SLOT_BYTES,
  SLOT_IDLE_MS,
  PERSIST_DELAY_MS,
  MAILBOX_READ_TIMEOUT_MS,
} from './constants.js';
export { slotDocName, parseSlotDocName, type SlotAddress } from './slot-name.js';
export type { ListedSlot } from './messages.js';
export type { MailboxStorage } from './storage.js';
export { Mailbox, MailboxClient, type MailboxInit, type MailboxComponents } from './mailbox.js';
