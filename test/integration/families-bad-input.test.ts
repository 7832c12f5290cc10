import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EntryId, ProblemCode, VaultId } from '../../src/grants/index.js';
import { forge } from '../../src/grants/testkit.js';
import { put, shareThroughInvitation, startDevice, testClock, type Device } from './sync-helpers.js';

/**
 * Issue 8's bad input over the wire: entries a party signs without the authority it could check
 * itself — a delegation by a non-owner, a handover by a guardian whose delegation ended, an
 * emergency request from a non-contact, a back-dated denial — reach a real engine over real
 * libp2p. The receiving node refuses the exchange with the entry's code, bans the sender, gives
 * the entry no effect, and keeps serving honest peers.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('hostile family entries over real libp2p', () => {
  const devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.stop();
  });

  /** `attacker` pushes its copy of the log (holding `forged`) to `victim`; the victim must refuse it with `code`. */
  async function refused(attacker: Device, victim: Device, vault: VaultId, forged: EntryId, code: ProblemCode): Promise<void> {
    // The sender sees the refusal, or its stream cut by the hang-up that follows it.
    await expect(attacker.node.exchangeLog(multiaddr(victim.address()), vault)).rejects.toMatchObject({ code: expect.stringMatching(/^(INVALID_ENTRY|STREAM_CLOSED)$/) });
    await vi.waitFor(() => expect(victim.node.syncStatus().bans).toHaveLength(1));
    const status = victim.node.syncStatus();
    expect(status.misbehaviour).toEqual([expect.objectContaining({ remote: attacker.identity.did, vault, code: 'INVALID_ENTRY', entryId: forged, detail: expect.stringMatching(new RegExp(`^${code}: `)) })]);
    expect(status.bans.map((b) => b.peer)).toContain(attacker.libp2p.peerId.toString());
    // The entry is kept as proof, flagged, without effect.
    expect(victim.node.log(vault)!.statusOf(forged)).toBe('unauthorized');
  }

  it('refuses a delegation signed by a party that is not an owner or guardian (UNAUTHORIZED)', async () => {
    const [mum, nurse, dad] = await Promise.all([startDevice(), startDevice(), startDevice()]);
    devices.push(mum, nurse, dad);
    const vault = await mum.node.createDependentVault({ label: null });
    await mum.node.editRecords(['summary'], (r) => put(r, 'summary', 'Immunization/i1', { status: 'completed', vaccineCode: { text: 'synthetic' } }), { vault });
    await shareThroughInvitation(mum, nurse, { name: 'School nurse', scopes: ['summary'], purpose: 'treatment', days: 30 }, { vault });
    // The nurse (a grantee) signs a delegation making herself guardian.
    const forged = await forge(nurse.node.log(vault)!, nurse.identity, 'delegate', { delegate: nurse.identity.did, role: 'guardian', expires: null, scopes: [], wait: null, keys: [] }, { ts: Date.now() });
    await refused(nurse, mum, vault, forged.id, 'UNAUTHORIZED');
    expect(mum.node.delegations(vault).map((d) => d.delegate)).toEqual([mum.identity.did]);
    expect(mum.node.log(vault)!.entitlement(nurse.identity.did, 'mental-health', Date.now()).entitled).toBe(false);
    // Mum's node stays up for honest peers.
    await mum.node.delegate(dad.identity.did, { role: 'guardian', vault });
    await dad.node.joinDependent(vault, mum.identity.did, mum.address());
    expect(dad.node.vaults()).toEqual([expect.objectContaining({ vault, as: 'guardian' })]);
  });

  it('refuses a handover signed by a guardian whose delegation ended (UNAUTHORIZED)', async () => {
    const clock = testClock();
    const [mum, dad, stranger] = await Promise.all([startDevice({ now: clock.now }), startDevice({ now: clock.now }), startDevice({ now: clock.now })]);
    devices.push(mum, dad, stranger);
    const vault = await mum.node.createDependentVault({ label: null });
    await mum.node.delegate(dad.identity.did, { role: 'guardian', expires: clock.now() + DAY, vault });
    await dad.node.joinDependent(vault, mum.identity.did, mum.address());
    clock.advance(2 * DAY);
    await expect(dad.node.handover(stranger.identity.did, { guardians: 'end', vault })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    const forged = await forge(dad.node.log(vault)!, dad.identity, 'handover', { subject: stranger.identity.did, devices: [stranger.identity.did], guardians: 'end' }, { ts: clock.now() });
    await refused(dad, mum, vault, forged.id, 'UNAUTHORIZED');
    expect(mum.node.authority(vault)).toMatchObject({ handover: null, guardians: [mum.identity.did] });
    expect(mum.node.log(vault)!.entitlement(stranger.identity.did, 'summary', clock.now()).entitled).toBe(false);
    await expect(stranger.node.acceptHandover(vault, mum.identity.did, mum.address())).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
  });

  it('refuses an emergency request from a party that is not an emergency contact (UNAUTHORIZED)', async () => {
    const [patient, friend, clinic] = await Promise.all([startDevice(), startDevice(), startDevice()]);
    devices.push(patient, friend, clinic);
    const vault = await patient.node.createVault(null);
    const delegation = await patient.node.delegate(friend.identity.did, { role: 'emergency', scopes: ['summary'], waitMs: 0 });
    await shareThroughInvitation(patient, clinic, { name: 'Clinic', scopes: ['labs'], purpose: 'treatment', days: 30 });
    await clinic.node.pull(vault);
    // The clinic names the friend's delegation (it sees its header) in a request of its own.
    const forged = await forge(clinic.node.log(vault)!, clinic.identity, 'emergency.request', { delegation, reason: null }, { ts: Date.now() });
    await refused(clinic, patient, vault, forged.id, 'UNAUTHORIZED');
    expect(patient.node.emergencies()).toEqual([]);
    expect(patient.node.log(vault)!.entitlement(clinic.identity.did, 'summary', Date.now()).entitled).toBe(false);
    // The real contact is still served (its wait is zero).
    await friend.node.followVault(vault, patient.identity.did, patient.address());
    await friend.node.requestEmergency(vault);
    expect((await friend.node.pull(vault)).scopes).toEqual(['summary']);
  });

  it('refuses a back-dated denial (BACKDATED_DENIAL): the request still opens when its wait ends', async () => {
    const clock = testClock();
    const [laptop, phone, friend] = await Promise.all([startDevice({ now: clock.now }), startDevice({ now: clock.now }), startDevice({ now: clock.now })]);
    devices.push(laptop, phone, friend);
    const vault = await laptop.node.createVault(null);
    await laptop.node.addDevice(phone.identity.did, 'phone');
    await phone.node.join(vault, laptop.identity.did, laptop.address());
    await laptop.node.delegate(friend.identity.did, { role: 'emergency', scopes: ['labs'], waitMs: 48 * HOUR });
    await phone.node.exchangeLog(multiaddr(laptop.address()), vault);
    await friend.node.followVault(vault, laptop.identity.did, laptop.address());
    const { request, opensAt } = await friend.node.requestEmergency(vault, null);
    // The phone never saw the request, yet signs a denial of it dated inside the wait.
    clock.advance(HOUR);
    const forged = await forge(phone.node.log(vault)!, phone.identity, 'emergency.deny', { request, reason: null }, { ts: clock.now() });
    await refused(phone, laptop, vault, forged.id, 'BACKDATED_DENIAL');
    clock.set(opensAt);
    expect(laptop.node.emergencies()).toEqual([expect.objectContaining({ request, state: 'open', deniedBy: null })]);
    expect((await friend.node.pull(vault)).scopes).toEqual(['labs']);
    // A denial the laptop signs in time, having seen the request, is honoured (by a fresh request).
    const second = await friend.node.requestEmergency(vault, null);
    await laptop.node.denyEmergency(second.request);
    expect(laptop.node.emergencies().find((e) => e.request === second.request)?.state).toBe('denied');
  });
});
