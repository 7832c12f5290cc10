import type { Brand, Did, Digest } from '../crypto/index.js';
import type { ScopeName } from './scopes.js';

/** An entry id: base64url (no padding) of SHA-256(header bytes ‖ signature). 43 characters. */
export type EntryId = Brand<string, 'EntryId'>;
/** A vault id: the {@link EntryId} of the vault's genesis entry. */
export type VaultId = Brand<string, 'VaultId'>;

/** Every entry type, in the order docs/log-format.md describes them. */
export const ENTRY_TYPES = [
  'genesis',
  'device.add',
  'device.remove',
  'delegate',
  'undelegate',
  'grant',
  'revoke',
  'rekey',
  'consent',
  'access',
  'erase',
  'handover',
  'protect',
  'emergency.request',
  'emergency.deny',
] as const;

/** One of {@link ENTRY_TYPES}. */
export type EntryType = (typeof ENTRY_TYPES)[number];

/**
 * The wire unit of the log: what is signed and what travels. `header` is the canonical DAG-CBOR
 * of {@link EntryHeader} (kept as bytes, so a re-encoding is detected, never normalised);
 * `body` is absent when withheld from this party.
 */
export interface SignedEntry {
  readonly header: Uint8Array;
  readonly signature: Uint8Array;
  readonly body?: Uint8Array;
}

/** The decoded public header of an entry. */
export interface EntryHeader {
  readonly v: 1;
  /** null only in the genesis entry, whose own id is the vault id. */
  readonly vault: VaultId | null;
  readonly author: Did;
  /** Per author, from 0, contiguous. */
  readonly seq: number;
  /** The author's previous entry, null at seq 0. */
  readonly prev: EntryId | null;
  /** Heads of other authors the author had seen (sorted by their bytes, unique). */
  readonly deps: readonly EntryId[];
  /** Milliseconds since the Unix epoch, as the author's clock said; strictly after every parent's. */
  readonly ts: number;
  readonly type: EntryType;
  readonly bodyHash: Digest;
}

/** The role a delegation gives. */
export type DelegateRole = 'guardian' | 'emergency';
/** What a grant allows on its scopes. */
export type GrantAction = 'read' | 'append';
/** Why a grant was made (shown to the patient in the access trail). */
export type GrantPurpose = 'treatment' | 'research' | 'family' | 'emergency';

/** A scope key sealed to one recipient (sealTo; associated data names vault, scope, epoch, recipient). */
export interface SealedScopeKey {
  readonly scope: ScopeName;
  /** Key epoch: a scope key is rotated after a revocation and each epoch is sealed separately. */
  readonly epoch: number;
  readonly box: Uint8Array;
}

/** A guardian named in the genesis entry (e.g. the parents of a child whose vault this is). */
export interface DelegationSpec {
  readonly delegate: Did;
  /** Always 'guardian': emergency contacts are named later, with their scopes and wait. */
  readonly role: DelegateRole;
  /** Milliseconds since the epoch, or null for no expiry. */
  readonly expires: number | null;
}

/** Body of `genesis`: whose vault this is and who first acts for them. */
export interface GenesisBody {
  readonly subject: Did;
  readonly devices: readonly Did[];
  readonly delegates: readonly DelegationSpec[];
  readonly label: string | null;
}
/** Body of `device.add`. `keys` may carry scope keys sealed to the new device. */
export interface DeviceAddBody {
  readonly device: Did;
  readonly label: string | null;
  readonly keys: readonly SealedScopeKey[];
}
/** Body of `device.remove`. */
export interface DeviceRemoveBody {
  readonly device: Did;
}
/**
 * Body of `delegate`. A guardian acts for the subject (scopes empty, wait null); an emergency
 * contact may ask for `scopes`, which open `wait` ms after its request unless it is denied.
 */
export interface DelegateBody {
  readonly delegate: Did;
  readonly role: DelegateRole;
  readonly expires: number | null;
  readonly scopes: readonly ScopeName[];
  readonly wait: number | null;
  readonly keys: readonly SealedScopeKey[];
}
/**
 * Body of `undelegate`: ends one delegation, named by the entry that made it (a `delegate` entry,
 * or the genesis for a delegation the genesis names) and the delegate it names.
 */
export interface UndelegateBody {
  readonly delegation: EntryId;
  readonly delegate: Did;
}
/** Body of `grant`. */
export interface GrantBody {
  readonly grantee: Did;
  /** Sorted, unique, at least one. */
  readonly scopes: readonly ScopeName[];
  /** Sorted, unique, at least one. */
  readonly actions: readonly GrantAction[];
  readonly purpose: GrantPurpose;
  /** Milliseconds since the epoch, or null for no expiry. */
  readonly expires: number | null;
  /** One sealed key per granted scope (the current epoch). */
  readonly keys: readonly SealedScopeKey[];
}
/** Body of `revoke`: ends one grant. */
export interface RevokeBody {
  readonly grant: EntryId;
  readonly reason: string | null;
}
/** Body of `rekey`: new epochs of scope keys for a live grant (after a rotation). */
export interface RekeyBody {
  readonly grant: EntryId;
  readonly keys: readonly SealedScopeKey[];
}
/** Body of `consent`: a FHIR R4 Consent (kept as canonical data), optionally tied to a grant. */
export interface ConsentBody {
  readonly grant: EntryId | null;
  readonly consent: Readonly<Record<string, unknown>>;
}
/** Body of `access`: a receipt the grantee signs each time it pulls a scope. */
export interface AccessBody {
  readonly grant: EntryId;
  readonly scope: ScopeName;
  /** The document heads pulled (Automerge change hashes, hex). */
  readonly heads: readonly string[];
}
/** Body of `erase`: asks the grantee of a revoked grant to delete what it holds. */
export interface EraseBody {
  readonly grant: EntryId;
}

/**
 * Body of `handover`: the dependent takes over. `subject` becomes the subject and `devices` its
 * owner devices; the guardians' authority ends, or (`guardians: 'read'`) continues read-only.
 */
export interface HandoverBody {
  readonly subject: Did;
  readonly devices: readonly Did[];
  readonly guardians: 'end' | 'read';
}
/** Body of `protect`: from `from` on, guardians can neither read nor share these scopes (dependent-only). */
export interface ProtectBody {
  readonly scopes: readonly ScopeName[];
  readonly from: number;
}
/** Body of `emergency.request`: an emergency contact asks for the scopes of its delegation. */
export interface EmergencyRequestBody {
  readonly delegation: EntryId;
  readonly reason: string | null;
}
/** Body of `emergency.deny`: the patient (or a guardian) denies a request during its wait. */
export interface EmergencyDenyBody {
  readonly request: EntryId;
  readonly reason: string | null;
}

/** The body of each entry type. */
export interface BodyOf {
  genesis: GenesisBody;
  'device.add': DeviceAddBody;
  'device.remove': DeviceRemoveBody;
  delegate: DelegateBody;
  undelegate: UndelegateBody;
  grant: GrantBody;
  revoke: RevokeBody;
  rekey: RekeyBody;
  consent: ConsentBody;
  access: AccessBody;
  erase: EraseBody;
  handover: HandoverBody;
  protect: ProtectBody;
  'emergency.request': EmergencyRequestBody;
  'emergency.deny': EmergencyDenyBody;
}

/** Any body. */
export type EntryBody = BodyOf[EntryType];
