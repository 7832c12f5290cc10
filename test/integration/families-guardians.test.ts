import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, describe, expect, it } from 'vitest';
import { SCOPE_NAMES } from '../../src/grants/index.js';
import type { DelegationEvent } from '../../src/node/index.js';
import { put, read, shareThroughInvitation, startDevice, type Device } from './sync-helpers.js';

/**
 * Issue 8 over real engines and real libp2p on loopback: two parents run a child's vault, each with
 * their own device key, and share the child's immunizations with a school nurse's provider node.
 */

const DAY = 86_400_000;
const immunization = (n: number) => ({ status: 'completed', vaccineCode: { text: `synthetic vaccine ${n}` }, occurrenceDateTime: '2026-01-01' });

describe('guardians run a dependent\u2019s vault, real engines over real libp2p', () => {
  const devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.stop();
  });

  it('two parents each act with their own key; the nurse verifies both grants through the delegation chain and receives the data', async () => {
    const [mum, dad, nurse] = await Promise.all([startDevice(), startDevice(), startDevice()]);
    devices.push(mum, dad, nurse);
    const birthday18 = Date.now() + 400 * DAY;

    // Mum creates the child's vault on her device (beside her own) and enters an immunization.
    const vault = await mum.node.createDependentVault({ label: 'Child A', expires: birthday18 });
    expect(mum.node.vault).toBeUndefined();
    await mum.node.editRecords(['summary'], (r) => put(r, 'summary', 'Immunization/imm-1', immunization(1)), { vault });
    const events: DelegationEvent[] = [];
    mum.node.addEventListener('delegation', (e) => events.push((e as CustomEvent<DelegationEvent>).detail));

    // Mum names dad guardian; dad's device takes the vault with the keys sealed to his own key.
    const dadDelegation = await mum.node.delegate(dad.identity.did, { role: 'guardian', expires: birthday18, vault });
    expect(events).toEqual([expect.objectContaining({ vault, kind: 'delegate', entry: dadDelegation, delegate: dad.identity.did, origin: 'local' })]);
    await dad.node.joinDependent(vault, mum.identity.did, mum.address());
    expect(dad.node.vaults()).toEqual([expect.objectContaining({ vault, kind: 'held', label: 'Child A', as: 'guardian' })]);
    expect((await read(await dad.node.vaultRecords(vault), 'summary')).resources.map((r) => r.id)).toEqual(['imm-1']);
    expect(dad.node.delegations(vault).map((d) => [d.delegate, d.role]).sort()).toEqual(
      [
        [mum.identity.did, 'guardian'],
        [dad.identity.did, 'guardian'],
      ].sort(),
    );

    // Mum shares the child's immunizations (summary) with the school nurse through an invitation.
    const first = await shareThroughInvitation(mum, nurse, { name: 'School nurse', scopes: ['summary'], purpose: 'treatment', days: 365 }, { vault });
    expect(first.scopes).toEqual(['summary']);
    expect((await read(await nurse.node.sharedRecords(vault), 'summary')).resources.map((r) => r.id)).toEqual(['imm-1']);

    // Dad acts on his own: a new immunization, a lab, and a grant of labs signed with his own key.
    await dad.node.editRecords(
      ['summary', 'labs'],
      async (r) => {
        await put(r, 'summary', 'Immunization/imm-2', immunization(2));
        await put(r, 'labs', 'Observation/lab-1', { status: 'final', code: { text: 'synthetic' }, valueQuantity: { value: 1, unit: 'g/L' } });
      },
      { vault },
    );
    const dadGrant = await dad.node.grant(nurse.identity.did, { scopes: ['labs'], purpose: 'treatment', expires: null, vault });
    await dad.node.syncScopes(multiaddr(mum.address()), { vault });
    await dad.node.exchangeLog(multiaddr(mum.address()), vault);

    const second = await nurse.node.pull(vault);
    expect(second.scopes).toEqual(['labs', 'summary']);
    const nurseRecords = await nurse.node.sharedRecords(vault);
    expect((await read(nurseRecords, 'summary')).resources.map((r) => r.id).sort()).toEqual(['imm-1', 'imm-2']);
    expect((await read(nurseRecords, 'labs')).resources.map((r) => r.id)).toEqual(['lab-1']);

    // The nurse's copy verifies: both grants were made by guardians, through their delegations,
    // whose bodies the nurse holds (dad's `delegate` entry, mum's genesis), and nothing else.
    const copy = nurse.node.log(vault)!;
    const verdict = copy.verdict(Date.now());
    expect(verdict.valid).toBe(true);
    expect(verdict.grants.map((g) => [g.author, g.as]).sort()).toEqual(
      [
        [mum.identity.did, 'guardian'],
        [dad.identity.did, 'guardian'],
      ].sort(),
    );
    expect(verdict.grants.find((g) => g.entry === dadGrant)?.scopes).toEqual(['labs']);
    expect(copy.entry(dadDelegation)).toMatchObject({ status: 'valid', body: expect.objectContaining({ delegate: dad.identity.did, role: 'guardian' }) });
    expect(nurse.node.authority(vault)).toMatchObject({ guardians: [mum.identity.did, dad.identity.did].sort(), handover: null });

    // Both guardians see the nurse's receipts in the child's access trail.
    await dad.node.exchangeLog(multiaddr(mum.address()), vault);
    for (const guardian of [mum, dad]) {
      const receipts = guardian.node.accessTrail(vault).filter((r) => r.by === nurse.identity.did);
      expect(receipts.map((r) => r.scope).sort()).toEqual(['labs', 'summary', 'summary']);
      expect(guardian.node.trail(vault).filter((t) => t.kind === 'grant').map((t) => t.by).sort()).toEqual([mum.identity.did, dad.identity.did].sort());
    }
  });

  it('a revocation by one guardian rotates the keys: the other guardian gets the new epoch through a fresh delegation, the nurse does not', async () => {
    const [mum, dad, nurse] = await Promise.all([startDevice(), startDevice(), startDevice()]);
    devices.push(mum, dad, nurse);
    const vault = await mum.node.createDependentVault({ label: 'Child D' });
    await mum.node.editRecords(['summary'], (r) => put(r, 'summary', 'Immunization/imm-1', immunization(1)), { vault });
    await mum.node.delegate(dad.identity.did, { role: 'guardian', vault });
    await dad.node.joinDependent(vault, mum.identity.did, mum.address());
    await shareThroughInvitation(mum, nurse, { name: 'School nurse', scopes: ['summary'], purpose: 'treatment', days: 30 }, { vault });
    const [grant] = mum.node.liveGrants(vault);
    const result = await mum.node.revoke(grant!.entry);
    expect(result.rotated).toEqual([{ scope: 'summary', epoch: 1 }]);
    // No grant remains to rekey; dad's fresh delegation carries the new epoch.
    expect(result.rekeyed).toHaveLength(1);
    expect(mum.node.log(vault)!.entry(result.rekeyed[0]!)?.header.type).toBe('delegate');
    await mum.node.editRecords(['summary'], (r) => put(r, 'summary', 'Immunization/imm-after', immunization(2)), { vault });
    await dad.node.exchangeLog(multiaddr(mum.address()), vault);
    await dad.node.syncScopes(multiaddr(mum.address()), { vault });
    expect(await read(await dad.node.vaultRecords(vault), 'summary')).toEqual({ resources: expect.any(Array), unreadable: 0 });
    expect((await read(await dad.node.vaultRecords(vault), 'summary')).resources.map((r) => r.id).sort()).toEqual(['imm-1', 'imm-after']);
    // Dad's writes from now on use the new epoch too, which the nurse never held.
    await dad.node.editRecords(['summary'], (r) => put(r, 'summary', 'Immunization/imm-dad', immunization(3)), { vault });
    const leaked = await (await dad.node.vaultRecords(vault)).scopeDoc('summary');
    const nurseRecords = await nurse.node.sharedRecords(vault);
    await nurseRecords.applyScopeDoc('summary', leaked);
    expect(await read(nurseRecords, 'summary')).toMatchObject({ resources: [expect.objectContaining({ id: 'imm-1' })], unreadable: 2 });
    expect(mum.node.delegations(vault).filter((d) => d.delegate === dad.identity.did)).toHaveLength(2);
    expect(await mum.node.undelegate(dad.identity.did, { vault })).toHaveLength(2);
    expect(mum.node.delegations(vault).map((d) => d.delegate)).toEqual([mum.identity.did]);
  });

  it('a guardian\u2019s device restarted on its own storage still holds the dependent\u2019s vault, its keys and its emergency trail', async () => {
    let mum = await startDevice();
    const [nurse, friend] = await Promise.all([startDevice(), startDevice()]);
    devices.push(nurse, friend);
    const vault = await mum.node.createDependentVault({ label: 'Child E' });
    await mum.node.editRecords(['summary'], (r) => put(r, 'summary', 'Immunization/imm-1', immunization(1)), { vault });
    await mum.node.delegate(friend.identity.did, { role: 'emergency', scopes: ['summary'], waitMs: 0, vault });
    await friend.node.followVault(vault, mum.identity.did, mum.address());
    await friend.node.requestEmergency(vault);
    expect((await friend.node.pull(vault)).scopes).toEqual(['summary']);
    await mum.stop();

    mum = await startDevice({ identity: mum.identity, storage: mum.storage });
    devices.push(mum);
    expect(mum.node.vault).toBeUndefined();
    expect(mum.node.vaults()).toEqual([expect.objectContaining({ vault, kind: 'held', label: 'Child E', as: 'guardian' })]);
    expect((await read(await mum.node.vaultRecords(vault), 'summary')).resources.map((r) => r.id)).toEqual(['imm-1']);
    expect(mum.node.trail(vault).map((t) => t.kind)).toEqual(expect.arrayContaining(['emergency.request', 'emergency.open', 'emergency.served']));
    await shareThroughInvitation(mum, nurse, { name: 'School nurse', scopes: ['summary'], purpose: 'treatment', days: 30 }, { vault });
    expect((await read(await nurse.node.sharedRecords(vault), 'summary')).resources.map((r) => r.id)).toEqual(['imm-1']);
  });

  it('after many key rotations a guardian\u2019s keys go in several delegations (64 sealed keys per body), and the guardian opens them all', async () => {
    const [mum, dad] = await Promise.all([startDevice(), startDevice()]);
    devices.push(mum, dad);
    const vault = await mum.node.createDependentVault({ label: null });
    const records = await mum.node.vaultRecords(vault);
    for (const scope of SCOPE_NAMES) for (let i = 0; i < 7; i++) await records.rotateScopeKey(scope);
    await mum.node.editRecords(['summary'], (r) => put(r, 'summary', 'Immunization/imm-8', immunization(8)), { vault });
    const first = await mum.node.delegate(dad.identity.did, { role: 'guardian', vault });
    // 8 scopes × (8 epochs + the index key) = 72 sealed keys: two delegations of the same terms.
    const mine = mum.node.delegations(vault).filter((d) => d.delegate === dad.identity.did);
    expect(mine).toHaveLength(2);
    expect(mine.map((d) => d.entry)).toContain(first);
    await dad.node.joinDependent(vault, mum.identity.did, mum.address());
    expect(await read(await dad.node.vaultRecords(vault), 'summary')).toMatchObject({ resources: [expect.objectContaining({ id: 'imm-8' })], unreadable: 0 });
  });

  it('a provider with an append grant in the child\u2019s vault pushes a result to the guardian, who accepts it into the child\u2019s records', async () => {
    const [mum, nurse] = await Promise.all([startDevice(), startDevice()]);
    devices.push(mum, nurse);
    const vault = await mum.node.createDependentVault({ label: 'Child F' });
    await shareThroughInvitation(mum, nurse, { name: 'School nurse', scopes: ['summary'], purpose: 'treatment', days: 30 }, { vault });
    await expect(nurse.node.pushResult(vault, { resourceType: 'Immunization', id: 'school-1', ...immunization(5) })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    await mum.node.grant(nurse.identity.did, { scopes: ['summary'], purpose: 'treatment', expires: null, append: true, vault });
    const id = await nurse.node.pushResult(vault, { resourceType: 'Immunization', id: 'school-1', ...immunization(5) });
    const waiting = await mum.node.inbox(vault);
    expect(waiting).toEqual([expect.objectContaining({ id, from: nurse.identity.did })]);
    await mum.node.acceptResult(nurse.identity.did, id, 'summary', { vault });
    expect(await mum.node.inbox(vault)).toEqual([]);
    expect((await read(await mum.node.vaultRecords(vault), 'summary')).resources.map((r) => r.id)).toEqual(['school-1']);
    await expect(mum.node.inbox()).rejects.toMatchObject({ code: 'NOT_FOUND' }); // mum has no vault of her own
  });

  it('refuses to act in a vault the device does not hold, and a second guardian that was never delegated', async () => {
    const [mum, stranger] = await Promise.all([startDevice(), startDevice()]);
    devices.push(mum, stranger);
    const vault = await mum.node.createDependentVault({ label: null });
    await expect(stranger.node.grant(mum.identity.did, { scopes: ['summary'], purpose: 'family', expires: null, vault })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(stranger.node.joinDependent(vault, mum.identity.did, mum.address())).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    await expect(mum.node.delegate(mum.identity.did, { role: 'guardian', vault })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(mum.node.delegate('did:key:not-a-key' as never, { role: 'guardian', vault })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(mum.node.handover('did:key:zNotAKey' as never, { guardians: 'end', vault })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(mum.node.handover(stranger.identity.did, { guardians: 'maybe' as never, vault })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(mum.node.protect(['not-a-scope' as never], { vault })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(stranger.node.joinDependent(vault, mum.identity.did, 'not a multiaddr')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(stranger.node.acceptHandover(vault, mum.identity.did, '/garbage/')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(mum.node.createDependentVault({ label: 'x'.repeat(300) })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(mum.node.delegations(vault).map((d) => d.delegate)).toEqual([mum.identity.did]);
    expect(mum.node.log(vault)!.size).toBe(1);
  });
});
