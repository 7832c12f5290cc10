/**
 * `/patient-vault/invite/1.0.0`: one-time invitations (a `pvault:` string small enough for a QR
 * code), redeemed by a provider and queued for the patient's approval.
 * @packageDocumentation
 */
export {
  INVITE_PROTOCOL,
  INVITATION_SCHEME,
  TOKEN_BYTES,
  MAX_INVITATION_CHARS,
  MAX_INVITE_MESSAGE_BYTES,
  MAX_REQUESTER_NAME_CHARS,
  MAX_NOTE_CHARS,
  MAX_REQUESTED_SCOPES,
  DEFAULT_INVITATION_TTL_MS,
  APPROVAL_WAIT_MS,
  INVITE_READ_TIMEOUT_MS,
  MAX_PENDING_REQUESTS,
  MAX_FAILED_REDEMPTIONS,
  MAX_TRACKED_REDEEMERS,
} from './constants.js';
export { INVITE_END_CODES, type InviteEndCode } from './errors.js';
export { newInvitation, encodeInvitation, decodeInvitation, invitationDialAddress, type Invitation } from './invitation.js';
export { MemoryInvitationBook, type InvitationBook, type TokenVerdict } from './invitation-book.js';
export { shareRequestSchema, type ShareRequest, type Approval } from './messages.js';
export { RequestQueue, type PendingRequest, type Decision, type RequestQueueEvents } from './request-queue.js';
export { InviteService, type InviteServiceInit, type InviteServiceComponents, type RedeemResult } from './invite-service.js';

import { InviteService, type InviteServiceComponents, type InviteServiceInit } from './invite-service.js';

/** Creates the invite protocol service; call `start()` to register it (patient side). */
export function inviteService(components: InviteServiceComponents, init: InviteServiceInit = {}): InviteService {
  return new InviteService(components, init);
}
