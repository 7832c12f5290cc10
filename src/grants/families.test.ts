import { describe, expect, it } from 'vitest';
import type { Identity } from '../crypto/index.js';
import { DAY, HOUR, T0, forge, merge, newVault, party, replicaOf, type Replica } from './testkit.js';
import type { GrantBody, ScopeName } from './index.js';
import type { VaultId } from './types.js';

/**
 * Issue 8 rules in the verifier (pure, clock injected as `now`): guardians of a dependent's vault,
 * handover at majority, dependent-only scopes, emergency access with a wait and a denial.
 */

const mum = party('mum');
const dad = party('dad');
const child = party('child-at-18');
const childPhone = party('child-phone');
const placeholder = party('child-placeholder-subject');
const nurse = party('school-nurse');
const clinic = party('clinic');
const friend = party('trusted-friend');
const stranger = party('stranger');
const phone = party('phone');
const WAIT = 48 * HOUR;

function share(grantee: Identity, scopes: ScopeName[] = ['summary'], over: Partial<GrantBody> = {}): GrantBody {
  return { grantee: grantee.did, scopes, actions: ['read'], purpose: 'family', expires: null, keys: [], ...over };
}

/** A child's vault created by mum, naming mum and dad as guardians (until the 18th birthday). */
async function childVault(guardianExpiry: number | null = T0 + 365 * DAY): Promise<Replica & { vault: VaultId }> {
  const delegates = [mum, dad].map((g) => ({ delegate: g.did, role: 'guardian' as const, expires: guardianExpiry })).sort((a, b) => (a.delegate < b.delegate ? -1 : 1));
  return newVault(mum, { body: { subject: placeholder.did, devices: [], delegates } });
}

describe('guardians of a dependent\u2019s vault', () => {
  it('each guardian acts on their own; a provider verifies a guardian\u2019s grant through the delegation', async () => {
    const { writer, log } = await childVault();
    const immunizations = await writer.append(mum, 'grant', share(nurse), { ts: T0 + HOUR });
    await writer.append(dad, 'grant', share(clinic, ['labs']), { ts: T0 + 2 * HOUR });
    const verdict = log.verdict(T0 + DAY);
    expect(verdict.valid).toBe(true);
    expect(verdict.grants.map((g) => g.as)).toEqual(['guardian', 'guardian']);
    expect(verdict.devices.map((d) => d.role)).toEqual(['subject']);
    const nurseCopy = await replicaOf(log);
    const view = log.entries({ for: nurse.did, now: T0 + DAY });
    const { LogVerifier } = await import('./log-verifier.js');
    const providerCopy = new LogVerifier({ vault: log.vault });
    await providerCopy.add(view);
    expect(providerCopy.verdict(T0 + DAY)).toMatchObject({ valid: true, grants: [expect.objectContaining({ entry: immunizations.id, as: 'guardian' })] });
    expect(nurseCopy.log.entitlement(nurse.did, 'summary', T0 + DAY).entitled).toBe(true);
  });

  it('a delegation signed by someone who is not an owner (or guardian) is UNAUTHORIZED', async () => {
    const { log } = await newVault(phone);
    const bad = await forge(log, stranger, 'delegate', { delegate: stranger.did, role: 'guardian', expires: null, scopes: [], wait: null, keys: [] }, { ts: T0 + HOUR });
    expect(log.verdict(T0 + DAY).problems).toEqual([expect.objectContaining({ code: 'UNAUTHORIZED', entry: bad.id })]);
    expect(log.entitlement(stranger.did, 'summary', T0 + DAY).entitled).toBe(false);
  });
});

describe('handover at majority', () => {
  async function handedOver(guardians: 'end' | 'read') {
    const v = await childVault(null);
    const before = await v.writer.append(mum, 'grant', share(nurse), { ts: T0 + HOUR });
    const handover = await v.writer.append(mum, 'handover', { subject: child.did, devices: [childPhone.did], guardians }, { ts: T0 + 2 * HOUR });
    return { ...v, before, handover };
  }

  it('the dependent becomes the subject with their own device; guardians\u2019 authority ends; earlier grants stay live', async () => {
    const { writer, log, before } = await handedOver('end');
    const verdict = log.verdict(T0 + DAY);
    expect(verdict.valid).toBe(true);
    expect(verdict.subject).toBe(child.did);
    expect(verdict.devices.map((d) => d.did).sort()).toEqual([child.did, childPhone.did].sort());
    expect(verdict.delegations).toEqual([]);
    expect(verdict.grants.map((g) => g.entry)).toEqual([before.id]);
    expect(log.entitlement(mum.did, 'summary', T0 + DAY).entitled).toBe(false);
    expect(log.entitlement(placeholder.did, 'summary', T0 + DAY).entitled).toBe(false);
    await expect(writer.append(mum, 'grant', share(clinic), { ts: T0 + 3 * HOUR })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    // The new owner revokes what the guardian had shared.
    await writer.append(childPhone, 'revoke', { grant: before.id, reason: null }, { ts: T0 + 4 * HOUR });
    expect(log.verdict(T0 + DAY).grants).toEqual([]);
  });

  it('keeps a guardian\u2019s earlier grant past the end of the guardian\u2019s delegation once handed over', async () => {
    const v = await childVault(T0 + 10 * DAY);
    const grant = await v.writer.append(mum, 'grant', share(nurse), { ts: T0 + HOUR });
    expect(v.log.verdict(T0 + 11 * DAY).grants).toEqual([]);
    await v.writer.append(dad, 'handover', { subject: child.did, devices: [childPhone.did], guardians: 'end' }, { ts: T0 + 2 * HOUR });
    expect(v.log.verdict(T0 + 11 * DAY).grants.map((g) => g.entry)).toEqual([grant.id]);
  });

  it('guardians kept read-only may read but not write', async () => {
    const { writer, log } = await handedOver('read');
    expect(log.entitlement(mum.did, 'labs', T0 + DAY)).toMatchObject({ entitled: true, as: 'reader' });
    expect(log.entitlement(mum.did, 'labs', T0 + DAY, 'append').entitled).toBe(false);
    await expect(writer.append(dad, 'grant', share(clinic), { ts: T0 + 3 * HOUR })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
  });

  it('a guardian grant concurrent with the handover is not live', async () => {
    const v = await childVault(null);
    const dadCopy = await replicaOf(v.log);
    await v.writer.append(mum, 'handover', { subject: child.did, devices: [childPhone.did], guardians: 'end' }, { ts: T0 + 2 * HOUR });
    const concurrent = await dadCopy.writer.append(dad, 'grant', share(clinic), { ts: T0 + 3 * HOUR });
    await merge(v.log, dadCopy.log);
    expect(v.log.statusOf(concurrent.id)).toBe('superseded');
    expect(v.log.verdict(T0 + DAY)).toMatchObject({ valid: true, grants: [] });
  });

  it('a handover signed by a guardian whose delegation ended is UNAUTHORIZED', async () => {
    const v = await childVault(T0 + DAY);
    const late = await forge(v.log, dad, 'handover', { subject: stranger.did, devices: [stranger.did], guardians: 'end' }, { ts: T0 + 2 * DAY });
    const verdict = v.log.verdict(T0 + 3 * DAY);
    expect(verdict.problems).toEqual([expect.objectContaining({ code: 'UNAUTHORIZED', entry: late.id })]);
    expect(verdict.subject).toBe(placeholder.did);
    expect(v.log.entitlement(stranger.did, 'summary', T0 + 3 * DAY).entitled).toBe(false);
  });

  it('a provider sees the change of authority (handover bodies are public)', async () => {
    const { log, before } = await handedOver('end');
    const { LogVerifier } = await import('./log-verifier.js');
    const providerCopy = new LogVerifier({ vault: log.vault });
    await providerCopy.add(log.entries({ for: nurse.did, now: T0 + DAY }));
    const verdict = providerCopy.verdict(T0 + DAY);
    expect(verdict).toMatchObject({ valid: true, subject: child.did });
    expect(verdict.grants.map((g) => g.entry)).toEqual([before.id]);
  });
});

describe('dependent-only scopes', () => {
  it('from the set time, guardians can neither read nor share the scope; the owner still can', async () => {
    const { writer, log } = await childVault(null);
    const earlier = await writer.append(dad, 'grant', share(clinic, ['reproductive', 'summary']), { ts: T0 + HOUR });
    await writer.append(mum, 'protect', { scopes: ['reproductive'], from: T0 + 10 * DAY }, { ts: T0 + 2 * HOUR });
    expect(log.entitlement(mum.did, 'reproductive', T0 + 5 * DAY).entitled).toBe(true);
    expect(log.entitlement(mum.did, 'reproductive', T0 + 10 * DAY).entitled).toBe(false);
    expect(log.entitlement(mum.did, 'summary', T0 + 10 * DAY).entitled).toBe(true);
    // What dad shared before keeps only the scopes that are not dependent-only.
    expect(log.verdict(T0 + 11 * DAY).grants).toEqual([expect.objectContaining({ entry: earlier.id, scopes: ['summary'] })]);
    expect(log.entitlement(clinic.did, 'reproductive', T0 + 11 * DAY).entitled).toBe(false);
    // A guardian sharing it after the time is refused by the writer and flagged by the verifier.
    await expect(writer.append(dad, 'grant', share(clinic, ['reproductive']), { ts: T0 + 11 * DAY })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    const forged = await forge(log, dad, 'grant', share(clinic, ['reproductive']), { ts: T0 + 11 * DAY });
    expect(log.verdict(T0 + 12 * DAY).problems).toEqual([expect.objectContaining({ code: 'SCOPE_PROTECTED', entry: forged.id })]);
    expect(log.entitlement(clinic.did, 'reproductive', T0 + 12 * DAY).entitled).toBe(false);
  });

  it('a guardian grant concurrent with the protection has no effect on the protected scope', async () => {
    const v = await childVault(null);
    const dadCopy = await replicaOf(v.log);
    await v.writer.append(mum, 'protect', { scopes: ['reproductive'], from: T0 }, { ts: T0 + HOUR });
    const concurrent = await dadCopy.writer.append(dad, 'grant', share(clinic, ['reproductive']), { ts: T0 + 2 * HOUR });
    await merge(v.log, dadCopy.log);
    expect(v.log.statusOf(concurrent.id)).toBe('superseded');
    expect(v.log.verdict(T0 + DAY)).toMatchObject({ valid: true, grants: [] });
  });

  it('a guardian cannot pass a dependent-only scope on through an emergency contact (SCOPE_PROTECTED)', async () => {
    const { writer, log } = await childVault(null);
    await writer.append(mum, 'protect', { scopes: ['reproductive'], from: T0 }, { ts: T0 + HOUR });
    const contact = { delegate: friend.did, role: 'emergency' as const, expires: null, scopes: ['reproductive' as const], wait: 0, keys: [] };
    await expect(writer.append(mum, 'delegate', contact, { ts: T0 + 2 * HOUR })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    const forged = await forge(log, mum, 'delegate', contact, { ts: T0 + 2 * HOUR });
    const request = await forge(log, friend, 'emergency.request', { delegation: forged.id, reason: null }, { ts: T0 + 3 * HOUR });
    expect(log.statusOf(forged.id)).toBe('unauthorized');
    // The contact's request then rests on no delegation at all.
    expect(log.problems(T0 + DAY).map((p) => [p.code, p.entry])).toEqual(
      expect.arrayContaining([
        ['SCOPE_PROTECTED', forged.id],
        ['UNAUTHORIZED', request.id],
      ]),
    );
    expect(log.entitlement(friend.did, 'reproductive', T0 + DAY).entitled).toBe(false);
  });

  it('an emergency contact a guardian named before the protection loses the dependent-only scope from its time on', async () => {
    const { writer, log } = await childVault(null);
    const named = await writer.append(mum, 'delegate', { delegate: friend.did, role: 'emergency', expires: null, scopes: ['reproductive', 'summary'], wait: 0, keys: [] }, { ts: T0 + HOUR });
    await writer.append(friend, 'emergency.request', { delegation: named.id, reason: null }, { ts: T0 + 2 * HOUR });
    await writer.append(mum, 'protect', { scopes: ['reproductive'], from: T0 + 10 * DAY }, { ts: T0 + 3 * HOUR });
    expect(log.entitlement(friend.did, 'reproductive', T0 + DAY)).toMatchObject({ entitled: true, as: 'emergency' });
    expect(log.entitlement(friend.did, 'reproductive', T0 + 10 * DAY).entitled).toBe(false);
    expect(log.entitlement(friend.did, 'summary', T0 + 10 * DAY)).toMatchObject({ entitled: true, as: 'emergency' });
  });

  it('the dependent, as owner after handover, may share a dependent-only scope', async () => {
    const v = await childVault(null);
    await v.writer.append(mum, 'protect', { scopes: ['reproductive'], from: T0 }, { ts: T0 + HOUR });
    await v.writer.append(mum, 'handover', { subject: child.did, devices: [childPhone.did], guardians: 'read' }, { ts: T0 + 2 * HOUR });
    const own = await v.writer.append(childPhone, 'grant', share(clinic, ['reproductive']), { ts: T0 + 3 * HOUR });
    expect(v.log.verdict(T0 + DAY).grants.map((g) => g.entry)).toEqual([own.id]);
    expect(v.log.entitlement(mum.did, 'reproductive', T0 + DAY).entitled).toBe(false);
    expect(v.log.entitlement(mum.did, 'summary', T0 + DAY)).toMatchObject({ entitled: true, as: 'reader' });
  });
});

describe('emergency access', () => {
  async function withContact() {
    const v = await newVault(phone);
    const delegation = await v.writer.append(phone, 'delegate', { delegate: friend.did, role: 'emergency', expires: null, scopes: ['labs', 'summary'], wait: WAIT, keys: [] }, { ts: T0 + HOUR });
    const request = await v.writer.append(friend, 'emergency.request', { delegation: delegation.id, reason: 'hospital admission' }, { ts: T0 + 10 * HOUR });
    return { ...v, delegation, request };
  }

  it('opens when the wait ends with no denial — judged by the verifier\u2019s now', async () => {
    const { log, request } = await withContact();
    const opens = T0 + 10 * HOUR + WAIT;
    expect(log.verdict(opens - 1).emergencies).toEqual([expect.objectContaining({ request: request.id, state: 'waiting', opensAt: opens })]);
    expect(log.entitlement(friend.did, 'summary', opens - 1).entitled).toBe(false);
    expect(log.verdict(opens).emergencies).toEqual([expect.objectContaining({ state: 'open' })]);
    expect(log.entitlement(friend.did, 'summary', opens)).toMatchObject({ entitled: true, as: 'emergency', entry: request.id });
    expect(log.entitlement(friend.did, 'mental-health', opens).entitled).toBe(false);
    expect(log.entitlement(friend.did, 'summary', opens, 'append').entitled).toBe(false);
    expect(log.verdict(opens).valid).toBe(true);
  });

  it('a denial during the wait keeps it closed; one after the wait does not', async () => {
    const denied = await withContact();
    const denial = await denied.writer.append(phone, 'emergency.deny', { request: denied.request.id, reason: null }, { ts: T0 + 20 * HOUR });
    expect(denied.log.verdict(T0 + 10 * DAY).emergencies).toEqual([expect.objectContaining({ state: 'denied', deniedBy: denial.id })]);
    expect(denied.log.entitlement(friend.did, 'labs', T0 + 10 * DAY).entitled).toBe(false);

    const late = await withContact();
    await late.writer.append(phone, 'emergency.deny', { request: late.request.id, reason: null }, { ts: T0 + 10 * HOUR + WAIT + HOUR });
    expect(late.log.verdict(T0 + 10 * DAY).emergencies).toEqual([expect.objectContaining({ state: 'open' })]);
    expect(late.log.entitlement(friend.did, 'labs', T0 + 10 * DAY).entitled).toBe(true);
  });

  it('ends with the delegation', async () => {
    const { writer, log, delegation } = await withContact();
    await writer.append(phone, 'undelegate', { delegation: delegation.id, delegate: friend.did }, { ts: T0 + 5 * DAY });
    expect(log.verdict(T0 + 6 * DAY).emergencies).toEqual([expect.objectContaining({ state: 'ended' })]);
    expect(log.entitlement(friend.did, 'labs', T0 + 6 * DAY).entitled).toBe(false);
  });

  it('a request from someone who is not an emergency contact is UNAUTHORIZED', async () => {
    const { log, delegation } = await withContact();
    const bad = await forge(log, stranger, 'emergency.request', { delegation: delegation.id, reason: null }, { ts: T0 + 11 * HOUR });
    expect(log.verdict(T0 + 10 * DAY).problems).toEqual([expect.objectContaining({ code: 'UNAUTHORIZED', entry: bad.id })]);
    expect(log.entitlement(stranger.did, 'labs', T0 + 10 * DAY).entitled).toBe(false);
  });

  it('a back-dated denial (one that had not seen the request) is BACKDATED_DENIAL and keeps nothing closed', async () => {
    const v = await newVault(phone);
    const delegation = await v.writer.append(phone, 'delegate', { delegate: friend.did, role: 'emergency', expires: null, scopes: ['labs'], wait: WAIT, keys: [] }, { ts: T0 + HOUR });
    const patientCopy = await replicaOf(v.log);
    const request = await v.writer.append(friend, 'emergency.request', { delegation: delegation.id, reason: null }, { ts: T0 + 10 * HOUR });
    // The patient's copy never saw the request, yet signs a denial of it dated inside the window.
    const denial = await forge(patientCopy.log, phone, 'emergency.deny', { request: request.id, reason: null }, { ts: T0 + 11 * HOUR });
    await merge(v.log, patientCopy.log);
    const verdict = v.log.verdict(T0 + 10 * DAY);
    expect(verdict.problems).toEqual([expect.objectContaining({ code: 'BACKDATED_DENIAL', entry: denial.id })]);
    expect(verdict.emergencies).toEqual([expect.objectContaining({ state: 'open' })]);
  });

  it('the emergency contact receives its delegation, its requests and their denials, nothing else', async () => {
    const { writer, log, delegation, request } = await withContact();
    const other = await writer.append(phone, 'grant', share(clinic), { ts: T0 + 11 * HOUR });
    const denial = await writer.append(phone, 'emergency.deny', { request: request.id, reason: null }, { ts: T0 + 12 * HOUR });
    const allowed = log.bodiesFor(friend.did, T0 + DAY);
    expect(allowed.has(delegation.id)).toBe(true);
    expect(allowed.has(request.id)).toBe(true);
    expect(allowed.has(denial.id)).toBe(true);
    expect(allowed.has(other.id)).toBe(false);
  });
});
