/**
 * src/grants: the grant log. Every access decision of a vault is a signed, hash-chained entry in
 * an append-only log replicated to everyone who holds a grant on it; this layer writes entries,
 * verifies logs (a pure function of the entries and `now`), decides who may act and who may have
 * which scope, withholds bodies a party is not entitled to, and proves with Merkle trees and
 * signed tree heads that a log extends another. The format is in docs/log-format.md.
 * @packageDocumentation
 */

/** Scope names, the sensitive ones, and the guard that turns a string into a {@link ScopeName}. */
export { SCOPE_NAMES, SENSITIVE_SCOPES, isScopeName, type ScopeName } from './scopes.js';

/** Error class and codes: {@link GrantsError} for bad calls and unreadable files; {@link Problem} for what verification finds. */
export { GrantsError, PROBLEM_CODES, type GrantsErrorCode, type Problem, type ProblemCode } from './errors.js';

/** Entry ids, types, headers and bodies. */
export {
  ENTRY_TYPES,
  type EntryId,
  type VaultId,
  type EntryType,
  type SignedEntry,
  type EntryHeader,
  type EntryBody,
  type BodyOf,
  type DelegateRole,
  type GrantAction,
  type GrantPurpose,
  type SealedScopeKey,
  type DelegationSpec,
  type GenesisBody,
  type DeviceAddBody,
  type DeviceRemoveBody,
  type DelegateBody,
  type UndelegateBody,
  type GrantBody,
  type RevokeBody,
  type RekeyBody,
  type ConsentBody,
  type AccessBody,
  type EraseBody,
  type HandoverBody,
  type ProtectBody,
  type EmergencyRequestBody,
  type EmergencyDenyBody,
} from './types.js';

/** Limits every parser enforces, and the format's version and signing contexts. */
export {
  LOG_VERSION,
  MAX_HEADER_BYTES,
  MAX_BODY_BYTES,
  MAX_DEPS,
  MAX_LIST_ITEMS,
  MAX_MEMBERS,
  MAX_LOG_FILE_BYTES,
  MAX_LOG_ENTRIES,
  MAX_TREE_HEADS,
  MAX_CLOCK_SKEW_MS,
  LOG_FILE_FORMAT,
} from './constants.js';

/** Low-level entry codec: ids, the signed message, header decoding (for sync and tests). */
export { entryIdOf, decodeHeader, encodeHeader, signEntry, type HeaderFields } from './entry.js';
/** Body codec: canonical bytes of a checked body, and decoding with the same checks. */
export { encodeBody, decodeBody } from './bodies.js';

/** Verification: the incremental {@link LogVerifier} and the one-shot {@link verify}. */
export { LogVerifier, verify, vaultOf, type AddResult, type AddOptions } from './log-verifier.js';
/** What verification returns. */
export type { Verdict, EntryStatus, LiveDevice, LiveDelegation, LiveGrant, Equivocation, ForkEvidence, Entitlement, Protection, EmergencyAccess } from './verdict.js';

/** Writing entries through the same rules the verifier applies. */
export { LogWriter, type WrittenEntry } from './writer.js';
/** Scope keys sealed to a grantee, device or delegate. */
export { sealScopeKey, openScopeKey } from './scope-keys.js';

/** Merkle trees (RFC 9162 §2.1): tree, proofs and their checks. */
export { MerkleTree, merkleRoot, leafHash, nodeHash, EMPTY_ROOT, verifyInclusion, verifyConsistency } from './merkle.js';
/** Signed tree heads and fork detection. */
export {
  signTreeHead,
  decodeTreeHead,
  verifyTreeHead,
  verifyTreeHeads,
  findForks,
  type TreeHead,
  type SignedTreeHead,
  type ForkProof,
} from './tree-head.js';

/** The export file: read, write, export a party's view, verify a file. */
export { decodeLogFile, encodeLogFile, exportLog, verifyLogFile, type LogFile } from './log-file.js';

/** Synthetic logs for the CLI, benchmarks and tests (keys derived from a seed: never real data). */
export { generateSyntheticLog, MIN_SYNTHETIC_ENTRIES, type SyntheticLog, type SyntheticLogOptions, type SyntheticParties } from './synthetic.js';
