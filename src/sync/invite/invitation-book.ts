import type { Did } from '../../crypto/index.js';
import { toBase64Url } from '../../crypto/index.js';
import type { Invitation } from './invitation.js';

/** The outcome of presenting a token. */
export type TokenVerdict = 'ok' | 'unknown' | 'used' | 'expired';

/**
 * The invitations a patient issued, each redeemable once. `consume` must be atomic: two
 * concurrent redemptions of one token give one 'ok'. src/node keeps this in the vault; the memory
 * one serves tests and the relay-less demo.
 */
export interface InvitationBook {
  /** Marks the token used by `remote` if it is live; says why not otherwise. */
  consume(token: Uint8Array, remote: Did, now: number): TokenVerdict | Promise<TokenVerdict>;
}

/** An {@link InvitationBook} in memory. */
export class MemoryInvitationBook implements InvitationBook {
  private readonly issued = new Map<string, { expires: number; usedBy?: Did }>();

  /** Records an issued invitation. */
  add(invitation: Invitation): void {
    this.issued.set(toBase64Url(invitation.token), { expires: invitation.expires });
  }

  consume(token: Uint8Array, remote: Did, now: number): TokenVerdict {
    const entry = this.issued.get(toBase64Url(token));
    if (!entry) return 'unknown';
    if (entry.usedBy !== undefined) return 'used';
    if (entry.expires <= now) return 'expired';
    entry.usedBy = remote;
    return 'ok';
  }
}
