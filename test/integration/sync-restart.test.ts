import { afterEach, describe, expect, it } from 'vitest';
import { entryIdOf } from '../../src/grants/index.js';
import type { PendingRequest } from '../../src/sync/index.js';
import { startDevice, type Device, put, read } from './sync-helpers.js';

const lab = (n: number) => ({ resourceType: 'Observation', id: `lab-${n}`, status: 'final', code: { text: 'synthetic' }, valueString: `${n} ${'x'.repeat(1500)}` });

describe('restarts: state persists and sync resumes with nothing lost or duplicated', () => {
  const devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.stop().catch(() => undefined);
  });

  it('resumes after the provider is killed in the middle of a live sync, and after the patient restarts', async () => {
    let patient = await startDevice();
    devices.push(patient);
    const vault = await patient.node.createVault(null);
    const records = await patient.node.ownRecords();
    await patient.node.editRecords(['labs'], async () => {
      for (let i = 0; i < 50; i++) await put(records, 'labs', `Observation/lab-${i}`, lab(i));
    });
    patient.node.addEventListener('request', (e) => void patient.node.approve((e as CustomEvent<PendingRequest>).detail.id));
    let provider = await startDevice();
    devices.push(provider);
    await provider.node.redeem(await patient.node.invite(patient.address()), { name: 'Clinic', scopes: ['labs'], purpose: 'treatment', days: 30 });
    await provider.node.pull(vault, { live: true });

    // The patient writes while the provider's live session runs; the provider dies mid-stream.
    const writing = patient.node.editRecords(['labs'], async () => {
      for (let i = 50; i < 80; i++) await put(records, 'labs', `Observation/lab-${i}`, lab(i));
    });
    await provider.libp2p.stop();
    await writing;

    // Restart the provider on its own storage and records.
    provider = await startDevice({ identity: provider.identity, storage: provider.storage });
    devices.push(provider);
    expect(provider.node.sharedVaults().map((s) => s.vault)).toEqual([vault]);
    await provider.node.pull(vault);
    let view = await read(await provider.node.sharedRecords(vault), 'labs');
    expect(view.resources).toHaveLength(80);
    expect(new Set(view.resources.map((r) => (r as { id: string }).id)).size).toBe(80);

    // Restart the patient on the same address: grants, receipts and the used invitation persist.
    const address = patient.address();
    const receiptsBefore = patient.node.accessTrail().length;
    await patient.stop();
    patient = await startDevice({ identity: patient.identity, storage: patient.storage, listen: address.split('/p2p/')[0]! });
    devices.push(patient);
    expect(patient.node.vault).toBe(vault);
    expect(patient.node.liveGrants()).toHaveLength(1);
    expect(patient.node.accessTrail()).toHaveLength(receiptsBefore);
    await patient.node.editRecords(['labs'], async () => put(await patient.node.ownRecords(), 'labs', 'Observation/lab-80', lab(80)));
    await provider.node.pull(vault);
    view = await read(await provider.node.sharedRecords(vault), 'labs');
    expect(view.resources).toHaveLength(81);

    // Both copies of the log hold each entry once, and the patient has every receipt.
    for (const device of [patient, provider]) {
      const entries = device.node.log(vault)!.entries();
      expect(new Set(entries.map((e) => entryIdOf(e.header, e.signature))).size).toBe(entries.length);
    }
    expect(patient.node.accessTrail()).toHaveLength(receiptsBefore + 1);
  });
});
