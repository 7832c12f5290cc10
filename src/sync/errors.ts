/** Stable codes of the errors src/sync throws and of the reasons a protocol stream ends with. */
export type SyncErrorCode =
  /** The remote sent bytes that are not a valid message of this protocol (bad CBOR, wrong shape). */
  | 'MALFORMED_MESSAGE'
  /** A frame longer than the protocol allows (the length prefix alone is enough to refuse it). */
  | 'MESSAGE_TOO_LARGE'
  /** A message of a protocol version this node does not speak. */
  | 'UNSUPPORTED_VERSION'
  /** A message that is valid but not expected at this point of the exchange. */
  | 'UNEXPECTED_MESSAGE'
  /** The remote did not answer in time. */
  | 'TIMEOUT'
  /** The stream closed before the exchange finished. */
  | 'STREAM_CLOSED'
  /** The remote holds no live grant (or other authority) for what it asked. */
  | 'NOT_AUTHORIZED'
  /** The authority the remote held ended during the exchange (revoked or expired grant). */
  | 'AUTHORIZATION_ENDED'
  /** A read-only party sent changes the serving side does not have. */
  | 'READ_ONLY'
  /** The requested document or vault is not held here. */
  | 'NOT_FOUND'
  /** A log entry or tree head failed verification. */
  | 'INVALID_ENTRY'
  /** Two signed tree heads of one author disagree: kept as proof. */
  | 'FORK'
  /** An invitation token nobody issued. */
  | 'UNKNOWN_TOKEN'
  /** An invitation token already redeemed. */
  | 'TOKEN_USED'
  /** An invitation past its expiry. */
  | 'TOKEN_EXPIRED'
  /** The patient declined the request. */
  | 'DENIED'
  /** An invitation string that cannot be decoded. */
  | 'BAD_INVITATION'
  /** A peer, mailbox or queue limit was reached. */
  | 'LIMIT_REACHED'
  /** The remote ended the stream with a reason we do not know. */
  | 'REMOTE_ERROR'
  /** Wrong arguments to a function of this layer. */
  | 'INVALID_INPUT'
  /** The local side failed while serving (storage, verification code): not the remote's fault. */
  | 'INTERNAL';

/** Every code, for validating a reason a remote sent. */
export const SYNC_ERROR_CODES: readonly SyncErrorCode[] = [
  'MALFORMED_MESSAGE',
  'MESSAGE_TOO_LARGE',
  'UNSUPPORTED_VERSION',
  'UNEXPECTED_MESSAGE',
  'TIMEOUT',
  'STREAM_CLOSED',
  'NOT_AUTHORIZED',
  'AUTHORIZATION_ENDED',
  'READ_ONLY',
  'NOT_FOUND',
  'INVALID_ENTRY',
  'FORK',
  'UNKNOWN_TOKEN',
  'TOKEN_USED',
  'TOKEN_EXPIRED',
  'DENIED',
  'BAD_INVITATION',
  'LIMIT_REACHED',
  'REMOTE_ERROR',
  'INVALID_INPUT',
  'INTERNAL',
];

/**
 * Every failure in src/sync. Messages name the protocol, the peer and the rule broken, never a
 * document's content, a key or a token.
 */
export class SyncError extends Error {
  override readonly name = 'SyncError';
  readonly code: SyncErrorCode;

  constructor(code: SyncErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Whether `value` is one of the known codes (for reasons read off the wire). */
export function isSyncErrorCode(value: unknown): value is SyncErrorCode {
  return typeof value === 'string' && (SYNC_ERROR_CODES as readonly string[]).includes(value);
}

/**
 * A short, safe description of any thrown value. libp2p stream errors are sometimes bare DOM
 * `Event`s without a message (STACK.md), so never rely on `.message` being there.
 */
export function describeError(error: unknown): string {
  if (error instanceof SyncError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return error.name && error.message ? `${error.name}: ${error.message}` : error.name || 'Error';
  if (typeof Event !== 'undefined' && error instanceof Event) return `event '${error.type}'`;
  return typeof error;
}
