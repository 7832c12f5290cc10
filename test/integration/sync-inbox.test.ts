import { afterEach, describe, expect, it } from 'vitest';
import type { RecordStore } from '../../src/records/index.js';
import type { PendingRequest } from '../../src/sync/index.js';
import { read, startDevice, type Device } from './sync-helpers.js';

const result = (value: number) => ({
  resourceType: 'Observation',
  id: `pushed-${value}`,
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose' }] },
  effectiveDateTime: '2025-07-01T08:00:00Z',
  valueQuantity: { value, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
});

describe('a provider pushes results to the patient’s inbox, real engines over real libp2p', () => {
  const devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.stop();
  });

  it('lands pushed results in a per-provider inbox; the patient accepts one into labs and rejects another', async () => {
    const patient = await startDevice();
    const provider = await startDevice();
    const other = await startDevice();
    devices.push(patient, provider, other);
    const vault = await patient.node.createVault(null);
    patient.node.addEventListener('request', (e) => void patient.node.approve((e as CustomEvent<PendingRequest>).detail.id));
    await provider.node.redeem(await patient.node.invite(patient.address()), { name: 'Clinic', scopes: ['labs'], purpose: 'treatment', days: 30 });
    await other.node.redeem(await patient.node.invite(patient.address()), { name: 'Pharmacy', scopes: ['labs'], purpose: 'treatment', days: 30 });

    // A read-only grant may not push.
    await expect(provider.node.pushResult(vault, result(90))).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    expect(await patient.node.inbox()).toEqual([]);

    // With 'append' it may, into its own inbox only; nothing reaches a scope before the patient accepts.
    await patient.node.grant(provider.identity.did, { scopes: ['labs'], purpose: 'treatment', expires: Date.now() + 86_400_000, append: true });
    await provider.node.pull(vault);
    const kept = await provider.node.pushResult(vault, result(95));
    const dropped = await provider.node.pushResult(vault, result(500));
    const waiting = await patient.node.inbox();
    expect(waiting.map((i) => [i.from, i.id, i.resource.id]).sort()).toEqual(
      [
        [provider.identity.did, kept, 'pushed-95'],
        [provider.identity.did, dropped, 'pushed-500'],
      ].sort(),
    );
    const labs = async () => (await read((await patient.node.ownRecords()) as RecordStore, 'labs')).resources.map((r) => r.valueQuantity);
    expect(await labs()).toEqual([]);

    await patient.node.acceptResult(provider.identity.did, kept, 'labs');
    await patient.node.rejectResult(provider.identity.did, dropped);
    expect(await patient.node.inbox()).toEqual([]);
    expect(await labs()).toEqual([expect.objectContaining({ value: 95 })]);
    // The other provider, read-only, is still refused.
    await expect(other.node.pushResult(vault, result(1))).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
  });
  it('approving an invitation request with append writes one grant that lets the provider push results', async () => {
    const patient = await startDevice();
    const provider = await startDevice();
    devices.push(patient, provider);
    const vault = await patient.node.createVault(null);
    patient.node.addEventListener('request', (e) => void patient.node.approve((e as CustomEvent<PendingRequest>).detail.id, { append: true }));
    await provider.node.redeem(await patient.node.invite(patient.address()), { name: 'Clinic', scopes: ['labs'], purpose: 'treatment', days: 30 });

    const grants = patient.node.liveGrants();
    expect(grants.map((g) => [g.grantee, [...g.actions].sort()])).toEqual([[provider.identity.did, ['append', 'read']]]);
    const id = await provider.node.pushResult(vault, result(101));
    expect((await patient.node.inbox()).map((i) => [i.from, i.id])).toEqual([[provider.identity.did, id]]);
  });
});
