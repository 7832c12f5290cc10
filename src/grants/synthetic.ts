import { identityFromSecretKey, sha256, toHex, utf8, type Identity, type SymmetricKey } from '../crypto/index.js';
import { GrantsError } from './errors.js';
import type { LogVerifier } from './log-verifier.js';
import { sealScopeKey } from './scope-keys.js';
import { SCOPE_NAMES, type ScopeName } from './scopes.js';
import { ENTRY_TYPES, type EntryId, type EntryType, type GrantAction, type GrantPurpose, type SealedScopeKey, type VaultId } from './types.js';
import { LogWriter } from './writer.js';

/**
 * A synthetic but real log, for the CLI (`pvault log generate`), benchmarks and tests: every entry
 * is signed by the real writer and verified as it is added. It has several devices (one removed),
 * a guardian whose delegation expires, an emergency contact (one request denied, one left to
 * open), grants by devices and the guardian, revocations, erasures, key rotations, consents and
 * many access receipts. Nothing in it is health
 * data: parties are keys derived from the seed, heads are hashes.
 */
export interface SyntheticLogOptions {
  /** Number of entries, at least {@link MIN_SYNTHETIC_ENTRIES}. */
  readonly entries: number;
  /** Timestamp of the genesis (ms since the epoch). */
  readonly start: number;
  /** Timestamp the last entry approaches; entries are spread evenly in between. */
  readonly end: number;
  /** Derives every key, so the same seed gives the same parties. @default 'pvault-synthetic' */
  readonly seed?: string;
  /** Providers that receive grants. @default 8 */
  readonly providers?: number;
}

/** The parties of a synthetic log (their secret keys are derived from the seed: test data only). */
export interface SyntheticParties {
  readonly subject: Identity;
  readonly devices: readonly Identity[];
  readonly guardian: Identity;
  readonly emergency: Identity;
  readonly providers: readonly Identity[];
}

/** A generated log and what went into it. */
export interface SyntheticLog {
  readonly vault: VaultId;
  readonly log: LogVerifier;
  readonly writer: LogWriter;
  readonly parties: SyntheticParties;
  /** Entries per type. */
  readonly counts: Readonly<Record<EntryType, number>>;
  /** When the guardian's delegation expires. */
  readonly guardianExpires: number;
}

/** The fewest entries a synthetic log can have (its opening story). */
export const MIN_SYNTHETIC_ENTRIES = 10;

const DAY = 24 * 60 * 60 * 1000;

/** mulberry32: a small seeded PRNG, so a seed always gives the same log shape. */
function prng(seed: Uint8Array): () => number {
  let a = ((seed[0]! << 24) | (seed[1]! << 16) | (seed[2]! << 8) | seed[3]!) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ActiveGrant {
  readonly id: EntryId;
  readonly grantee: Identity;
  readonly scopes: readonly ScopeName[];
  readonly purpose: GrantPurpose;
  readonly expires: number | null;
}

/** Generates a synthetic log (see {@link SyntheticLogOptions}). */
export async function generateSyntheticLog(options: SyntheticLogOptions): Promise<SyntheticLog> {
  const { entries: total, start, end } = options;
  if (!Number.isSafeInteger(total) || total < MIN_SYNTHETIC_ENTRIES) throw new GrantsError('INVALID_INPUT', `"entries" expected an integer ≥ ${MIN_SYNTHETIC_ENTRIES}`);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start) throw new GrantsError('INVALID_INPUT', '"start" and "end" expected ms timestamps with start < end');
  const seed = options.seed ?? 'pvault-synthetic';
  const providerCount = options.providers ?? 8;
  const key = (name: string): Identity => identityFromSecretKey(sha256(utf8(`${seed}/${name}`)));
  const parties: SyntheticParties = {
    subject: key('subject'),
    devices: [key('device-0'), key('device-1'), key('device-2')],
    guardian: key('guardian'),
    emergency: key('emergency'),
    providers: Array.from({ length: providerCount }, (_, i) => key(`provider-${i}`)),
  };
  const random = prng(sha256(utf8(`${seed}/prng`)));
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const step = (end - start) / total;
  let clock = start;
  // Entry i lands in [start + i·step, start + (i + ½)·step): spread evenly, increasing, before `end`.
  const tick = (): number => (clock = Math.max(clock + 1, Math.round(start + written * step + random() * step * 0.5)));

  const [d0, d1, d2] = parties.devices as [Identity, Identity, Identity];
  const { writer, vault } = await LogWriter.createVault(d0, { subject: parties.subject.did, devices: [d0.did], delegates: [], label: 'synthetic vault' }, start);
  const counts = Object.fromEntries(
    ENTRY_TYPES.map((t) => [t, 0]),
  ) as Record<EntryType, number>;
  counts.genesis = 1;
  let written = 1;
  const write = async <T extends Parameters<LogWriter['append']>[1]>(who: Identity, type: T, body: Parameters<LogWriter['append']>[2] & object): Promise<EntryId> => {
    const entry = await writer.append(who, type, body as never, { ts: tick() });
    counts[type]++;
    written++;
    return entry.id;
  };

  // Scope keys: one random key per (scope, epoch); each box sealed once per recipient and reused.
  const epochs = new Map<ScopeName, number>(SCOPE_NAMES.map((s) => [s, 0]));
  const boxes = new Map<string, SealedScopeKey>();
  const sealed = async (to: Identity, scope: ScopeName): Promise<SealedScopeKey> => {
    const epoch = epochs.get(scope)!;
    const slot = `${to.did} ${scope} ${epoch}`;
    let box = boxes.get(slot);
    if (!box) {
      box = await sealScopeKey(to.did, vault, scope, epoch, sha256(utf8(`${seed}/scope-key/${scope}/${epoch}`)) as Uint8Array as SymmetricKey);
      boxes.set(slot, box);
    }
    return box;
  };

  const guardianExpires = start + Math.round((end - start) * 0.55);
  const active: ActiveGrant[] = [];
  const revoked: EntryId[] = [];
  let removedDevice = false;

  const grant = async (author: Identity, grantee: Identity, scopes: ScopeName[], purpose: GrantPurpose, expires: number | null): Promise<void> => {
    const sorted = [...new Set(scopes)].sort();
    const actions: GrantAction[] = random() < 0.3 ? ['append', 'read'] : ['read'];
    const keys = await Promise.all(sorted.map((s) => sealed(grantee, s)));
    const id = await write(author, 'grant', { grantee: grantee.did, scopes: sorted, actions, purpose, expires, keys });
    active.push({ id, grantee, scopes: sorted, purpose, expires: author === parties.guardian ? Math.min(expires ?? Infinity, guardianExpires) : expires });
  };
  const heads = (): string[] => [...new Set([toHex(sha256(utf8(`${seed}/head/${written}/a`))), ...(random() < 0.3 ? [toHex(sha256(utf8(`${seed}/head/${written}/b`)))] : [])])].sort();

  // The opening story.
  await write(d0, 'device.add', { device: d1.did, label: 'laptop', keys: [] });
  await write(d1, 'device.add', { device: d2.did, label: 'tablet', keys: [] });
  await write(d0, 'delegate', { delegate: parties.guardian.did, role: 'guardian', expires: guardianExpires, scopes: [], wait: null, keys: [] });
  const contact = await write(d0, 'delegate', { delegate: parties.emergency.did, role: 'emergency', expires: null, scopes: ['labs', 'summary'], wait: 48 * 60 * 60 * 1000, keys: [] });
  let emergencies = 0;
  await grant(parties.guardian, parties.providers[0]!, ['summary'], 'family', null);
  await grant(d0, parties.providers[1 % providerCount]!, ['labs', 'summary'], 'treatment', end + 30 * DAY);
  const first = active[active.length - 1]!;
  await write(first.grantee, 'access', { grant: first.id, scope: first.scopes[0]!, heads: heads() });

  while (written < total) {
    const now = clock;
    // Grants that have not expired; a guardian's grant ends with the delegation.
    for (let i = active.length - 1; i >= 0; i--) if (active[i]!.expires !== null && active[i]!.expires! <= now + step * 2) active.splice(i, 1);
    const owners = removedDevice ? [d0, d1] : [d0, d1, d2];
    // The emergency contact asks twice: the first request is denied in time, the second is not.
    if (emergencies < 2 && written >= Math.floor(total * (emergencies === 0 ? 0.3 : 0.8)) && total - written >= 2) {
      const request = await write(parties.emergency, 'emergency.request', { delegation: contact, reason: null });
      if (emergencies === 0) await write(d0, 'emergency.deny', { request, reason: null });
      emergencies++;
      continue;
    }
    if (!removedDevice && written >= Math.floor(total * 0.6)) {
      await write(d0, 'device.remove', { device: d2.did });
      removedDevice = true;
      continue;
    }
    const roll = random();
    if (roll < 0.55 && active.length > 0) {
      const g = pick(active);
      await write(g.grantee, 'access', { grant: g.id, scope: pick(g.scopes), heads: heads() });
    } else if (roll < 0.63 && active.length > 1) {
      const g = active.splice(Math.floor(random() * active.length), 1)[0]!;
      // Mostly the patient revokes; sometimes the grantee gives a grant back.
      if (random() < 0.2) await write(g.grantee, 'revoke', { grant: g.id, reason: 'no longer needed' });
      else await write(pick(owners), 'revoke', { grant: g.id, reason: random() < 0.5 ? null : 'care ended' });
      revoked.push(g.id);
    } else if (roll < 0.66 && revoked.length > 0) {
      await write(pick(owners), 'erase', { grant: revoked.shift()! });
    } else if (roll < 0.69 && active.length > 0) {
      const g = pick(active);
      const scope = pick(g.scopes);
      epochs.set(scope, epochs.get(scope)! + 1);
      await write(pick(owners), 'rekey', { grant: g.id, keys: [await sealed(g.grantee, scope)] });
    } else if (roll < 0.72 && active.length > 0) {
      const g = pick(active);
      const consent = {
        resourceType: 'Consent',
        status: 'active',
        scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: g.purpose === 'research' ? 'research' : 'patient-privacy' }] },
        category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
        dateTime: new Date(now).toISOString(),
      };
      await write(pick(owners), 'consent', { grant: g.id, consent });
    } else {
      const guardianMayAct = now + 2 * step < guardianExpires;
      const author = guardianMayAct && random() < 0.2 ? parties.guardian : pick(owners);
      const scopes = Array.from({ length: 1 + Math.floor(random() * 3) }, () => (random() < 0.85 ? pick(SCOPE_NAMES.slice(0, 4)) : pick(SCOPE_NAMES.slice(4))));
      const purpose = pick<GrantPurpose>(['treatment', 'treatment', 'treatment', 'research', 'family', 'emergency']);
      const expiresIn = pick([7 * DAY, 30 * DAY, 180 * DAY, 400 * DAY, null]);
      await grant(author, pick(parties.providers), scopes, purpose, expiresIn === null ? null : now + expiresIn);
    }
  }
  return { vault, log: writer.log, writer, parties, counts, guardianExpires };
}
