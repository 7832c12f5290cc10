import type { Did } from '../crypto/index.js';
import type { Problem } from './errors.js';
import type { ScopeName } from './scopes.js';
import type { DelegateRole, EntryId, GrantAction, GrantPurpose, VaultId } from './types.js';

/** How an entry stands after verification (docs/log-format.md, "Authority"). */
export type EntryStatus =
  /** Its author had authority for it, and nothing concurrent took that authority away. */
  | 'valid'
  /** Its author had no authority for it even in its own view: a rule was broken (UNAUTHORIZED). */
  | 'unauthorized'
  /** Its author had authority in its own view, but a removal it had not seen ended it: no effect. */
  | 'superseded'
  /** Its author had equivocated at or before this sequence number: no effect. */
  | 'equivocated'
  /** A body this verifier does not hold (withheld) is needed to decide: no effect for this verifier. */
  | 'undetermined';

/** A device (or the subject) that may act as the owner at `now`. */
export interface LiveDevice {
  readonly did: Did;
  readonly role: 'subject' | 'device';
  /** The entry that made it a device (the genesis or a `device.add`). */
  readonly entry: EntryId;
}

/** A delegation live at `now`. */
export interface LiveDelegation {
  /** The `delegate` entry (or the genesis, for a delegation the genesis names). */
  readonly entry: EntryId;
  readonly delegate: Did;
  readonly role: DelegateRole;
  readonly expires: number | null;
  readonly author: Did;
}

/** A grant live at `now`: made with authority, not revoked, not expired. */
export interface LiveGrant {
  readonly entry: EntryId;
  readonly grantee: Did;
  readonly scopes: readonly ScopeName[];
  readonly actions: readonly GrantAction[];
  readonly purpose: GrantPurpose;
  /** The earlier of the grant's own expiry and that of the delegation its author acted under. */
  readonly expires: number | null;
  readonly author: Did;
  /** Whether the author acted as owner (subject or device) or as a guardian. */
  readonly as: 'owner' | 'guardian';
}

/** A dependent-only protection: from `from` on, guardians can neither read nor share `scopes`. */
export interface Protection {
  readonly entry: EntryId;
  readonly scopes: readonly ScopeName[];
  readonly from: number;
  readonly author: Did;
}

/** An emergency request and where it stands at `now`. */
export interface EmergencyAccess {
  /** The `emergency.request` entry. */
  readonly request: EntryId;
  readonly contact: Did;
  /** The delegation it was made under. */
  readonly delegation: EntryId;
  readonly scopes: readonly ScopeName[];
  /** When access opens if nobody denies it before (request time + the delegation's wait). */
  readonly opensAt: number;
  /** The delegation's expiry (access ends with it). */
  readonly expires: number | null;
  /** waiting: the wait is running; open: access is live; denied: denied in time; ended: the delegation ended. */
  readonly state: 'waiting' | 'open' | 'denied' | 'ended';
  /** The denial, if one came in time. */
  readonly deniedBy: EntryId | null;
}

/** Two entries of one author at one sequence number: both kept as proof. */
export interface Equivocation {
  readonly author: Did;
  readonly seq: number;
  /** Sorted. */
  readonly entries: readonly EntryId[];
}

/** A fork of signed tree heads, base64url-encoded so the verdict is plain JSON. */
export interface ForkEvidence {
  readonly signer: Did;
  readonly vault: VaultId;
  readonly size: number;
  readonly heads: readonly { readonly head: string; readonly signature: string }[];
}

/**
 * The result of verifying a log at `now`. Everything but `tree` is a function of the set of entries
 * (the same in any arrival order); `tree` is the Merkle tree head of this copy's log order.
 */
export interface Verdict {
  /** True exactly when `problems` is empty. */
  readonly valid: boolean;
  readonly vault: VaultId;
  /** The `now` (ms since the epoch) the live sets were computed for. */
  readonly now: number;
  /** Entries in the log (signed, linked, of this vault). */
  readonly size: number;
  /** Sorted by entry, then code. */
  readonly problems: readonly Problem[];
  /** Entries no other entry names as prev or dep, sorted. */
  readonly heads: readonly EntryId[];
  readonly tree: { readonly size: number; readonly root: string };
  /** The live subject (after a handover, the new one). */
  readonly subject: Did | null;
  readonly devices: readonly LiveDevice[];
  readonly delegations: readonly LiveDelegation[];
  readonly grants: readonly LiveGrant[];
  /** Dependent-only scopes and since when. */
  readonly protections: readonly Protection[];
  /** Every emergency request with its state at `now`. */
  readonly emergencies: readonly EmergencyAccess[];
  readonly equivocations: readonly Equivocation[];
  readonly forks: readonly ForkEvidence[];
  /** How many entries' bodies this copy does not hold. */
  readonly withheld: number;
  /** Entries whose authority needs a body this copy does not hold, sorted. */
  readonly undetermined: readonly EntryId[];
}

/** Whether a party may have a scope at `now`, and through what. */
export interface Entitlement {
  readonly entitled: boolean;
  /**
   * owner: the subject or a device; guardian: a live guardian delegation; reader: a guardian kept
   * read-only by a handover; grant: a live grant; emergency: an emergency request that opened.
   */
  readonly as: 'owner' | 'guardian' | 'reader' | 'grant' | 'emergency' | null;
  /** The grant, delegation or emergency request it rests on (null for owner or when not entitled). */
  readonly entry: EntryId | null;
  /** When the entitlement ends, if it does. */
  readonly expires: number | null;
}
