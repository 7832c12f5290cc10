import type { SyncErrorCode } from '../errors.js';

/** The codes a log exchange can end with. */
export const LOG_END_CODES = [
  'NOT_AUTHORIZED',
  'INVALID_ENTRY',
  'FORK',
  'MALFORMED_MESSAGE',
  'MESSAGE_TOO_LARGE',
  'UNEXPECTED_MESSAGE',
  'LIMIT_REACHED',
  'TIMEOUT',
  'INTERNAL',
] as const satisfies readonly SyncErrorCode[];

/** One of {@link LOG_END_CODES}. */
export type LogEndCode = (typeof LOG_END_CODES)[number];
