import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, describe, expect, it } from 'vitest';
import type { RecordStore } from '../../src/records/index.js';
import { put, read, startDevice, type Device } from './sync-helpers.js';

const lab = (value: number) => ({ status: 'final', code: { text: 'synthetic' }, valueQuantity: { value, unit: 'mmol/L' } });

describe('two devices of one patient editing concurrently, real engines over real libp2p', () => {
  const devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.stop();
  });

  it('joins a second device, merges concurrent edits both ways, and keeps a same-record conflict for the patient', async () => {
    const laptop = await startDevice();
    const phone = await startDevice();
    devices.push(laptop, phone);
    const vault = await laptop.node.createVault(null);
    await laptop.node.editRecords(['labs'], async (r) => put(r, 'labs', 'Observation/shared', lab(1)));
    await laptop.node.addDevice(phone.identity.did, 'phone');
    await phone.node.join(vault, laptop.identity.did, laptop.address());
    expect(phone.node.vault).toBe(vault);
    expect((await read(await phone.node.ownRecords(), 'labs')).resources).toHaveLength(1);

    // Offline from each other: each adds its own lab and both change the same one.
    await laptop.node.editRecords(['labs'], async (r) => {
      await put(r, 'labs', 'Observation/from-laptop', lab(2));
      await put(r, 'labs', 'Observation/shared', lab(10));
    });
    await phone.node.editRecords(['labs'], async (r) => {
      await put(r, 'labs', 'Observation/from-phone', lab(3));
      await put(r, 'labs', 'Observation/shared', lab(20));
    });
    await phone.node.syncScopes(multiaddr(laptop.address()));

    for (const device of [laptop, phone]) {
      const records = (await device.node.ownRecords()) as RecordStore;
      const ids = (await read(records, 'labs')).resources.map((r) => r.id).sort();
      expect(ids).toEqual(['from-laptop', 'from-phone', 'shared']);
      const conflicts = records.list({ conflicts: true });
      expect(conflicts.map((c) => c.id)).toEqual(['shared']);
      const versions = await records.conflictVersions(conflicts[0]!.key);
      expect(versions.map((v) => (v.resource as { valueQuantity: { value: number } }).valueQuantity.value).sort()).toEqual([10, 20]);
    }
    // Both devices hold the same log: genesis, device.add.
    expect(phone.node.log(vault)!.size).toBe(laptop.node.log(vault)!.size);
  });
});
