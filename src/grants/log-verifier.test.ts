import { describe, expect, it } from 'vitest';
import { GrantsError } from './errors.js';
import { LogVerifier, verify } from './log-verifier.js';
import { DAY, HOUR, T0, forge, merge, newVault, party, replicaOf } from './testkit.js';
import type { EntryId, GrantBody } from './types.js';

const phone = party('phone');
const laptop = party('laptop');
const tablet = party('tablet');
const guardian = party('guardian');
const guardian2 = party('guardian-2');
const clinic = party('clinic');
const lab = party('lab');
const stranger = party('stranger');

function grantBody(grantee: string, over: Partial<GrantBody> = {}): GrantBody {
  return { grantee: grantee as GrantBody['grantee'], scopes: ['labs', 'summary'], actions: ['read'], purpose: 'treatment', expires: null, keys: [], ...over };
}

function codes(verdict: { problems: readonly { code: string }[] }): string[] {
  return verdict.problems.map((p) => p.code);
}

describe('a vault with devices and grants', () => {
  it('shows a grant by the first device as live, and entitles its grantee to exactly its scopes', async () => {
    const { writer, log } = await newVault(phone);
    const grant = await writer.append(phone, 'grant', grantBody(clinic.did), { ts: T0 + HOUR });
    const verdict = log.verdict(T0 + DAY);
    expect(verdict.valid).toBe(true);
    expect(verdict.grants.map((g) => g.entry)).toEqual([grant.id]);
    expect(verdict.devices.map((d) => d.role).sort()).toEqual(['device', 'subject']);
    expect(log.entitlement(clinic.did, 'labs', T0 + DAY)).toMatchObject({ entitled: true, as: 'grant', entry: grant.id });
    expect(log.entitlement(clinic.did, 'mental-health', T0 + DAY).entitled).toBe(false);
    expect(log.entitlement(clinic.did, 'labs', T0 + DAY, 'append').entitled).toBe(false);
    expect(log.entitlement(phone.did, 'mental-health', T0 + DAY)).toMatchObject({ entitled: true, as: 'owner' });
    expect(log.entitlement(stranger.did, 'summary', T0 + DAY).entitled).toBe(false);
  });

  it('ends a grant at its expiry, judged by the verifier\u2019s now only', async () => {
    const { writer, log } = await newVault(phone);
    await writer.append(phone, 'grant', grantBody(clinic.did, { expires: T0 + 30 * DAY }), { ts: T0 + HOUR });
    expect(log.verdict(T0 + 30 * DAY - 1).grants).toHaveLength(1);
    expect(log.verdict(T0 + 30 * DAY).grants).toHaveLength(0);
    expect(log.entitlement(clinic.did, 'labs', T0 + 31 * DAY).entitled).toBe(false);
  });

  it('ends a grant when it is revoked, by the patient or by the grantee giving it back', async () => {
    const { writer, log } = await newVault(phone);
    const a = await writer.append(phone, 'grant', grantBody(clinic.did), { ts: T0 + HOUR });
    const b = await writer.append(phone, 'grant', grantBody(lab.did), { ts: T0 + 2 * HOUR });
    await writer.append(phone, 'revoke', { grant: a.id, reason: null }, { ts: T0 + 3 * HOUR });
    await writer.append(lab, 'revoke', { grant: b.id, reason: 'no longer needed' }, { ts: T0 + 4 * HOUR });
    const verdict = log.verdict(T0 + DAY);
    expect(verdict.valid).toBe(true);
    expect(verdict.grants).toEqual([]);
  });

  it('refuses to let a grantee revoke a grant made to someone else', async () => {
    const { writer, log } = await newVault(phone);
    const a = await writer.append(phone, 'grant', grantBody(clinic.did), { ts: T0 + HOUR });
    await expect(writer.append(lab, 'revoke', { grant: a.id, reason: null }, { ts: T0 + 2 * HOUR })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    const forged = await forge(log, lab, 'revoke', { grant: a.id, reason: null }, { ts: T0 + 2 * HOUR });
    const verdict = log.verdict(T0 + DAY);
    expect(verdict.problems).toContainEqual(expect.objectContaining({ code: 'UNAUTHORIZED', entry: forged.id }));
    expect(verdict.grants.map((g) => g.entry)).toEqual([a.id]);
  });

  it('accepts access receipts from the grantee and flags them from anyone else', async () => {
    const { writer, log } = await newVault(phone);
    const a = await writer.append(phone, 'grant', grantBody(clinic.did), { ts: T0 + HOUR });
    await writer.append(clinic, 'access', { grant: a.id, scope: 'labs', heads: ['a'.repeat(64)] }, { ts: T0 + 2 * HOUR });
    expect(log.verdict(T0 + DAY).valid).toBe(true);
    const forged = await forge(log, lab, 'access', { grant: a.id, scope: 'labs', heads: [] }, { ts: T0 + 3 * HOUR });
    expect(log.verdict(T0 + DAY).problems).toContainEqual(expect.objectContaining({ code: 'UNAUTHORIZED', entry: forged.id }));
  });

  it('flags entries written by a party that was never a device or delegate', async () => {
    const { log } = await newVault(phone);
    const forged = await forge(log, stranger, 'grant', grantBody(stranger.did), { ts: T0 + HOUR });
    const verdict = log.verdict(T0 + DAY);
    expect(verdict.problems).toEqual([expect.objectContaining({ code: 'UNAUTHORIZED', entry: forged.id })]);
    expect(verdict.grants).toEqual([]);
    expect(log.entitlement(stranger.did, 'labs', T0 + DAY).entitled).toBe(false);
  });

  it('lets the subject act as owner without being a device', async () => {
    const subject = party('subject');
    const { writer, log } = await newVault(phone);
    await writer.append(subject, 'grant', grantBody(clinic.did), { ts: T0 + HOUR });
    expect(log.verdict(T0 + DAY).grants).toHaveLength(1);
  });
});

describe('removed devices', () => {
  it('a grant made by a removed device is not live', async () => {
    const { writer, log } = await newVault(phone);
    await writer.append(phone, 'device.add', { device: laptop.did, label: null, keys: [] }, { ts: T0 + HOUR });
    await writer.append(phone, 'device.remove', { device: laptop.did }, { ts: T0 + 2 * HOUR });
    await expect(writer.append(laptop, 'grant', grantBody(clinic.did), { ts: T0 + 3 * HOUR })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    const forged = await forge(log, laptop, 'grant', grantBody(clinic.did), { ts: T0 + 3 * HOUR });
    const verdict = log.verdict(T0 + DAY);
    expect(verdict.grants).toEqual([]);
    expect(verdict.problems).toEqual([expect.objectContaining({ code: 'UNAUTHORIZED', entry: forged.id })]);
    expect(verdict.devices.map((d) => d.did)).not.toContain(laptop.did);
  });

  it('a grant made by a device concurrently with its removal is not live, and breaks no rule', async () => {
    const patient = await newVault(phone);
    await patient.writer.append(phone, 'device.add', { device: laptop.did, label: null, keys: [] }, { ts: T0 + HOUR });
    const stolen = await replicaOf(patient.log);
    await patient.writer.append(phone, 'device.remove', { device: laptop.did }, { ts: T0 + 2 * HOUR });
    const grant = await stolen.writer.append(laptop, 'grant', grantBody(stranger.did), { ts: T0 + 3 * HOUR });
    await merge(patient.log, stolen.log);
    const verdict = patient.log.verdict(T0 + DAY);
    expect(verdict.valid).toBe(true);
    expect(patient.log.statusOf(grant.id)).toBe('superseded');
    expect(verdict.grants).toEqual([]);
    expect(patient.log.entitlement(stranger.did, 'labs', T0 + DAY).entitled).toBe(false);
  });

  it('a grant the removing device had already seen stays live after the removal', async () => {
    const { writer, log } = await newVault(phone);
    await writer.append(phone, 'device.add', { device: laptop.did, label: null, keys: [] }, { ts: T0 + HOUR });
    const grant = await writer.append(laptop, 'grant', grantBody(clinic.did), { ts: T0 + 2 * HOUR });
    await writer.append(phone, 'device.remove', { device: laptop.did }, { ts: T0 + 3 * HOUR });
    expect(log.verdict(T0 + DAY).grants.map((g) => g.entry)).toEqual([grant.id]);
  });

  it('a device added by a stolen device concurrently with its removal gets no authority', async () => {
    const patient = await newVault(phone);
    await patient.writer.append(phone, 'device.add', { device: laptop.did, label: null, keys: [] }, { ts: T0 + HOUR });
    const thief = await replicaOf(patient.log);
    await patient.writer.append(phone, 'device.remove', { device: laptop.did }, { ts: T0 + 2 * HOUR });
    await thief.writer.append(laptop, 'device.add', { device: stranger.did, label: null, keys: [] }, { ts: T0 + 3 * HOUR });
    const grant = await thief.writer.append(stranger, 'grant', grantBody(stranger.did), { ts: T0 + 4 * HOUR });
    await merge(patient.log, thief.log);
    const verdict = patient.log.verdict(T0 + DAY);
    expect(verdict.valid).toBe(true);
    expect(patient.log.statusOf(grant.id)).toBe('superseded');
    expect(verdict.devices.map((d) => d.did).sort()).toEqual([party('subject').did, phone.did].sort());
  });

  it('a device removed and added again may act again after the new addition', async () => {
    const { writer, log } = await newVault(phone);
    await writer.append(phone, 'device.add', { device: laptop.did, label: null, keys: [] }, { ts: T0 + HOUR });
    await writer.append(phone, 'device.remove', { device: laptop.did }, { ts: T0 + 2 * HOUR });
    await writer.append(phone, 'device.add', { device: laptop.did, label: 'repaired', keys: [] }, { ts: T0 + 3 * HOUR });
    const grant = await writer.append(laptop, 'grant', grantBody(clinic.did), { ts: T0 + 4 * HOUR });
    expect(log.statusOf(grant.id)).toBe('valid');
    expect(log.verdict(T0 + DAY).valid).toBe(true);
  });

  it('two devices removing each other concurrently both lose authority (in doubt, less authority)', async () => {
    const a = await newVault(phone);
    await a.writer.append(phone, 'device.add', { device: laptop.did, label: null, keys: [] }, { ts: T0 + HOUR });
    const b = await replicaOf(a.log);
    await a.writer.append(phone, 'device.remove', { device: laptop.did }, { ts: T0 + 2 * HOUR });
    await b.writer.append(laptop, 'device.remove', { device: phone.did }, { ts: T0 + 2 * HOUR });
    await merge(a.log, b.log);
    await merge(b.log, a.log);
    const verdictA = a.log.verdict(T0 + DAY);
    expect(verdictA.devices.map((d) => d.role)).toEqual(['subject']);
    const { tree: _ta, ...restA } = verdictA;
    const { tree: _tb, ...restB } = b.log.verdict(T0 + DAY);
    expect(restB).toEqual(restA);
  });
});

describe('guardians', () => {
  async function withGuardian(expires: number | null) {
    const v = await newVault(phone);
    const delegation = await v.writer.append(phone, 'delegate', { delegate: guardian.did, role: 'guardian', expires, scopes: [], wait: null, keys: [] }, { ts: T0 + HOUR });
    return { ...v, delegation };
  }

  it('a guardian\u2019s grant is live while the delegation is, and dies when the delegation expires', async () => {
    const { writer, log } = await withGuardian(T0 + 10 * DAY);
    const grant = await writer.append(guardian, 'grant', grantBody(clinic.did, { expires: T0 + 100 * DAY }), { ts: T0 + 2 * HOUR });
    expect(log.verdict(T0 + 9 * DAY).grants).toEqual([expect.objectContaining({ entry: grant.id, as: 'guardian', expires: T0 + 10 * DAY })]);
    expect(log.entitlement(clinic.did, 'labs', T0 + 9 * DAY).entitled).toBe(true);
    expect(log.verdict(T0 + 10 * DAY).grants).toEqual([]);
    expect(log.entitlement(clinic.did, 'labs', T0 + 10 * DAY).entitled).toBe(false);
    expect(log.entitlement(guardian.did, 'labs', T0 + 11 * DAY).entitled).toBe(false);
  });

  it('a guardian cannot write after the delegation expired (its own clock says so)', async () => {
    const { writer, log } = await withGuardian(T0 + 10 * DAY);
    await expect(writer.append(guardian, 'grant', grantBody(clinic.did), { ts: T0 + 11 * DAY })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    const late = await forge(log, guardian, 'grant', grantBody(clinic.did), { ts: T0 + 11 * DAY });
    expect(log.verdict(T0 + 12 * DAY).problems).toEqual([expect.objectContaining({ code: 'UNAUTHORIZED', entry: late.id })]);
  });

  it('a guardian grant concurrent with the undelegation is not live; one made before it stays live', async () => {
    const patient = await withGuardian(null);
    const before = await patient.writer.append(guardian, 'grant', grantBody(clinic.did), { ts: T0 + 2 * HOUR });
    const guardianCopy = await replicaOf(patient.log);
    await patient.writer.append(phone, 'undelegate', { delegation: patient.delegation.id, delegate: guardian.did }, { ts: T0 + 3 * HOUR });
    const concurrent = await guardianCopy.writer.append(guardian, 'grant', grantBody(lab.did), { ts: T0 + 4 * HOUR });
    await merge(patient.log, guardianCopy.log);
    const verdict = patient.log.verdict(T0 + DAY);
    expect(verdict.valid).toBe(true);
    expect(patient.log.statusOf(concurrent.id)).toBe('superseded');
    expect(verdict.grants.map((g) => g.entry)).toEqual([before.id]);
    expect(verdict.delegations).toEqual([]);
  });

  it('two guardians named by the genesis each act on their own', async () => {
    const dependent = party('dependent');
    const { writer, log } = await newVault(guardian, {
      body: {
        subject: dependent.did,
        devices: [],
        delegates: [
          { delegate: guardian.did, role: 'guardian' as const, expires: null },
          { delegate: guardian2.did, role: 'guardian' as const, expires: null },
        ].sort((a, b) => (a.delegate < b.delegate ? -1 : 1)),
      },
    });
    const g1 = await writer.append(guardian, 'grant', grantBody(clinic.did), { ts: T0 + HOUR });
    const g2 = await writer.append(guardian2, 'grant', grantBody(lab.did), { ts: T0 + 2 * HOUR });
    const verdict = log.verdict(T0 + DAY);
    expect(verdict.valid).toBe(true);
    expect(verdict.grants.map((g) => g.entry).sort()).toEqual([g1.id, g2.id].sort());
    expect(verdict.delegations).toHaveLength(2);
    expect(log.entitlement(guardian2.did, 'summary', T0 + DAY)).toMatchObject({ entitled: true, as: 'guardian' });
  });

  it('a delegate may step down by itself', async () => {
    const { writer, log, delegation } = await withGuardian(null);
    await writer.append(guardian, 'undelegate', { delegation: delegation.id, delegate: guardian.did }, { ts: T0 + 2 * HOUR });
    expect(log.verdict(T0 + DAY)).toMatchObject({ valid: true, delegations: [] });
  });

  it('an emergency contact cannot make grants', async () => {
    const { writer, log } = await newVault(phone);
    await writer.append(phone, 'delegate', { delegate: guardian.did, role: 'emergency', expires: null, scopes: ['labs', 'summary'], wait: 48 * 60 * 60 * 1000, keys: [] }, { ts: T0 + HOUR });
    await expect(writer.append(guardian, 'grant', grantBody(clinic.did), { ts: T0 + 2 * HOUR })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    expect(log.verdict(T0 + DAY).delegations).toEqual([expect.objectContaining({ role: 'emergency', delegate: guardian.did })]);
  });
});

describe('equivocation', () => {
  it('an equivocating device\u2019s later grants are not live; both entries are kept as proof', async () => {
    const patient = await newVault(phone);
    await patient.writer.append(phone, 'device.add', { device: laptop.did, label: null, keys: [] }, { ts: T0 + HOUR });
    const early = await patient.writer.append(laptop, 'grant', grantBody(clinic.did), { ts: T0 + 2 * HOUR });
    const fork = await replicaOf(patient.log);
    const a = await patient.writer.append(laptop, 'grant', grantBody(lab.did), { ts: T0 + 3 * HOUR });
    const b = await fork.writer.append(laptop, 'grant', grantBody(stranger.did), { ts: T0 + 3 * HOUR + 1 });
    const later = await patient.writer.append(laptop, 'grant', grantBody(tablet.did), { ts: T0 + 4 * HOUR });
    await merge(patient.log, fork.log);
    const verdict = patient.log.verdict(T0 + DAY);
    expect(verdict.equivocations).toEqual([{ author: laptop.did, seq: 1, entries: [a.id, b.id].sort() }]);
    expect(codes(verdict).sort()).toEqual(['EQUIVOCATION', 'EQUIVOCATION']);
    expect(verdict.problems.find((p) => p.entry === a.id)?.related).toEqual([b.id]);
    expect(verdict.grants.map((g) => g.entry)).toEqual([early.id]);
    expect(patient.log.statusOf(later.id)).toBe('equivocated');
    expect(verdict.devices.map((d) => d.did)).not.toContain(laptop.did);
  });
});

describe('concurrent grant and revoke', () => {
  it('resolves to revoked, whichever arrives first', async () => {
    const a = await newVault(phone);
    await a.writer.append(phone, 'device.add', { device: laptop.did, label: null, keys: [] }, { ts: T0 + HOUR });
    const grant = await a.writer.append(phone, 'grant', grantBody(clinic.did), { ts: T0 + 2 * HOUR });
    const b = await replicaOf(a.log);
    await b.writer.append(laptop, 'revoke', { grant: grant.id, reason: null }, { ts: T0 + 3 * HOUR });
    await a.writer.append(clinic, 'access', { grant: grant.id, scope: 'labs', heads: [] }, { ts: T0 + 4 * HOUR });
    await merge(a.log, b.log);
    await merge(b.log, a.log);
    expect(a.log.verdict(T0 + DAY).grants).toEqual([]);
    expect(b.log.verdict(T0 + DAY).grants).toEqual([]);
  });
});

describe('incremental verification', () => {
  it('admits each entry once when two adds of the same batch run at the same time', async () => {
    const { writer, log } = await newVault(phone);
    let ts = T0;
    for (let i = 0; i < 40; i++) await writer.append(phone, 'grant', grantBody([clinic, lab][i % 2]!.did), { ts: (ts += HOUR) });
    const all = log.entries();
    const copy = new LogVerifier({ vault: log.vault });
    const [a, b, c] = await Promise.all([copy.add(all), copy.add(all), copy.add(all.slice(10))]);
    expect(a.added.length + b.added.length + c.added.length).toBe(all.length);
    expect(copy.entries()).toHaveLength(all.length);
    expect(copy.verdict(ts + HOUR)).toEqual(log.verdict(ts + HOUR));
    expect(codes(copy.verdict(ts + HOUR))).toEqual([]);
  });

  it('gives the same verdict as verifying everything at once, in any batch split', async () => {
    const { writer, log } = await newVault(phone);
    await writer.append(phone, 'device.add', { device: laptop.did, label: null, keys: [] }, { ts: T0 + HOUR });
    await writer.append(phone, 'delegate', { delegate: guardian.did, role: 'guardian', expires: T0 + 5 * DAY, scopes: [], wait: null, keys: [] }, { ts: T0 + 2 * HOUR });
    let ts = T0 + 3 * HOUR;
    const ids: EntryId[] = [];
    for (let i = 0; i < 12; i++) {
      const author = [phone, laptop, guardian][i % 3]!;
      ids.push((await writer.append(author, 'grant', grantBody([clinic, lab][i % 2]!.did), { ts: (ts += HOUR) })).id);
    }
    await writer.append(phone, 'revoke', { grant: ids[3]!, reason: null }, { ts: (ts += HOUR) });
    await writer.append(phone, 'device.remove', { device: laptop.did }, { ts: ts + HOUR });
    const all = log.entries();
    const once = await verify(all, { now: T0 + 3 * DAY });
    const stepwise = new LogVerifier({ vault: log.vault });
    for (let i = 0; i < all.length; i += 4) await stepwise.add(all.slice(i, i + 4));
    expect(stepwise.verdict(T0 + 3 * DAY)).toEqual(once);
    // Children before parents: they wait, then join when the parents come.
    const reversed = new LogVerifier({ vault: log.vault });
    const first = await reversed.add(all.slice(5));
    expect(first.added).toEqual([]);
    expect(reversed.verdict(T0 + 3 * DAY).problems.map((p) => p.code)).toContain('MISSING_PARENT');
    await reversed.add(all.slice(0, 5));
    const { tree: _t1, ...a } = reversed.verdict(T0 + 3 * DAY);
    const { tree: _t2, ...b } = once;
    expect(a).toEqual(b);
  });

  it('ignores an entry it already holds, and completes one it held without a body', async () => {
    const { writer, log } = await newVault(phone);
    const grant = await writer.append(phone, 'grant', grantBody(clinic.did), { ts: T0 + HOUR });
    const headerOnly = new LogVerifier({ vault: log.vault });
    await headerOnly.add(log.entries().map((e, i) => (i === 1 ? { header: e.header, signature: e.signature } : e)));
    expect(headerOnly.verdict(T0 + DAY).grants).toEqual([]);
    const again = await headerOnly.add(log.entries());
    expect(again.known).toHaveLength(2);
    expect(headerOnly.verdict(T0 + DAY).grants.map((g) => g.entry)).toEqual([grant.id]);
  });

  it('is not poisoned by a copy of an entry whose body was damaged in transit', async () => {
    const { writer, log } = await newVault(phone);
    const grant = await writer.append(phone, 'grant', grantBody(clinic.did), { ts: T0 + HOUR });
    const copy = new LogVerifier({ vault: log.vault });
    const damaged = grant.body.slice();
    damaged[5]! ^= 1;
    const first = await copy.add([log.entries()[0]!, { header: grant.header, signature: grant.signature, body: damaged }]);
    expect(first.rejected).toEqual([expect.objectContaining({ code: 'BODY_HASH_MISMATCH', entry: grant.id })]);
    const second = await copy.add([grant]);
    expect(second.added).toEqual([grant.id]);
    expect(copy.verdict(T0 + DAY).valid).toBe(true);
  });
});

describe('withheld bodies', () => {
  it('a provider\u2019s copy verifies the whole chain, sees its own grant and none of the others', async () => {
    const { writer, log } = await newVault(phone);
    await writer.append(phone, 'delegate', { delegate: guardian.did, role: 'guardian', expires: null, scopes: [], wait: null, keys: [] }, { ts: T0 + HOUR });
    await writer.append(phone, 'delegate', { delegate: tablet.did, role: 'emergency', expires: null, scopes: ['labs', 'summary'], wait: 48 * 60 * 60 * 1000, keys: [] }, { ts: T0 + 2 * HOUR });
    const mine = await writer.append(guardian, 'grant', grantBody(clinic.did), { ts: T0 + 3 * HOUR });
    const other = await writer.append(phone, 'grant', grantBody(lab.did), { ts: T0 + 4 * HOUR });
    await writer.append(lab, 'access', { grant: other.id, scope: 'labs', heads: [] }, { ts: T0 + 5 * HOUR });
    await writer.append(clinic, 'access', { grant: mine.id, scope: 'summary', heads: [] }, { ts: T0 + 6 * HOUR });
    await writer.append(phone, 'revoke', { grant: other.id, reason: null }, { ts: T0 + 7 * HOUR });

    const allowed = log.bodiesFor(clinic.did, T0 + DAY);
    const view = log.entries({ for: clinic.did, now: T0 + DAY });
    const providerCopy = new LogVerifier({ vault: log.vault });
    await providerCopy.add(view);
    const verdict = providerCopy.verdict(T0 + DAY);
    expect(verdict.valid).toBe(true);
    expect(verdict.size).toBe(log.size);
    expect(verdict.grants.map((g) => g.entry)).toEqual([mine.id]);
    expect(verdict.withheld).toBe(view.filter((e) => e.body === undefined).length);
    // It holds the guardian's delegation (its grant's authority) but not the emergency contact's.
    expect(verdict.delegations.map((d) => d.delegate)).toEqual([guardian.did]);
    expect(allowed.has(other.id)).toBe(false);
    expect(providerCopy.entitlement(clinic.did, 'summary', T0 + DAY).entitled).toBe(true);
    expect(providerCopy.entitlement(lab.did, 'labs', T0 + DAY).entitled).toBe(false);
  });

  it('owners and live guardians may receive every body', async () => {
    const { writer, log } = await newVault(phone);
    await writer.append(phone, 'delegate', { delegate: guardian.did, role: 'guardian', expires: T0 + 2 * DAY, scopes: [], wait: null, keys: [] }, { ts: T0 + HOUR });
    await writer.append(phone, 'grant', grantBody(lab.did), { ts: T0 + 2 * HOUR });
    expect(log.bodiesFor(phone.did, T0 + DAY).size).toBe(log.size);
    expect(log.bodiesFor(guardian.did, T0 + DAY).size).toBe(log.size);
    expect(log.bodiesFor(guardian.did, T0 + 3 * DAY).size).toBeLessThan(log.size);
  });

  it('reports a withheld device body as BODY_MISSING (every holder needs it)', async () => {
    const { writer, log } = await newVault(phone);
    const add = await writer.append(phone, 'device.add', { device: laptop.did, label: null, keys: [] }, { ts: T0 + HOUR });
    const copy = new LogVerifier({ vault: log.vault });
    await copy.add(log.entries().map((e, i) => (i === 1 ? { header: e.header, signature: e.signature } : e)));
    expect(copy.verdict(T0 + DAY).problems).toEqual([expect.objectContaining({ code: 'BODY_MISSING', entry: add.id })]);
  });
});

describe('proofs', () => {
  it('proves a grant is in the log and that the log extends an older tree head', async () => {
    const { verifyConsistency, verifyInclusion, leafHash } = await import('./merkle.js');
    const { fromBase64Url } = await import('../crypto/index.js');
    const { writer, log } = await newVault(phone);
    const grant = await writer.append(phone, 'grant', grantBody(clinic.did), { ts: T0 + HOUR });
    const old = log.treeHead();
    for (let i = 0; i < 5; i++) await writer.append(phone, 'grant', grantBody(lab.did), { ts: T0 + (2 + i) * HOUR });
    const now = log.treeHead();
    const inclusion = log.inclusionProof(grant.id);
    expect(verifyInclusion(leafHash(fromBase64Url(grant.id)), inclusion.index, inclusion.size, inclusion.proof, now.root)).toBe(true);
    expect(verifyConsistency(old.size, now.size, log.consistencyProof(old.size), old.root, now.root)).toBe(true);
    expect(() => log.inclusionProof(stranger.did)).toThrow(GrantsError);
  });

  it('reports two signed heads of one signer with the same size and different roots as a fork', async () => {
    const { signTreeHead } = await import('./tree-head.js');
    const { sha256, utf8 } = await import('../crypto/index.js');
    const { writer, log } = await newVault(phone);
    await writer.append(phone, 'grant', grantBody(clinic.did), { ts: T0 + HOUR });
    const honest = await signTreeHead(phone, { vault: log.vault, ...log.treeHead(), ts: T0 + 2 * HOUR });
    const other = await signTreeHead(phone, { vault: log.vault, size: log.size, root: sha256(utf8('another history')), ts: T0 + 2 * HOUR });
    await log.addTreeHeads([honest, other]);
    const verdict = log.verdict(T0 + DAY);
    expect(codes(verdict)).toEqual(['FORK']);
    expect(verdict.forks).toHaveLength(1);
    expect(verdict.forks[0]!.signer).toBe(phone.did);
    expect(verdict.forks[0]!.heads).toHaveLength(2);
  });
});

describe('verify()', () => {
  it('reports an entry given twice as DUPLICATE_ENTRY', async () => {
    const { writer, log } = await newVault(phone);
    const grant = await writer.append(phone, 'grant', grantBody(clinic.did), { ts: T0 + HOUR });
    const verdict = await verify([...log.entries(), grant], { now: T0 + DAY });
    expect(verdict.problems).toEqual([expect.objectContaining({ code: 'DUPLICATE_ENTRY', entry: grant.id })]);
  });

  it('reports entries from the future beyond the clock skew', async () => {
    const { writer, log } = await newVault(phone);
    const grant = await writer.append(phone, 'grant', grantBody(clinic.did), { ts: T0 + DAY });
    expect((await verify(log.entries(), { now: T0 + DAY })).valid).toBe(true);
    expect((await verify(log.entries(), { now: T0 })).problems).toEqual([expect.objectContaining({ code: 'FUTURE_TIMESTAMP', entry: grant.id })]);
  });

  it('reports a log without its genesis as NO_GENESIS', async () => {
    const { writer, log } = await newVault(phone);
    await writer.append(phone, 'grant', grantBody(clinic.did), { ts: T0 + HOUR });
    const verdict = await verify(log.entries().slice(1), { now: T0 + DAY });
    expect(codes(verdict).sort()).toEqual(['MISSING_PARENT', 'NO_GENESIS']);
  });

  it('refuses input that is not a list of entries with a typed error', async () => {
    await expect(verify('nope' as never, { now: T0 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(verify([], { now: T0 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(verify([{ header: 'x', signature: new Uint8Array(64) } as never], { now: T0 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});

describe('vaultOf()', () => {
  it('picks the vault most entries name, so a damaged genesis does not take over the log', async () => {
    const { writer, log, vault } = await newVault(phone);
    await writer.append(phone, 'grant', grantBody(clinic.did), { ts: T0 + HOUR });
    await writer.append(phone, 'grant', grantBody(lab.did), { ts: T0 + 2 * HOUR });
    const { vaultOf: pick } = await import('./log-verifier.js');
    const entries = log.entries();
    const damaged = { ...entries[0]!, signature: new Uint8Array(64).fill(1) };
    expect(pick(entries)).toBe(vault);
    expect(pick([damaged, ...entries.slice(1)])).toBe(vault);
    const verdict = await verify([damaged, ...entries.slice(1)], { now: T0 + DAY });
    expect(codes(verdict)).toContain('BAD_SIGNATURE');
    expect(codes(verdict)).toContain('NO_GENESIS');
    expect(codes(verdict)).not.toContain('WRONG_VAULT');
  });
});
