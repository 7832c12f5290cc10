import type { Did } from '../crypto/index.js';
import {
  entryIdOf,
  type AccessBody,
  type DelegateBody,
  type DelegateRole,
  type EmergencyAccess,
  type EmergencyDenyBody,
  type EmergencyRequestBody,
  type EntryId,
  type GrantBody,
  type HandoverBody,
  type LogVerifier,
  type ProtectBody,
  type RevokeBody,
  type ScopeName,
  type UndelegateBody,
  type VaultId,
} from '../grants/index.js';

/**
 * Families (issue 8) as the engine exposes them: the shapes VaultNode's family methods take and
 * return, and the pure readings of a verified log they rest on (delegations, authority, the trail).
 * The rules themselves are src/grants' (docs/log-format.md "Families"); nothing here decides
 * authority on its own.
 */

/** How this device holds a vault (see {@link VaultNode.vaults}). */
export type VaultKind =
  /** This device's own vault (it is its subject or an owner device). */
  | 'own'
  /** A vault this device acts in beside its own: a dependent's, as guardian (or one handed over to it). */
  | 'held'
  /** A vault shared with this device (a provider's grant, an emergency contact's delegation). */
  | 'shared';

/** One vault this device holds, and what it may do there now. */
export interface VaultSummary {
  readonly vault: VaultId;
  readonly kind: VaultKind;
  /** The genesis label (e.g. the dependent's first name as the guardian typed it), if any. */
  readonly label: string | null;
  /** The live subject (after a handover, the dependent's own identity). */
  readonly subject: Did | null;
  /**
   * What this device is in that vault now, from its verified copy of the log: owner, guardian,
   * reader (a guardian kept read-only by a handover), grant (a grantee), emergency (a contact
   * whose request opened), contact (an emergency contact whose access is not open), or none
   * (authority ended, e.g. a guardian after a handover).
   */
  readonly as: 'owner' | 'guardian' | 'reader' | 'grant' | 'emergency' | 'contact' | 'none';
}

/** A live delegation with what its body says (see {@link VaultNode.delegations}). */
export interface Delegation {
  /** The `delegate` entry (or the genesis, for a guardian the genesis names). */
  readonly entry: EntryId;
  readonly delegate: Did;
  readonly role: DelegateRole;
  readonly expires: number | null;
  /** Who wrote it. */
  readonly author: Did;
  /** The scopes an emergency contact may ask for (empty for a guardian). */
  readonly scopes: readonly ScopeName[];
  /** An emergency contact's wait in ms (null for a guardian). */
  readonly waitMs: number | null;
}

/** Options of {@link VaultNode.delegate}. */
export type DelegateOptions =
  | {
      readonly role: 'guardian';
      /** Epoch ms after which the guardian no longer acts (e.g. the 18th birthday). @default null (no expiry) */
      readonly expires?: number | null;
      /** @default this device's own vault */
      readonly vault?: VaultId;
    }
  | {
      readonly role: 'emergency';
      /** The scopes the contact may ask for (at least one). */
      readonly scopes: readonly ScopeName[];
      /** How long a request waits for a denial before access opens, in ms (e.g. 48 hours). */
      readonly waitMs: number;
      /** @default null (no expiry) */
      readonly expires?: number | null;
      /** @default this device's own vault */
      readonly vault?: VaultId;
    };

/** Options of {@link VaultNode.handover}. */
export interface HandoverOptions {
  /** The dependent's owner devices (their dids). @default [the new subject] */
  readonly devices?: readonly Did[];
  /** 'end': guardians' authority ends; 'read': they stay readers (never of dependent-only scopes). */
  readonly guardians: 'end' | 'read';
  /** @default this device's own vault */
  readonly vault?: VaultId;
}

/** Who holds authority over a vault now, as this device's verified copy says (see {@link VaultNode.authority}). */
export interface Authority {
  readonly vault: VaultId;
  readonly subject: Did | null;
  /** Live owner devices (the subject included). */
  readonly owners: readonly Did[];
  /** Live guardians. */
  readonly guardians: readonly Did[];
  /** The handover in force, if the dependent has taken over. */
  readonly handover: { readonly entry: EntryId; readonly at: number; readonly by: Did; readonly guardians: 'end' | 'read' } | null;
  /** Dependent-only scopes in force now. */
  readonly protectedScopes: readonly ScopeName[];
}

/** One line of a vault's access trail (see {@link VaultNode.trail}). */
export interface TrailItem {
  /** Epoch ms: the entry's timestamp, or when an emergency request opened, or when data was served. */
  readonly at: number;
  readonly kind:
    | 'grant'
    | 'revoke'
    | 'access'
    | 'delegate'
    | 'undelegate'
    | 'handover'
    | 'protect'
    | 'emergency.request'
    | 'emergency.deny'
    | 'emergency.open'
    /** This device served a scope to an emergency contact whose access was open (a local note: contacts write no receipt). */
    | 'emergency.served';
  /** Who signed the entry (for `emergency.open` and `emergency.served`, the contact). */
  readonly by: Did;
  /** The entry (for `emergency.open`, the request; null for `emergency.served`). */
  readonly entry: EntryId | null;
  /** The party it concerns: grantee, delegate, new subject, contact. */
  readonly about: Did | null;
  readonly scopes: readonly ScopeName[];
}

/** Detail of the `delegation` event. */
export interface DelegationEvent {
  readonly vault: VaultId;
  readonly kind: 'delegate' | 'undelegate';
  readonly entry: EntryId;
  readonly delegate: Did;
  /** Written by this device, or received from a peer. */
  readonly origin: 'local' | 'peer';
}

/** Detail of the `handover` event (a provider's node sees it when the log reaches it). */
export interface HandoverEvent {
  readonly vault: VaultId;
  readonly entry: EntryId;
  readonly subject: Did;
  readonly devices: readonly Did[];
  readonly guardians: 'end' | 'read';
  readonly origin: 'local' | 'peer';
}

/** Detail of the `protected` event. */
export interface ProtectedEvent {
  readonly vault: VaultId;
  readonly entry: EntryId;
  readonly scopes: readonly ScopeName[];
  readonly from: number;
  readonly origin: 'local' | 'peer';
}

/** Detail of the `emergency` event: a request the patient may deny until `opensAt`, or its denial. */
export interface EmergencyEvent {
  readonly vault: VaultId;
  readonly kind: 'request' | 'deny';
  /** The `emergency.request` entry. */
  readonly request: EntryId;
  readonly contact: Did;
  readonly opensAt: number | null;
  readonly origin: 'local' | 'peer';
}

/** A serving of a scope to an emergency contact, noted by the serving device. */
export interface ServedNote {
  readonly at: number;
  readonly contact: Did;
  readonly scope: ScopeName;
}

/** Live delegations of a log at `now`, with their bodies (emergency scopes and wait). */
export function delegationsOf(log: LogVerifier, now: number): Delegation[] {
  return log.verdict(now).delegations.map((d) => {
    const body = log.entry(d.entry)?.body;
    const isDelegate = log.entry(d.entry)?.header.type === 'delegate' && body !== undefined;
    const scopes = isDelegate ? (body as DelegateBody).scopes : [];
    const waitMs = isDelegate ? (body as DelegateBody).wait : null;
    return { entry: d.entry, delegate: d.delegate, role: d.role, expires: d.expires, author: d.author, scopes, waitMs };
  });
}

/** Who holds authority over the vault at `now`. */
export function authorityOf(log: LogVerifier, now: number): Authority {
  const verdict = log.verdict(now);
  let handover: Authority['handover'] = null;
  for (const e of log.entries()) {
    const id = entryIdOf(e.header, e.signature);
    const entry = log.entry(id);
    if (entry?.header.type !== 'handover' || entry.status !== 'valid' || entry.body === undefined) continue;
    const body = entry.body as HandoverBody;
    if (body.subject !== verdict.subject) continue;
    handover = { entry: id, at: entry.header.ts, by: entry.header.author, guardians: body.guardians };
  }
  return {
    vault: log.vault,
    subject: verdict.subject,
    owners: verdict.devices.map((d) => d.did),
    guardians: [...new Set(verdict.delegations.filter((d) => d.role === 'guardian').map((d) => d.delegate))].sort(),
    handover,
    protectedScopes: [...new Set(verdict.protections.filter((p) => p.from <= now).flatMap((p) => p.scopes))].sort(),
  };
}

/**
 * The access trail of a vault from its verified log at `now`: grants, revocations, access
 * receipts, delegations, handovers, protections, emergency requests, denials and openings (the
 * opening is derived from the request and `now`, as the verifier decides it), plus the servings to
 * emergency contacts this device noted. Only entries with effect (status valid) are listed; oldest first.
 */
export function trailOf(log: LogVerifier, now: number, served: readonly ServedNote[]): TrailItem[] {
  const out: TrailItem[] = [];
  for (const e of log.entries()) {
    const id = entryIdOf(e.header, e.signature);
    const entry = log.entry(id);
    if (!entry || entry.status !== 'valid' || entry.body === undefined) continue;
    const { header, body } = entry;
    const at = header.ts;
    const by = header.author;
    switch (header.type) {
      case 'grant': {
        const b = body as GrantBody;
        out.push({ at, kind: 'grant', by, entry: id, about: b.grantee, scopes: b.scopes });
        break;
      }
      case 'revoke': {
        const grant = log.entry((body as RevokeBody).grant);
        const b = grant?.body as GrantBody | undefined;
        out.push({ at, kind: 'revoke', by, entry: id, about: b?.grantee ?? null, scopes: b?.scopes ?? [] });
        break;
      }
      case 'access': {
        const b = body as AccessBody;
        out.push({ at, kind: 'access', by, entry: id, about: by, scopes: [b.scope] });
        break;
      }
      case 'delegate': {
        const b = body as DelegateBody;
        out.push({ at, kind: 'delegate', by, entry: id, about: b.delegate, scopes: b.scopes });
        break;
      }
      case 'undelegate':
        out.push({ at, kind: 'undelegate', by, entry: id, about: (body as UndelegateBody).delegate, scopes: [] });
        break;
      case 'handover':
        out.push({ at, kind: 'handover', by, entry: id, about: (body as HandoverBody).subject, scopes: [] });
        break;
      case 'protect':
        out.push({ at, kind: 'protect', by, entry: id, about: null, scopes: (body as ProtectBody).scopes });
        break;
      case 'emergency.request':
        out.push({ at, kind: 'emergency.request', by, entry: id, about: by, scopes: emergencyScopes(log, body as EmergencyRequestBody) });
        break;
      case 'emergency.deny': {
        const request = log.entry((body as EmergencyDenyBody).request);
        out.push({ at, kind: 'emergency.deny', by, entry: id, about: request?.header.author ?? null, scopes: [] });
        break;
      }
      default:
        break;
    }
  }
  const emergencies: readonly EmergencyAccess[] = log.verdict(now).emergencies;
  for (const e of emergencies) {
    // Opened: no denial in time and the wait is over (an ended delegation that had opened first still opened).
    if (e.deniedBy === null && e.opensAt <= now) out.push({ at: e.opensAt, kind: 'emergency.open', by: e.contact, entry: e.request, about: e.contact, scopes: e.scopes });
  }
  for (const s of served) out.push({ at: s.at, kind: 'emergency.served', by: s.contact, entry: null, about: s.contact, scopes: [s.scope] });
  return out.sort((a, b) => a.at - b.at);
}

function emergencyScopes(log: LogVerifier, body: EmergencyRequestBody): readonly ScopeName[] {
  const delegation = log.entry(body.delegation);
  return delegation?.header.type === 'delegate' && delegation.body !== undefined ? (delegation.body as DelegateBody).scopes : [];
}
