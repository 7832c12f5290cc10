/** Stable codes of the errors src/grants throws (bad calls, unreadable files). */
export type GrantsErrorCode =
  /** A caller passed a wrong type or an out-of-range value. */
  | 'INVALID_INPUT'
  /** An export file is larger than MAX_LOG_FILE_BYTES; it is not read. */
  | 'FILE_TOO_LARGE'
  /** An export file ends before its JSON does (cut off in transit or on disk). */
  | 'TRUNCATED'
  /** An export file is not UTF-8 JSON. */
  | 'BAD_JSON'
  /** An export file nests deeper than the format ever does. */
  | 'TOO_DEEP'
  /** An export file is JSON but not a log: wrong or missing fields, bad base64, wrong lengths. */
  | 'BAD_FORMAT'
  /** An export file, entry header or tree head of a version this code does not know. */
  | 'UNSUPPORTED_VERSION'
  /** An export file holds (or claims) more entries than MAX_LOG_ENTRIES. */
  | 'TOO_MANY_ENTRIES'
  /** An export file's `count` is not the number of entries it holds (truncated or padded). */
  | 'COUNT_MISMATCH'
  /** A writer was asked to sign an entry its author has no authority for (nothing was signed). */
  | 'NOT_AUTHORIZED'
  /** A proof or lookup named an entry or tree size this log does not hold. */
  | 'UNKNOWN_ENTRY'
  /** A signed tree head that cannot be decoded or whose signature fails. */
  | 'BAD_TREE_HEAD';

/**
 * Every failure src/grants throws. Messages name fields and positions, never a key, a body's
 * content or anything health-related.
 */
export class GrantsError extends Error {
  override readonly name = 'GrantsError';
  readonly code: GrantsErrorCode;

  constructor(code: GrantsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/**
 * What verification found wrong, one stable code per rule (docs/log-format.md lists them).
 * `rejected` codes: the entry is not part of the log at all (it may be forged or damaged).
 * `flagged` codes: the entry is kept (it is genuinely signed and linked) but the log breaks a rule.
 */
export const PROBLEM_CODES = {
  // rejected: the entry cannot be read or was not signed as given
  ENTRY_TOO_LARGE: 'rejected',
  NON_CANONICAL: 'rejected',
  BAD_HEADER: 'rejected',
  UNSUPPORTED_VERSION: 'rejected',
  UNKNOWN_TYPE: 'rejected',
  BAD_SIGNATURE: 'rejected',
  WRONG_VAULT: 'rejected',
  BODY_HASH_MISMATCH: 'rejected',
  BAD_BODY: 'rejected',
  BAD_GENESIS: 'rejected',
  DUPLICATE_ENTRY: 'rejected',
  // rejected: the entry does not fit where it claims to be
  MISSING_PARENT: 'rejected',
  BAD_PREV: 'rejected',
  SEQ_GAP: 'rejected',
  BAD_DEPS: 'rejected',
  TS_NOT_AFTER_PARENT: 'rejected',
  // flagged: a file's order lists an entry before its parent (log order is parents first)
  BAD_ORDER: 'flagged',
  // flagged: kept, but it breaks a rule of the log
  NO_GENESIS: 'flagged',
  FUTURE_TIMESTAMP: 'flagged',
  EQUIVOCATION: 'flagged',
  UNAUTHORIZED: 'flagged',
  BODY_MISSING: 'flagged',
  UNKNOWN_TARGET: 'flagged',
  BAD_TARGET: 'flagged',
  TOO_MANY_MEMBERS: 'flagged',
  SCOPE_PROTECTED: 'flagged',
  BACKDATED_DENIAL: 'flagged',
  // tree heads
  BAD_TREE_HEAD: 'flagged',
  TREE_HEAD_MISMATCH: 'flagged',
  FORK: 'flagged',
} as const;

/** A stable problem code (a key of {@link PROBLEM_CODES}). */
export type ProblemCode = keyof typeof PROBLEM_CODES;

/** One thing verification found wrong. */
export interface Problem {
  readonly code: ProblemCode;
  /** The entry concerned (its id), or null for a problem of the log as a whole or of a tree head. */
  readonly entry: string | null;
  /** What is wrong, in words a person can act on (no body content). */
  readonly message: string;
  /** Other entries that are part of the evidence (the other half of an equivocation, a missing parent). */
  readonly related?: readonly string[];
}
