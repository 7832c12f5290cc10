import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/crypto/index.js';
import type { HandoverEvent } from '../../src/node/index.js';
import { DocumentHandle } from '../../src/sync/index.js';
import { put, read, shareThroughInvitation, startDevice, testClock, type Device } from './sync-helpers.js';

/**
 * Issue 8: the child takes over at 18 (clock injected into every engine, so the verifiers judge
 * delegation expiry and the handover at the test's time), over real engines and real libp2p.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const lab = (name: string) => ({ status: 'final', code: { text: `synthetic ${name}` } });
const immunization = (n: number) => ({ status: 'completed', vaccineCode: { text: `synthetic vaccine ${n}` }, occurrenceDateTime: '2026-01-01' });

describe('handover at majority, real engines over real libp2p', () => {
  const devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.stop();
  });

  it('the child takes over: guardians end, the nurse keeps her grant until the child revokes it, then new data does not reach her', async () => {
    const clock = testClock();
    const birthday18 = clock.now() + 10 * DAY;
    const [mum, dad, nurse, child] = await Promise.all([startDevice({ now: clock.now }), startDevice({ now: clock.now }), startDevice({ now: clock.now }), startDevice({ now: clock.now })]);
    devices.push(mum, dad, nurse, child);
    const clinic = generateIdentity().did;

    const vault = await mum.node.createDependentVault({ label: 'Child B', expires: birthday18 });
    await mum.node.editRecords(['summary'], (r) => put(r, 'summary', 'Immunization/imm-1', immunization(1)), { vault });
    await mum.node.delegate(dad.identity.did, { role: 'guardian', expires: birthday18, vault });
    await dad.node.joinDependent(vault, mum.identity.did, mum.address());
    await shareThroughInvitation(mum, nurse, { name: 'School nurse', scopes: ['summary'], purpose: 'treatment', days: 365 }, { vault });
    const [nurseGrant] = mum.node.liveGrants(vault);
    const seen: HandoverEvent[] = [];
    nurse.node.addEventListener('handover', (e) => seen.push((e as CustomEvent<HandoverEvent>).detail));

    // The evening before the 18th birthday, mum hands the vault over to the child's own device.
    clock.set(birthday18 - 2 * HOUR);
    const handover = await mum.node.handover(child.identity.did, { guardians: 'end', vault });
    await child.node.acceptHandover(vault, mum.identity.did, mum.address());
    expect(child.node.vault).toBe(vault);
    expect(child.node.vaults()).toEqual([expect.objectContaining({ vault, kind: 'own', as: 'owner', subject: child.identity.did })]);
    expect((await read(await child.node.ownRecords(), 'summary')).resources.map((r) => r.id)).toEqual(['imm-1']);
    expect(child.node.authority(vault)).toMatchObject({ subject: child.identity.did, guardians: [], handover: { entry: handover, by: mum.identity.did, guardians: 'end' } });

    // Dad, offline, had not seen the handover: his grant is concurrent with it and never live.
    clock.advance(30 * 60_000);
    const concurrent = await dad.node.grant(clinic, { scopes: ['summary'], purpose: 'treatment', expires: null, vault });
    await dad.node.exchangeLog(multiaddr(child.address()), vault);
    expect(child.node.log(vault)!.statusOf(concurrent)).toBe('superseded');
    expect(child.node.liveGrants().map((g) => g.entry)).toEqual([nurseGrant!.entry]);
    expect(child.node.log(vault)!.entitlement(clinic, 'summary', clock.now()).entitled).toBe(false);

    // From now on the guardians' writes are refused: by their own engine, and by the child's gate.
    await expect(dad.node.grant(clinic, { scopes: ['summary'], purpose: 'treatment', expires: null, vault })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    await expect(mum.node.grant(clinic, { scopes: ['summary'], purpose: 'treatment', expires: null, vault })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    expect(mum.node.vaults()).toEqual([expect.objectContaining({ vault, kind: 'held', as: 'none' })]);
    await expect(mum.node.editRecords(['summary'], (r) => put(r, 'summary', 'Immunization/late', immunization(9)), { vault })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    expect(await mum.node.syncScopes(multiaddr(child.address()), { vault })).toEqual([]);
    // Nor does mum's device serve the vault any longer (it is no source once her authority ended).
    await expect(nurse.node.pull(vault)).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    await expect(mum.node.docs.sync(child.libp2p.getMultiaddrs(), { vault, doc: 'summary', target: new DocumentHandle() })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    expect((await read(await child.node.ownRecords(), 'summary')).resources.map((r) => r.id)).toEqual(['imm-1']);

    // The nurse sees the change of authority when the log reaches her, and her grant stays live
    // past the birthday (the handover adopted it), served now by the child's device.
    await nurse.node.exchangeLog(multiaddr(mum.address()), vault);
    expect(seen).toEqual([expect.objectContaining({ vault, entry: handover, subject: child.identity.did, guardians: 'end', origin: 'peer' })]);
    expect(nurse.node.authority(vault)).toMatchObject({ subject: child.identity.did, owners: [child.identity.did], guardians: [] });
    clock.set(birthday18 + DAY);
    await child.node.editRecords(['summary'], (r) => put(r, 'summary', 'Immunization/imm-2', immunization(2)));
    const live = await nurse.node.pull(vault, { address: child.address(), live: true });
    expect(live.scopes).toEqual(['summary']);
    expect(nurse.node.sharedVaults()).toEqual([{ vault, patient: child.identity.did, address: child.address() }]);
    expect((await read(await nurse.node.sharedRecords(vault), 'summary')).resources.map((r) => r.id).sort()).toEqual(['imm-1', 'imm-2']);
    expect(child.node.accessTrail().some((r) => r.by === nurse.identity.did && r.at >= birthday18)).toBe(true);

    // The new owner revokes: the nurse's stream is closed, and what is written after never reaches her.
    const revoked = await child.node.revoke(nurseGrant!.entry);
    expect(revoked.streamsEnded).toBe(1);
    for (const session of live.sessions) expect((await session.closed()).code).toBe('AUTHORIZATION_ENDED');
    await child.node.editRecords(['summary'], (r) => put(r, 'summary', 'Immunization/imm-3', immunization(3)));
    const after = await nurse.node.pull(vault);
    expect(after.scopes).toEqual([]);
    expect(nurse.node.log(vault)!.verdict(clock.now()).grants).toEqual([]);
    await expect(nurse.node.docs.sync(child.libp2p.getMultiaddrs(), { vault, doc: 'summary', target: new DocumentHandle() })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    expect((await read(await nurse.node.sharedRecords(vault), 'summary')).resources.map((r) => r.id).sort()).toEqual(['imm-1', 'imm-2']);
    expect(child.node.trail().map((t) => t.kind)).toEqual(expect.arrayContaining(['handover', 'revoke', 'access']));
  });

  it('the dependent\u2019s second device keeps reading after the dependent revokes a guardian\u2019s grant (the new epoch comes in a device.add)', async () => {
    const [mum, nurse, child, childLaptop] = await Promise.all([startDevice(), startDevice(), startDevice(), startDevice()]);
    devices.push(mum, nurse, child, childLaptop);
    const vault = await mum.node.createDependentVault({ label: null });
    await mum.node.editRecords(['summary'], (r) => put(r, 'summary', 'Immunization/imm-1', immunization(1)), { vault });
    await shareThroughInvitation(mum, nurse, { name: 'School nurse', scopes: ['summary'], purpose: 'treatment', days: 30 }, { vault });
    await mum.node.handover(child.identity.did, { guardians: 'end', vault });
    await child.node.acceptHandover(vault, mum.identity.did, mum.address());
    await child.node.addDevice(childLaptop.identity.did, 'laptop');
    await childLaptop.node.join(vault, child.identity.did, child.address());
    const [grant] = child.node.liveGrants();
    const result = await child.node.revoke(grant!.entry);
    expect(result.rekeyed.map((id) => child.node.log(vault)!.entry(id)?.header.type)).toEqual(['device.add']);
    await child.node.editRecords(['summary'], (r) => put(r, 'summary', 'Immunization/imm-2', immunization(2)));
    await childLaptop.node.exchangeLog(multiaddr(child.address()), vault);
    await childLaptop.node.syncScopes(multiaddr(child.address()));
    expect(await read(await childLaptop.node.ownRecords(), 'summary')).toMatchObject({ resources: expect.any(Array), unreadable: 0 });
    expect((await read(await childLaptop.node.ownRecords(), 'summary')).resources.map((r) => r.id).sort()).toEqual(['imm-1', 'imm-2']);
  });

  it('keeps guardians as readers when the child says so: they read, never write', async () => {
    const clock = testClock();
    const [mum, child] = await Promise.all([startDevice({ now: clock.now }), startDevice({ now: clock.now })]);
    devices.push(mum, child);
    const vault = await mum.node.createDependentVault({ label: null });
    await mum.node.editRecords(['labs'], (r) => put(r, 'labs', 'Observation/l1', lab('l1')), { vault });
    await mum.node.handover(child.identity.did, { guardians: 'read', vault });
    await child.node.acceptHandover(vault, mum.identity.did, mum.address());
    await child.node.editRecords(['labs'], (r) => put(r, 'labs', 'Observation/l2', lab('l2')));
    expect(mum.node.vaults()).toEqual([expect.objectContaining({ vault, as: 'reader' })]);
    // Mum reads what the child wrote; she may not write, and the child's gate takes no change from her.
    await expect(mum.node.editRecords(['labs'], (r) => put(r, 'labs', 'Observation/from-mum', lab('from-mum')), { vault })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    const sessions = await mum.node.syncScopes(multiaddr(child.address()), { vault });
    expect(sessions.map((s) => s.doc)).toContain('labs');
    expect((await read(await mum.node.vaultRecords(vault), 'labs')).resources.map((r) => r.id).sort()).toEqual(['l1', 'l2']);
    const records = await mum.node.vaultRecords(vault);
    await put(records, 'labs', 'Observation/from-mum', lab('from-mum')); // behind the engine's back
    const doc = await records.scopeDoc('labs');
    // The child's gate says read-only: the session ends without the child taking mum's change.
    const pushed = await mum.node.docs.sync(child.libp2p.getMultiaddrs(), { vault, doc: 'labs', target: new DocumentHandle(doc) });
    await pushed.closed();
    expect((await read(await child.node.ownRecords(), 'labs')).resources.map((r) => r.id).sort()).toEqual(['l1', 'l2']);
    await expect(mum.node.grant(child.identity.did, { scopes: ['labs'], purpose: 'family', expires: null, vault })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
  });
});
