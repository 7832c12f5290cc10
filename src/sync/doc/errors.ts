/**
 * Why a doc exchange ends. The codes are {@link SyncErrorCode}s so both sides read the same reason;
 * this file names the ones the doc protocol uses.
 */
import type { SyncErrorCode } from '../errors.js';

/** The codes a doc stream can end with. */
export const DOC_END_CODES = [
  'NOT_AUTHORIZED',
  'AUTHORIZATION_ENDED',
  'READ_ONLY',
  'NOT_FOUND',
  'MALFORMED_MESSAGE',
  'MESSAGE_TOO_LARGE',
  'UNEXPECTED_MESSAGE',
  'TIMEOUT',
  'LIMIT_REACHED',
  'INTERNAL',
] as const satisfies readonly SyncErrorCode[];

/** One of {@link DOC_END_CODES}. */
export type DocEndCode = (typeof DOC_END_CODES)[number];
