import type { SyncErrorCode } from '../errors.js';

/** The codes an invitation exchange can end with. */
export const INVITE_END_CODES = [
  'UNKNOWN_TOKEN',
  'TOKEN_USED',
  'TOKEN_EXPIRED',
  'DENIED',
  'LIMIT_REACHED',
  'TIMEOUT',
  'MALFORMED_MESSAGE',
  'MESSAGE_TOO_LARGE',
  'INTERNAL',
] as const satisfies readonly SyncErrorCode[];

/** One of {@link INVITE_END_CODES}. */
export type InviteEndCode = (typeof INVITE_END_CODES)[number];
