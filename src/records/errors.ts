/**
 * Typed errors of src/records. Every failure has a stable `code`; a message names where the input
 * went wrong (an entry, a rule, a field path), never a value from it: no health data, key or
 * passphrase ever reaches a message or a log line.
 */

/** Stable codes of the errors this layer throws. Add new codes here (one per line). */
export type RecordsErrorCode =
  // Arguments of the wrong kind (a programming error, not bad data).
  | 'INVALID_INPUT'
  // The input as a whole.
  | 'UNKNOWN_FORMAT'
  | 'INVALID_ENCODING'
  | 'MALFORMED_JSON'
  | 'FILE_TOO_LARGE'
  | 'TOO_DEEP'
  | 'TOO_MANY_RESOURCES'
  // One or more entries broke a rule; `problems` lists each (entry + rule).
  | 'INVALID_RESOURCE'
  // FHIR definitions could not be loaded (missing or mismatched generated file).
  | 'DEFINITIONS_UNAVAILABLE'
  // SMART Health Cards (src/records/shc/card.ts says when each is raised).
  | 'SHC_MALFORMED'
  | 'SHC_BAD_HEADER'
  | 'SHC_BAD_PAYLOAD'
  | 'SHC_TOO_LARGE'
  | 'SHC_BAD_CHUNKS'
  | 'SHC_BAD_SIGNATURE'
  | 'SHC_UNKNOWN_KID'
  | 'SHC_UNTRUSTED_ISSUER'
  | 'SHC_BAD_JWKS'
  | 'SHC_NOT_YET_VALID'
  | 'SHC_EXPIRED'
  // Images holding a QR code.
  | 'IMAGE_UNREADABLE'
  | 'IMAGE_NO_QR';

/**
 * One rule broken by one part of the input. `entry` says where (`entry[3]`, `card 2`, `resource`),
 * `rule` is a stable code (`R4_CARDINALITY`, `DANGLING_REFERENCE`, `SHC_BAD_SIGNATURE`…), and
 * `message` explains it without quoting any value from the record.
 */
export interface ImportProblem {
  entry: string;
  rule: string;
  message: string;
}

/** Every failure in src/records. */
export class RecordsError extends Error {
  override readonly name = 'RecordsError';
  readonly code: RecordsErrorCode;
  /** The rules broken, for `INVALID_RESOURCE` and card-level failures; empty otherwise. */
  readonly problems: readonly ImportProblem[];

  constructor(code: RecordsErrorCode, message: string, options?: { cause?: unknown; problems?: readonly ImportProblem[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.problems = options?.problems ?? [];
  }
}

/** True if `e` is a {@link RecordsError}, optionally with the given code. */
export function isRecordsError(e: unknown, code?: RecordsErrorCode): e is RecordsError {
  return e instanceof RecordsError && (code === undefined || e.code === code);
}
