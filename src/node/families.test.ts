import { describe, expect, it } from 'vitest';
import type { GrantBody } from '../grants/index.js';
import { DAY, HOUR, T0, forge, newVault, party } from '../grants/testkit.js';
import { authorityOf, delegationsOf, trailOf } from './families.js';

/** The engine's readings of a verified log for families (pure: log and `now` in, plain data out). */

const mum = party('families-mum');
const dad = party('families-dad');
const child = party('families-child');
const placeholder = party('families-placeholder');
const nurse = party('families-nurse');
const friend = party('families-friend');
const WAIT = 48 * HOUR;

const share = (scopes: GrantBody['scopes']): GrantBody => ({ grantee: nurse.did, scopes, actions: ['read'], purpose: 'treatment', expires: null, keys: [] });

async function childVault() {
  return newVault(mum, { body: { subject: placeholder.did, devices: [], delegates: [{ delegate: mum.did, role: 'guardian', expires: T0 + 365 * DAY }], label: 'Child' } });
}

describe('delegationsOf', () => {
  it('lists live guardians and emergency contacts with their scopes and wait; ended ones drop out', async () => {
    const { log, writer, vault } = await childVault();
    const dadEntry = await writer.append(mum, 'delegate', { delegate: dad.did, role: 'guardian', expires: null, scopes: [], wait: null, keys: [] }, { ts: T0 + HOUR });
    const friendEntry = await writer.append(mum, 'delegate', { delegate: friend.did, role: 'emergency', expires: null, scopes: ['labs', 'summary'], wait: WAIT, keys: [] }, { ts: T0 + 2 * HOUR });
    expect(delegationsOf(log, T0 + DAY)).toEqual(
      expect.arrayContaining([
        { entry: vault, delegate: mum.did, role: 'guardian', expires: T0 + 365 * DAY, author: mum.did, scopes: [], waitMs: null },
        { entry: dadEntry.id, delegate: dad.did, role: 'guardian', expires: null, author: mum.did, scopes: [], waitMs: null },
        { entry: friendEntry.id, delegate: friend.did, role: 'emergency', expires: null, author: mum.did, scopes: ['labs', 'summary'], waitMs: WAIT },
      ]),
    );
    expect(delegationsOf(log, T0 + 366 * DAY).map((d) => d.delegate).sort()).toEqual([dad.did, friend.did].sort());
    await writer.append(dad, 'undelegate', { delegation: friendEntry.id, delegate: friend.did }, { ts: T0 + 3 * HOUR });
    expect(delegationsOf(log, T0 + DAY).map((d) => d.delegate).sort()).toEqual([mum.did, dad.did].sort());
  });
});

describe('authorityOf', () => {
  it('names the guardians before a handover, the dependent and its devices after it, and the dependent-only scopes in force', async () => {
    const { log, writer } = await childVault();
    await writer.append(mum, 'protect', { scopes: ['reproductive'], from: T0 + 10 * DAY }, { ts: T0 + HOUR });
    expect(authorityOf(log, T0 + DAY)).toMatchObject({ subject: placeholder.did, owners: [placeholder.did], guardians: [mum.did], handover: null, protectedScopes: [] });
    expect(authorityOf(log, T0 + 10 * DAY).protectedScopes).toEqual(['reproductive']);
    const handover = await writer.append(mum, 'handover', { subject: child.did, devices: [child.did], guardians: 'end' }, { ts: T0 + 2 * HOUR });
    expect(authorityOf(log, T0 + DAY)).toMatchObject({ subject: child.did, owners: [child.did], guardians: [], handover: { entry: handover.id, at: T0 + 2 * HOUR, by: mum.did, guardians: 'end' } });
  });
});

describe('trailOf', () => {
  it('lists grants, receipts, family entries, emergency openings and servings oldest first; unauthorized entries never', async () => {
    const { log, writer } = await newVault(mum, { body: { subject: mum.did, devices: [mum.did], delegates: [], label: null } });
    const grant = await writer.append(mum, 'grant', share(['labs']), { ts: T0 + HOUR });
    const receipt = await writer.append(nurse, 'access', { grant: grant.id, scope: 'labs', heads: [] }, { ts: T0 + 2 * HOUR });
    const delegation = await writer.append(mum, 'delegate', { delegate: friend.did, role: 'emergency', expires: null, scopes: ['summary'], wait: WAIT, keys: [] }, { ts: T0 + 3 * HOUR });
    const request = await writer.append(friend, 'emergency.request', { delegation: delegation.id, reason: null }, { ts: T0 + 4 * HOUR });
    const revoke = await writer.append(mum, 'revoke', { grant: grant.id, reason: null }, { ts: T0 + 5 * HOUR });
    await forge(log, nurse, 'delegate', { delegate: nurse.did, role: 'guardian', expires: null, scopes: [], wait: null, keys: [] }, { ts: T0 + 6 * HOUR });
    const before = trailOf(log, T0 + 4 * HOUR + WAIT - 1, []);
    expect(before.map((t) => [t.kind, t.entry, t.about])).toEqual([
      ['grant', grant.id, nurse.did],
      ['access', receipt.id, nurse.did],
      ['delegate', delegation.id, friend.did],
      ['emergency.request', request.id, friend.did],
      ['revoke', revoke.id, nurse.did],
    ]);
    expect(before.find((t) => t.kind === 'emergency.request')?.scopes).toEqual(['summary']);
    const opensAt = T0 + 4 * HOUR + WAIT;
    const after = trailOf(log, opensAt + HOUR, [{ at: opensAt + 30 * 60_000, contact: friend.did, scope: 'summary' }]);
    expect(after.slice(-2)).toEqual([
      { at: opensAt, kind: 'emergency.open', by: friend.did, entry: request.id, about: friend.did, scopes: ['summary'] },
      { at: opensAt + 30 * 60_000, kind: 'emergency.served', by: friend.did, entry: null, about: friend.did, scopes: ['summary'] },
    ]);
  });
});
