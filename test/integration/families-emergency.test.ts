import { afterEach, describe, expect, it } from 'vitest';
import type { EmergencyEvent } from '../../src/node/index.js';
import { DocumentHandle } from '../../src/sync/index.js';
import { put, read, startDevice, testClock, type Device } from './sync-helpers.js';

/**
 * Issue 8: emergency access over real engines and real libp2p, with the clock injected into every
 * engine: access opens when the wait ends undenied — as the serving node's verifier judges it at its
 * `now` — and every step is in the patient's access trail.
 */

const HOUR = 3_600_000;
const WAIT = 48 * HOUR;

describe('emergency access, real engines over real libp2p', () => {
  const devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.stop();
  });

  it('a request denied during the wait stays closed; one not denied opens when the wait ends, read only, its scopes only', async () => {
    const clock = testClock();
    const [patient, friend] = await Promise.all([startDevice({ now: clock.now }), startDevice({ now: clock.now })]);
    devices.push(patient, friend);
    const vault = await patient.node.createVault('synthetic patient');
    await patient.node.editRecords(['summary', 'labs', 'mental-health'], async (r) => {
      await put(r, 'summary', 'AllergyIntolerance/a1', { code: { text: 'synthetic allergen' } });
      await put(r, 'labs', 'Observation/l1', { status: 'final', code: { text: 'synthetic lab' } });
      await put(r, 'mental-health', 'Condition/m1', { code: { text: 'synthetic condition' } });
    });
    const named = await patient.node.delegate(friend.identity.did, { role: 'emergency', scopes: ['summary', 'labs'], waitMs: WAIT });
    expect(patient.node.delegations()).toEqual([expect.objectContaining({ entry: named, role: 'emergency', scopes: ['labs', 'summary'], waitMs: WAIT })]);
    const delegation = await friend.node.followVault(vault, patient.identity.did, patient.address());
    expect(delegation).toMatchObject({ entry: named, waitMs: WAIT });
    expect(friend.node.vaults()).toEqual([expect.objectContaining({ vault, kind: 'shared', as: 'contact' })]);
    const notified: EmergencyEvent[] = [];
    patient.node.addEventListener('emergency', (e) => notified.push((e as CustomEvent<EmergencyEvent>).detail));

    // First request: the patient is notified and denies it during the wait.
    const first = await friend.node.requestEmergency(vault, 'admitted to hospital');
    expect(first).toMatchObject({ delivered: true, opensAt: expect.any(Number) });
    expect(notified).toEqual([expect.objectContaining({ vault, kind: 'request', request: first.request, contact: friend.identity.did, opensAt: first.opensAt, origin: 'peer' })]);
    clock.advance(HOUR);
    const denial = await patient.node.denyEmergency(first.request, 'I am fine');
    clock.set(first.opensAt + HOUR);
    expect(patient.node.emergencies()).toEqual([expect.objectContaining({ request: first.request, state: 'denied', deniedBy: denial })]);
    expect((await friend.node.pull(vault)).scopes).toEqual([]);
    expect(friend.node.emergencies(vault)).toEqual([expect.objectContaining({ request: first.request, state: 'denied' })]);
    await expect(friend.node.docs.sync(patient.libp2p.getMultiaddrs(), { vault, doc: 'summary', target: new DocumentHandle() })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });

    // Second request: nobody denies it. Closed one minute before the wait ends, open at its end.
    const second = await friend.node.requestEmergency(vault, null);
    expect(second.opensAt - clock.now()).toBeGreaterThanOrEqual(WAIT);
    clock.set(second.opensAt - 60_000);
    expect((await friend.node.pull(vault)).scopes).toEqual([]);
    await expect(friend.node.docs.sync(patient.libp2p.getMultiaddrs(), { vault, doc: 'labs', target: new DocumentHandle() })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    clock.set(second.opensAt);
    expect(patient.node.emergencies().find((e) => e.request === second.request)?.state).toBe('open');
    const opened = await friend.node.pull(vault);
    expect(opened.scopes).toEqual(['labs', 'summary']);
    expect(opened.receipts).toEqual([]); // contacts write no `access` receipt: the serving node notes it
    const records = await friend.node.sharedRecords(vault);
    expect((await read(records, 'summary')).resources.map((r) => r.id)).toEqual(['a1']);
    expect((await read(records, 'labs')).resources.map((r) => r.id)).toEqual(['l1']);
    expect(await read(records, 'mental-health')).toEqual({ resources: [], unreadable: 0 });
    await expect(friend.node.docs.sync(patient.libp2p.getMultiaddrs(), { vault, doc: 'mental-health', target: new DocumentHandle() })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });

    // All of it is in the patient's access trail: both requests, the denial, the opening, the servings.
    const trail = patient.node.trail();
    const kinds = trail.filter((t) => t.kind.startsWith('emergency')).map((t) => [t.kind, t.entry]);
    expect(kinds).toEqual([
      ['emergency.request', first.request],
      ['emergency.deny', denial],
      ['emergency.request', second.request],
      ['emergency.open', second.request],
      ['emergency.served', null],
      ['emergency.served', null],
    ]);
    expect(trail.filter((t) => t.kind === 'emergency.served').flatMap((t) => t.scopes).sort()).toEqual(['labs', 'summary']);
    expect(trail.every((t) => t.kind === 'delegate' || t.by === friend.identity.did || t.by === patient.identity.did)).toBe(true);

    // Ending the delegation ends the access.
    await patient.node.undelegate(friend.identity.did);
    expect((await friend.node.pull(vault)).scopes).toEqual([]);
    expect(friend.node.emergencies(vault).find((e) => e.request === second.request)?.state).toBe('ended');
  });

  it('refuses bad emergency calls with typed errors', async () => {
    const [patient, friend] = await Promise.all([startDevice(), startDevice()]);
    devices.push(patient, friend);
    const vault = await patient.node.createVault(null);
    await expect(patient.node.delegate(friend.identity.did, { role: 'emergency', scopes: [], waitMs: WAIT })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(patient.node.delegate(friend.identity.did, { role: 'emergency', scopes: ['summary'], waitMs: -1 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(patient.node.delegate(friend.identity.did, { role: 'emergency', scopes: ['no-such-scope' as never], waitMs: 1 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(patient.node.denyEmergency('AAAA' as never)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(friend.node.requestEmergency(vault)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // Followed before being named: refused; the patient's node gives a stranger no log.
    await expect(friend.node.followVault(vault, patient.identity.did, patient.address())).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    expect(friend.node.vaults()).toEqual([]);
  });
});
