import { afterEach, describe, expect, it } from 'vitest';
import type { ScopeName, VaultId } from '../../src/grants/index.js';
import { COPIED_DATA_NOTICE } from '../../src/node/index.js';
import { DocumentHandle, type PendingRequest } from '../../src/sync/index.js';
import { startDevice, type Device, put, read } from './sync-helpers.js';

const lab = (n: number) => ({ resourceType: 'Observation', id: `lab-${n}`, status: 'final', code: { text: 'synthetic test' }, valueQuantity: { value: n, unit: 'mmol/L' } });

describe('share and revoke between a patient and a provider, real engines over real libp2p', () => {
  const devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.stop();
  });

  async function setUp() {
    const patient = await startDevice();
    const provider = await startDevice();
    devices.push(patient, provider);
    const vault = await patient.node.createVault('synthetic patient');
    const records = await patient.node.ownRecords();
    await patient.node.editRecords(['summary', 'labs', 'mental-health'], async () => {
      await put(records, 'summary', 'Patient/p', { resourceType: 'Patient', id: 'p' });
      await put(records, 'summary', 'AllergyIntolerance/a', { resourceType: 'AllergyIntolerance', id: 'a' });
      for (let i = 0; i < 5; i++) await put(records, 'labs', `Observation/lab-${i}`, lab(i));
      await put(records, 'mental-health', 'Condition/c', { resourceType: 'Condition', id: 'c' });
    });
    return { patient, provider, vault, records };
  }

  async function share(patient: Device, provider: Device) {
    patient.node.addEventListener('request', (e) => {
      const request = (e as CustomEvent<PendingRequest>).detail;
      void patient.node.approve(request.id);
    });
    const invitation = await patient.node.invite(patient.address());
    return provider.node.redeem(invitation, { name: 'Example Clinic', scopes: ['summary', 'labs'], purpose: 'treatment', days: 30 });
  }

  async function providerView(provider: Device, vault: VaultId, scope: ScopeName) {
    return read(await provider.node.sharedRecords(vault), scope);
  }

  it('invites, approves, shares summary and labs only, delivers a later lab, and keeps receipts', async () => {
    const { patient, provider, vault, records } = await setUp();
    const first = await share(patient, provider);
    expect(first.scopes).toEqual(['labs', 'summary']);
    expect((await providerView(provider, vault, 'labs')).resources).toHaveLength(5);
    expect((await providerView(provider, vault, 'summary')).resources).toHaveLength(2);
    await expect(provider.node.sharedRecords(vault).then((r) => read(r, 'mental-health'))).resolves.toEqual({ resources: [], unreadable: 0 });
    // The provider's copy of the log verifies and names only its own grant.
    const copy = provider.node.log(vault)!;
    expect(copy.problems(Date.now())).toEqual([]);
    expect(copy.verdict(Date.now()).grants.map((g) => g.grantee)).toEqual([provider.identity.did]);

    await patient.node.editRecords(['labs'], () => put(records, 'labs', 'Observation/lab-5', lab(5)));
    const second = await provider.node.pull(vault);
    expect(second.scopes).toEqual(['labs', 'summary']);
    expect((await providerView(provider, vault, 'labs')).resources).toHaveLength(6);

    const trail = patient.node.accessTrail();
    // A receipt per scope per pull that read something new: summary did not change for the second.
    expect(trail.length).toBe(3);
    expect(second.receipts).toHaveLength(1);
    expect(new Set(trail.map((r) => r.by))).toEqual(new Set([provider.identity.did]));
    expect(trail.map((r) => r.scope).sort()).toEqual(['labs', 'labs', 'summary']);
  });

  it('revokes: the provider is cut off, keys rotate, and a lab written after it cannot be opened by the provider', async () => {
    const { patient, provider, vault, records } = await setUp();
    await share(patient, provider);
    const live = await provider.node.pull(vault, { live: true });
    expect(patient.node.syncStatus().sessions.filter((s) => s.remote === provider.identity.did)).toHaveLength(2);
    const [grant] = patient.node.liveGrants();
    const result = await patient.node.revoke(grant!.entry);
    // The provider's live streams are cut at once.
    expect(result.streamsEnded).toBe(2);
    for (const session of live.sessions) expect((await session.closed()).code).toBe('AUTHORIZATION_ENDED');
    expect(result.notice).toBe(COPIED_DATA_NOTICE);
    expect(result.rotated.map((r) => r.scope).sort()).toEqual(['labs', 'summary']);
    expect(result.rotated.every((r) => r.epoch === 1)).toBe(true);
    expect(patient.node.liveGrants()).toEqual([]);

    await patient.node.editRecords(['labs'], () => put(records, 'labs', 'Observation/lab-after', lab(99)));
    const after = await provider.node.pull(vault);
    expect(after.scopes).toEqual([]);
    expect(provider.node.log(vault)!.verdict(Date.now()).grants).toEqual([]);
    // Asking anyway is refused by the patient's node.
    await expect(provider.node.docs.sync(patient.libp2p.getMultiaddrs(), { vault, doc: 'labs', target: new DocumentHandle() })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    // Even holding the newest document (say, copied from a relay), the provider cannot open the new lab.
    const leaked = await records.scopeDoc('labs');
    const providerRecords = await provider.node.sharedRecords(vault);
    await providerRecords.applyScopeDoc('labs', leaked);
    const view = await read(providerRecords, 'labs');
    expect(view.resources).toHaveLength(5);
    expect(view.unreadable).toBe(1);
  });

  it('refuses a used invitation and one for a request the patient denies', async () => {
    const { patient, provider } = await setUp();
    const second = await startDevice();
    devices.push(second);
    patient.node.addEventListener('request', (e) => patient.node.deny((e as CustomEvent<PendingRequest>).detail.id));
    const invitation = await patient.node.invite(patient.address());
    await expect(provider.node.redeem(invitation, { name: 'Example Clinic', scopes: ['labs'], purpose: 'treatment', days: 1 })).rejects.toMatchObject({ code: 'DENIED' });
    await expect(second.node.redeem(invitation, { name: 'Other', scopes: ['labs'], purpose: 'treatment', days: 1 })).rejects.toMatchObject({ code: 'TOKEN_USED' });
    expect(patient.node.liveGrants()).toEqual([]);
  });
});
