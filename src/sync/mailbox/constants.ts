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
/**
 * Largest document one slot may hold. Each frame a depositor announces is checked against the
 * slot's room (saved size + frames admitted since) before it is buffered; a full slot is read-only.
 */
export const MAX_SLOT_BYTES = 64 * 1024 * 1024;
/** Bytes one depositor may keep at the relay over all its slots (checked the same way). */
export const MAX_BYTES_PER_DEPOSITOR = 256 * 1024 * 1024;
/** Slot documents held in memory at once; idle ones beyond it are written and unloaded (LRU). */
export const MAX_LOADED_SLOTS = 256;
/** Bytes of slot documents held in memory at once (by saved size); idle ones beyond it are unloaded. */
export const MAX_LOADED_SLOT_BYTES = 512 * 1024 * 1024;
/** A slot unused for this long, with no session on it, may be unloaded. */
export const SLOT_IDLE_MS = 5_000;
/** Delay before a changed slot is written to storage (changes in a burst are written once). */
export const PERSIST_DELAY_MS = 50;
/** Wait for a control message. */
export const MAILBOX_READ_TIMEOUT_MS = 15_000;
