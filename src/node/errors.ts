/** Stable codes of the errors src/node throws. */
export type NodeErrorCode =
  /** The vault is locked: unlock it first. */
  | 'LOCKED'
  /** No such vault, grant, request, or shared vault here. */
  | 'NOT_FOUND'
  /** This device may not do that (not an owner device; not a grantee of that scope). */
  | 'NOT_AUTHORIZED'
  /** Wrong arguments (the message says which). */
  | 'INVALID_INPUT'
  /** The engine is not started, or already stopped. */
  | 'NOT_RUNNING'
  /** A peer could not be reached or refused; `cause` holds the SyncError. */
  | 'SYNC_FAILED'
  /** A guardian asked to share (grant, name an emergency contact for) a dependent-only scope. */
  | 'SCOPE_PROTECTED';

/**
 * Every failure of the engine. Messages name what was wrong (a grant id, a scope, a did), never a
 * record's content, a key or a passphrase.
 */
export class NodeError extends Error {
  override readonly name = 'NodeError';
  readonly code: NodeErrorCode;

  constructor(code: NodeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
