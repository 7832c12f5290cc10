import type { ShareEdits } from './approval-queue.js';
import type { ImportParams, Purpose, Scope, ShareParams } from './schemas.js';

/**
 * What the extension needs from the vault engine. The page API and the UI are written against
 * this, not against src/node directly, so they can be built and tested while the engine lands;
 * the engine host in the extension adapts whatever exists (src/store, src/records, then src/node)
 * to it. Optional parts are absent until the engine provides them; callers check.
 *
 * Nothing here returns key material. Records are returned only by methods whose callers have
 * checked the user's approval.
 */
export interface VaultBackend {
  /** Whether a vault exists and is unlocked, and which optional parts this engine provides. */
  status(): Promise<VaultStatus>;
  /** Creates a vault on this device with a passphrase; it is unlocked afterwards. */
  create(options: CreateOptions): Promise<void>;
  /** Unlocks with the passphrase; throws a {@link BackendError} `WRONG_PASSPHRASE` on a wrong one. */
  unlock(passphrase: string): Promise<void>;
  /** Drops all key material. */
  lock(): Promise<void>;
  /** Minutes of inactivity before auto-lock (0 = never). */
  setAutoLock(minutes: number): Promise<void>;
  /** The vault sealed under its passphrase, as one file. */
  exportBackup(): Promise<Uint8Array>;
  /** Restores a backup onto this (empty) device; the passphrase is the backup's. */
  restoreBackup(backup: Uint8Array, passphrase: string): Promise<void>;
  /** Records user activity in the extension's pages: restarts the auto-lock timer. */
  touch(): void;
  /** Restarts the network part after its settings changed (absent: nothing to restart). */
  restartNetwork?(): Promise<void>;
  /** Calls `fn` for every change; returns an unsubscribe function. */
  subscribe(fn: (event: BackendEvent) => void): () => void;

  /** Records (src/records). */
  readonly records?: RecordsBackend;
  /** Patient-side sharing (src/grants + src/sync via src/node). */
  readonly sharing?: SharingBackend;
  /** Provider-side: what others shared with this device. */
  readonly provider?: ProviderBackend;
  /** Families: dependents' vaults, guardians, handover, dependent-only scopes, emergency access. */
  readonly family?: FamilyBackend;
}

/** Options of {@link VaultBackend.create}. */
export interface CreateOptions {
  readonly passphrase: string;
  /** A name shown to parties this vault shares with (a provider's display name). */
  readonly displayName?: string;
}

/** Optional parts of the engine this build provides. */
export type Capability = 'records' | 'sharing' | 'provider' | 'family';

/** The vault's state as the UI and pages see it (pages see only `state`). */
export interface VaultStatus {
  readonly state: 'none' | 'locked' | 'unlocked';
  /** This device's did:key (only when unlocked). */
  readonly did?: string;
  readonly displayName?: string;
  /** Minutes; 0 = never. */
  readonly autoLockMinutes: number;
  readonly capabilities: readonly Capability[];
}

/** Record storage and queries. */
export interface RecordsBackend {
  /** Parses and validates without storing: what the user is asked to approve. */
  preview(input: ImportParams): Promise<ImportPreview>;
  /** Imports (all or nothing) into this device's vault or a dependent's it acts in (`vault`); `onProgress` is called as resources are stored. */
  import(input: ImportParams, onProgress?: (done: number, total: number) => void, vault?: string): Promise<ImportSummary>;
  /** Newest first. */
  timeline(query: RecordQuery): Promise<RecordView[]>;
  /** A lab series for one LOINC code. */
  labSeries(loinc: string): Promise<LabSeries>;
  /** Codes with at least one numeric result, for choosing a chart. */
  labCodes(): Promise<LabCode[]>;
  /**
   * Content of one attachment of a record (extension pages only: no page-API method reaches it),
   * read lazily from its sealed chunks and checked against its hash. NOT_FOUND for an unknown
   * record or index, ATTACHMENT_NOT_ON_DEVICE when its chunks never reached this device,
   * ATTACHMENT_DAMAGED when they fail authentication or the hash.
   */
  readAttachment(query: AttachmentQuery): Promise<AttachmentContent>;
}

/** Which attachment to read, and which part of it. */
export interface AttachmentQuery {
  /** Another vault this device holds (a dependent's, or one shared with it); default its own. */
  readonly vault?: string;
  /** The record's key (a {@link RecordView.id}). */
  readonly key: string;
  /** Position in {@link RecordView.attachments}. */
  readonly index: number;
  /** First byte wanted. @default 0 */
  readonly offset?: number;
  /** Most bytes wanted. @default and at most ATTACHMENT_SLICE_BYTES */
  readonly length?: number;
}

/** A slice of an attachment's bytes. */
export interface AttachmentContent {
  /** Size of the whole attachment in bytes. */
  readonly size: number;
  readonly offset: number;
  /** The bytes from `offset`, base64url (runtime messages are JSON). */
  readonly data: string;
}

/**
 * An attachment whose content the store holds as sealed chunks (its `data` was taken out of the
 * resource). Title and content type are in the resource's Attachment element at `path`.
 */
export interface AttachmentInfo {
  /** Position, for {@link RecordsBackend.readAttachment}. */
  readonly index: number;
  /** JSON pointer (RFC 6901) of the Attachment (or Binary) object in {@link RecordView.resource}. */
  readonly path: string;
  /** Decoded size in bytes. */
  readonly size: number;
}

/** Counted name, e.g. `{ name: 'Observation', count: 12 }` (an array, never an object keyed by page data). */
export interface Count {
  readonly name: string;
  readonly count: number;
}

/** What an import would add, shown to the user before they approve. */
export interface ImportPreview {
  readonly total: number;
  readonly byType: readonly Count[];
  readonly byScope: readonly Count[];
  /** Resources that land in sensitive scopes. */
  readonly sensitive: number;
  /** For SMART Health Cards: who issued each, and whether the signature verified. */
  readonly cards: readonly { readonly issuer: string; readonly verified: boolean }[];
}

/** What an import did. */
export interface ImportSummary {
  readonly added: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly byScope: readonly Count[];
}

/** A query for {@link RecordsBackend.timeline}. */
export interface RecordQuery {
  /** Another vault this device holds (a dependent's, or one shared with it); default its own. */
  readonly vault?: string;
  readonly scope?: Scope;
  readonly resourceType?: string;
  readonly limit?: number;
}

/** One record, readable. `resource` is the FHIR JSON. */
export interface RecordView {
  readonly id: string;
  readonly resourceType: string;
  readonly scope: Scope;
  /** ISO date of the clinical event, when it has one. */
  readonly date?: string;
  /** One line for lists. */
  readonly display: string;
  readonly resource: Readonly<Record<string, unknown>>;
  /** Attachments held as sealed chunks (absent or empty: none). Never their content. */
  readonly attachments?: readonly AttachmentInfo[];
  readonly provenance: {
    /** How it arrived: a FHIR file or portal (unsigned), or a SMART Health Card (signed). */
    readonly source?: 'fhir-json' | 'shc';
    readonly issuer?: string;
    /** The issuer's signature verified (SMART Health Cards only). */
    readonly verified: boolean;
    readonly importedAt: string;
  };
}

/** A LOINC code with results. */
export interface LabCode {
  readonly loinc: string;
  readonly display: string;
  readonly count: number;
}

/** Numeric results of one LOINC code in one unit, oldest first. */
export interface LabSeries {
  readonly loinc: string;
  readonly display: string;
  readonly unit: string;
  readonly points: readonly { readonly t: string; readonly value: number }[];
}

/** A grant as both sides show it. */
export interface GrantView {
  readonly id: string;
  /** `name`: the label the patient gave their vault (its genesis entry), when there is one. */
  readonly patient: { readonly did: string; readonly name?: string };
  /** `name`: as the grantee called itself when it asked (not verified), else a shortened did. */
  readonly grantee: { readonly did: string; readonly name: string };
  readonly scopes: readonly Scope[];
  readonly purpose: Purpose;
  readonly expiresAt: string;
  /** The grantee may push results into its inbox at the patient (the grant's `append` action). */
  readonly sendsResults: boolean;
  /** `invalid`: the grant failed verification (shown as a warning badge). */
  readonly status: 'live' | 'revoked' | 'expired' | 'invalid';
  /**
   * Provider side only: who holds the patient's vault now, from the verified log (issue 8,
   * "providers see the change of authority"): whether guardians act for the patient, and the
   * handover when the dependent took over (`guardians`: their authority ended or stays read-only).
   */
  readonly authority?: GrantAuthority;
}

/** Who holds a shared vault now, as a provider sees it. */
export interface GrantAuthority {
  /**
   * Guardians act for the patient (a dependent's vault before handover, or guardians kept
   * read-only after it). A yes/no, not a count: a provider's copy of the log holds the bodies of
   * the delegations it needs (the guardian who granted it), not necessarily every co-guardian's.
   */
  readonly byGuardians: boolean;
  /** The handover in force, if the dependent has taken over. */
  readonly handover: { readonly at: string; readonly guardians: 'end' | 'read' } | null;
}

/** A provider's request that arrived by redeeming an invitation, waiting for the patient. */
export interface PeerRequest {
  readonly id: string;
  /** Proven by the connection (Noise handshake). */
  readonly from: string;
  /** As the requester calls itself (not verified). */
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly purpose: Purpose;
  readonly expiresInDays: number;
  readonly note?: string;
}

/** A share as the user approved it: the page's request with their edits. */
export type ApprovedShare = ShareParams & {
  /** The provider may also send results to the patient's inbox (grant action 'append'). */
  readonly allowResults?: boolean;
};

/** Patient-side sharing. */
export interface SharingBackend {
  /** Grants `request` (as the user edited it) directly and returns the grant. */
  grant(request: ApprovedShare): Promise<GrantView>;
  /**
   * Approves a share ahead of time (the user approved it on a page): returns a one-time invitation
   * the provider redeems; the grant is written when it does, with exactly what was approved.
   */
  offer(request: ApprovedShare, origin: string): Promise<{ invitation: string; patient: string }>;
  /** Providers' requests waiting for the user. */
  pendingRequests(): Promise<PeerRequest[]>;
  /** The user's answer to a provider's request. */
  answer(requestId: string, decision: { approved: true; edits?: ShareEdits } | { approved: false }): Promise<void>;
  /** What revoking cannot undo, in words the UI shows. */
  readonly copiedDataNotice: string;
  revoke(grantId: string): Promise<void>;
  /** Grants of this device's vault, or of a dependent's vault it holds (`vault`). */
  grants(vault?: string): Promise<GrantView[]>;
  /** An invitation a provider can redeem: a link and the text of its QR code. */
  createInvitation(options: { scopes: readonly Scope[]; purpose: Purpose; expiresInDays: number; vault?: string | undefined }): Promise<{ link: string }>;
  /** Access receipts, newest first. */
  accessTrail(): Promise<AccessReceipt[]>;
  /** Results providers pushed, waiting for the patient (each validated as FHIR R4 on the way in). */
  inbox(): Promise<InboxItemView[]>;
  /** Accepts a waiting result into `scope`; refuses one that failed validation (INVALID_INPUT). */
  acceptResult(from: string, id: string, scope: Scope): Promise<void>;
  /** Drops a waiting result; nothing of it is kept. */
  rejectResult(from: string, id: string): Promise<void>;
}

/** A result in the patient's inbox. */
export interface InboxItemView {
  readonly id: string;
  /** The provider that pushed it (proven by the connection); `name` as it called itself. */
  readonly from: { readonly did: string; readonly name?: string };
  readonly resourceType: string;
  /** The pushed FHIR resource (shown, never imported before the patient accepts). */
  readonly resource: Readonly<Record<string, unknown>>;
  /** Where it would go by the scope rules; the patient may choose another. */
  readonly suggestedScope: Scope;
  /** Why it cannot be accepted (it failed FHIR validation); absent when valid. */
  readonly invalid?: string;
}

/** One access receipt: who pulled which scope when. */
export interface AccessReceipt {
  readonly id: string;
  readonly who: { readonly did: string; readonly name?: string };
  readonly scope: Scope;
  readonly at: string;
  readonly grantId: string;
}

/** Provider side. */
export interface ProviderBackend {
  /** Redeems a patient's invitation asking for `request`, waits for the patient, then pulls and keeps receiving. */
  redeem(invitation: string, request: { scopes: readonly Scope[]; purpose: Purpose; expiresInDays: number }): Promise<{ patient: string; scopes: Scope[] }>;
  /** Pulls every shared vault once (new data). */
  refresh(): Promise<void>;
  /** Grants others gave this device, verified. */
  shared(options: { includeEnded: boolean }): Promise<GrantView[]>;
  /** Records of a patient this device holds a live grant from. */
  records(query: { patient: string; scope?: Scope; resourceType?: string; limit: number; cursor?: string }): Promise<{ records: RecordView[]; cursor?: string }>;
  /**
   * Sends one FHIR resource (validated first) to the patient's inbox; needs a live grant that lets
   * this device send results (DENIED otherwise). Returns the inbox item's id.
   */
  sendResult(patient: string, resource: Readonly<Record<string, unknown>>): Promise<{ id: string }>;
  /**
   * An attachment of a record of a patient this device holds a live grant from, as
   * {@link RecordsBackend.readAttachment}. Chunks are not carried by sync yet: for now this says
   * ATTACHMENT_NOT_ON_DEVICE for every attachment with content.
   */
  readAttachment(query: Omit<AttachmentQuery, 'vault'> & { readonly patient: string }): Promise<AttachmentContent>;
}

/** Events from the engine. */
export type BackendEvent =
  | { readonly type: 'lock'; readonly locked: boolean }
  | { readonly type: 'records' }
  | { readonly type: 'grants'; readonly grantId?: string; readonly origin?: string }
  | { readonly type: 'shared-with-me' }
  | { readonly type: 'inbox' }
  | { readonly type: 'family' }
  | { readonly type: 'peer-request'; readonly request: PeerRequest };

/** Stable codes of {@link BackendError}. */
export type BackendErrorCode =
  | 'NO_VAULT'
  | 'VAULT_EXISTS'
  | 'LOCKED'
  | 'WRONG_PASSPHRASE'
  | 'INVALID_INPUT'
  | 'NOT_FOUND'
  | 'NOT_AVAILABLE'
  | 'DENIED'
  | 'FAILED'
  /** An attachment's chunks are not in this device's store (a shared vault: chunks are not synced). */
  | 'ATTACHMENT_NOT_ON_DEVICE'
  /** An attachment's chunks fail authentication, their size or the attachment's hash. */
  | 'ATTACHMENT_DAMAGED';

/** A failure the engine reports; `reason` carries the lower layer's own code when there is one. */
export class BackendError extends Error {
  override readonly name = 'BackendError';
  readonly code: BackendErrorCode;
  readonly reason: string | undefined;

  constructor(code: BackendErrorCode, message: string, options?: { cause?: unknown; reason?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.reason = options?.reason;
  }
}

/** A vault this device holds, for the vault switcher. */
export interface VaultRef {
  readonly vault: string;
  /** own: this device's; held: a dependent's it acts in; shared: shared with it (grant or emergency contact). */
  readonly kind: 'own' | 'held' | 'shared';
  /** The vault's label (the patient's or dependent's name as written at creation). */
  readonly label: string | null;
  readonly subject: string | null;
  /** What this device is there now (verified log at the engine's now). */
  readonly as: 'owner' | 'guardian' | 'reader' | 'grant' | 'emergency' | 'contact' | 'none';
}

/** A guardian or an emergency contact of a vault. */
export interface DelegationView {
  readonly entry: string;
  readonly delegate: { readonly did: string; readonly name?: string };
  readonly role: 'guardian' | 'emergency';
  readonly expiresAt: string | null;
  readonly scopes: readonly Scope[];
  /** An emergency contact's wait, in hours. */
  readonly waitHours: number | null;
}

/** An emergency request and its state now. */
export interface EmergencyView {
  readonly request: string;
  readonly contact: { readonly did: string; readonly name?: string };
  readonly scopes: readonly Scope[];
  readonly opensAt: string;
  readonly state: 'waiting' | 'open' | 'denied' | 'ended';
}

/** One line of a vault's family trail. */
export interface FamilyTrailItem {
  readonly at: string;
  readonly kind: string;
  readonly by: { readonly did: string; readonly name?: string };
  readonly about: { readonly did: string; readonly name?: string } | null;
  readonly scopes: readonly Scope[];
}

/** Who holds a vault and how, as this device's verified log says now. */
export interface FamilyOverview {
  readonly vault: VaultRef;
  readonly owners: readonly string[];
  readonly guardians: readonly { readonly did: string; readonly name?: string }[];
  readonly handover: { readonly at: string; readonly guardians: 'end' | 'read' } | null;
  readonly protectedScopes: readonly Scope[];
  readonly delegations: readonly DelegationView[];
  readonly emergencies: readonly EmergencyView[];
  readonly trail: readonly FamilyTrailItem[];
}

/**
 * Families (issue 8). A link (`pvault-family:…`) carries what another device needs to reach this
 * one for a delegation it was given (which vault, this device's key and address); authority comes
 * from the signed entries, never from the link.
 */
export interface FamilyBackend {
  vaults(): Promise<VaultRef[]>;
  /** What needs the user: emergency requests waiting in vaults this device owns or guards (they can deny them). */
  alerts(): Promise<{ waitingEmergencies: number }>;
  /** Creates a dependent's vault with this device as its first guardian. */
  createDependent(options: { label: string; guardianUntil?: string }): Promise<{ vault: string }>;
  overview(vault: string): Promise<FamilyOverview>;
  /** Names a second guardian (their did) and returns the link their device joins with. */
  addGuardian(vault: string, did: string, name?: string): Promise<{ link: string }>;
  /** Names an emergency contact with the scopes they may ask for and the wait; returns their link. */
  addEmergencyContact(vault: string, did: string, options: { scopes: readonly Scope[]; waitHours: number; name?: string }): Promise<{ link: string }>;
  /** Ends every delegation of `did` in the vault. */
  removeDelegate(vault: string, did: string): Promise<void>;
  /** Marks scopes dependent-only: guardians can neither read nor share them from now on. */
  protect(vault: string, scopes: readonly Scope[]): Promise<void>;
  /** Hands the vault to the dependent (their did); returns the link their device takes it over with. */
  handover(vault: string, subject: string, guardians: 'end' | 'read'): Promise<{ link: string }>;
  /** Uses a link given by another device: join as guardian, follow as emergency contact, or take over. */
  useLink(link: string): Promise<{ vault: string; kind: 'guardian' | 'emergency' | 'handover' }>;
  /** As an emergency contact: asks for access (the patient can deny during the wait). */
  requestEmergency(vault: string, reason?: string): Promise<{ opensAt: string; delivered: boolean }>;
  /** Denies a waiting emergency request. */
  denyEmergency(request: string): Promise<void>;
  /** Syncs a vault this device holds with the device it came from (records, log). */
  refresh(vault: string): Promise<void>;
}
