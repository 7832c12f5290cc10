/** Redeeming a one-time invitation (ARCHITECTURE.md "Sync over libp2p"). */
export const INVITE_PROTOCOL = '/patient-vault/invite/1.0.0';

/** The URI scheme of an invitation (what a QR code or a link holds). */
export const INVITATION_SCHEME = 'pvault:';
/** Random bytes of a token: 128 bits cannot be guessed. */
export const TOKEN_BYTES = 16;
/** Longest invitation string accepted (a QR code of version 10 holds ~270 alphanumeric bytes). */
export const MAX_INVITATION_CHARS = 512;
/** Largest message of the protocol. */
export const MAX_INVITE_MESSAGE_BYTES = 16 * 1024;
/** Longest display name a requester gives. */
export const MAX_REQUESTER_NAME_CHARS = 100;
/** Longest note a requester adds. */
export const MAX_NOTE_CHARS = 500;
/** Most scopes one request asks for. */
export const MAX_REQUESTED_SCOPES = 16;
/** How long an invitation lives unless the patient says otherwise. @default 24 hours */
export const DEFAULT_INVITATION_TTL_MS = 24 * 60 * 60 * 1000;
/** How long a redeeming stream waits for the patient's decision (the request stays queued after). */
export const APPROVAL_WAIT_MS = 10 * 60 * 1000;
/** Wait for the first message. */
export const INVITE_READ_TIMEOUT_MS = 15_000;
/** Requests waiting for a decision at once; more are refused (LIMIT_REACHED). */
export const MAX_PENDING_REQUESTS = 64;
/** Failed redemptions (unknown, used, expired token) from one peer before it is banned. */
export const MAX_FAILED_REDEMPTIONS = 5;
/** Peers whose failed redemptions are counted at once (the oldest are forgotten first). */
export const MAX_TRACKED_REDEEMERS = 4096;
/** Concurrent inbound invite streams per connection. */
export const INVITE_MAX_INBOUND_STREAMS = 2;
/** Concurrent outbound invite streams per connection. */
export const INVITE_MAX_OUTBOUND_STREAMS = 2;
