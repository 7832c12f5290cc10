/** Store-and-forward mailbox control: list what waits for me, drop what I deposited. */
export const MAILBOX_PROTOCOL = '/patient-vault/mailbox/1.0.0';

/** Prefix of a slot's document name in the doc protocol. */
export const SLOT_PREFIX = 'mailbox/';
/** Largest control message. */
export const MAX_MAILBOX_MESSAGE_BYTES = 256 * 1024;
/** Slots one depositor may hold at the relay. */
export const MAX_SLOTS_PER_DEPOSITOR = 1024;
/** Slots listed in one answer. */
export const MAX_LISTED_SLOTS = 1024;
/** Largest saved document one slot may hold; beyond it the depositor may only read. */
export const MAX_SLOT_BYTES = 64 * 1024 * 1024;
/** Delay before a changed slot is written to storage (changes in a burst are written once). */
export const PERSIST_DELAY_MS = 50;
/** Wait for a control message. */
export const MAILBOX_READ_TIMEOUT_MS = 15_000;
