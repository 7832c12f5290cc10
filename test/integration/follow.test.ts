/**
 * SharedVaultFollower (src/node/follower.ts) with real engines over real libp2p on loopback: a
 * provider keeps receiving a shared vault when its live sessions break, signs receipts for what
 * arrives live, and stops following when the grant is revoked.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { VaultId } from '../../src/grants/index.js';
import { SharedVaultFollower, type StopReason } from '../../src/node/index.js';
import { eventually } from '../../src/sync/testkit.js';
import { put, read, shareThroughInvitation, startDevice, type Device } from './sync-helpers.js';

const lab = (n: number) => ({ resourceType: 'Observation', id: `lab-${n}`, status: 'final', code: { text: 'synthetic test' }, valueQuantity: { value: n, unit: 'mmol/L' } });

describe('a provider following a shared vault', () => {
  const devices: Device[] = [];
  const followers: SharedVaultFollower[] = [];
  afterEach(async () => {
    for (const f of followers.splice(0)) await f.close();
    for (const d of devices.splice(0)) await d.stop();
  });

  async function setUp(options: { receiptQuietMs?: number } = {}) {
    const patient = await startDevice();
    const provider = await startDevice();
    devices.push(patient, provider);
    const vault = await patient.node.createVault('synthetic patient');
    const records = await patient.node.ownRecords();
    await patient.node.editRecords(['labs'], () => put(records, 'labs', 'Observation/lab-0', lab(0)));
    await shareThroughInvitation(patient, provider, { name: 'Example Clinic', scopes: ['summary', 'labs'], purpose: 'treatment', days: 30 });
    const stops: [VaultId, StopReason][] = [];
    const follower = new SharedVaultFollower(provider.node, { minDelayMs: 50, maxDelayMs: 400, receiptQuietMs: options.receiptQuietMs ?? 100, onStopped: (v, why) => stops.push([v, why]) });
    followers.push(follower);
    const labs = async () => (await read(await provider.node.sharedRecords(vault), 'labs')).resources.length;
    const addLab = (n: number) => patient.node.editRecords(['labs'], () => put(records, 'labs', `Observation/lab-${n}`, lab(n)));
    return { patient, provider, vault, follower, stops, labs, addLab };
  }

  const liveSessionsOf = (d: Device, remote: Device) => d.node.syncStatus().sessions.filter((s) => s.remote === remote.identity.did).length;

  it('receives new records live and signs a receipt for what arrived', async () => {
    const { patient, provider, vault, follower, labs, addLab } = await setUp();
    follower.followAll();
    expect(follower.following()).toEqual([vault]);
    await eventually(() => liveSessionsOf(patient, provider) === 2, 10_000);
    const receiptsBefore = patient.node.accessTrail().length;
    await addLab(1);
    await eventually(async () => (await labs()) === 2, 10_000);
    // The follower's receipt pull reaches the patient's log: one more receipt, for labs.
    await eventually(() => patient.node.accessTrail().length === receiptsBefore + 1, 10_000);
    expect(patient.node.accessTrail().at(-1)).toMatchObject({ by: provider.identity.did, scope: 'labs' });
  });

  it('reconnects after its connection to the patient is cut, and gets what was written meanwhile', async () => {
    const { patient, provider, follower, labs, addLab } = await setUp();
    follower.followAll();
    await eventually(() => liveSessionsOf(patient, provider) === 2, 10_000);
    await provider.libp2p.hangUp(patient.libp2p.peerId);
    await addLab(1);
    await eventually(async () => (await labs()) === 2, 15_000);
    // Following again: a lab after the reconnection arrives too.
    await eventually(() => liveSessionsOf(patient, provider) === 2, 10_000);
    await addLab(2);
    await eventually(async () => (await labs()) === 3, 15_000);
  });

  it('keeps trying while the patient is offline and picks up when it is back', async () => {
    const { patient, follower, labs } = await setUp();
    const listen = patient.address().replace(/\/p2p\/.*$/, '');
    await patient.stop();
    devices.splice(devices.indexOf(patient), 1);
    follower.followAll();
    // Restart the patient's device on the same data and address.
    const again = await startDevice({ identity: patient.identity, storage: patient.storage, listen });
    devices.push(again);
    const records = await again.node.ownRecords();
    await again.node.editRecords(['labs'], () => put(records, 'labs', 'Observation/lab-1', { ...lab(1) }));
    await eventually(async () => (await labs()) === 2, 20_000);
    expect(follower.following()).toHaveLength(1);
  });

  it('stops following when the grant is revoked', async () => {
    const { patient, provider, vault, follower, stops, labs, addLab } = await setUp();
    follower.followAll();
    await eventually(() => liveSessionsOf(patient, provider) === 2, 10_000);
    const [grant] = patient.node.liveGrants();
    await patient.node.revoke(grant!.entry);
    await eventually(() => stops.length === 1, 15_000);
    expect(stops).toEqual([[vault, 'no-access']]);
    expect(follower.following()).toEqual([]);
    const before = await labs();
    await addLab(9);
    await new Promise((r) => setTimeout(r, 500));
    expect(await labs()).toBe(before);
  });

  it('follows at most maxFollowed vaults: following one more stops the one followed longest ago', async () => {
    const provider = await startDevice();
    devices.push(provider);
    const vaults: VaultId[] = [];
    for (let i = 0; i < 3; i++) {
      const patient = await startDevice();
      devices.push(patient);
      vaults.push(await patient.node.createVault(`synthetic patient ${i}`));
      await shareThroughInvitation(patient, provider, { name: 'Example Clinic', scopes: ['labs'], purpose: 'treatment', days: 30 });
    }
    const follower = new SharedVaultFollower(provider.node, { minDelayMs: 50, maxDelayMs: 400, maxFollowed: 2 });
    followers.push(follower);
    follower.followAll();
    expect(follower.following()).toEqual(vaults.slice(1));
    follower.follow(vaults[0]!);
    expect(follower.following()).toEqual([vaults[2], vaults[0]]);
    expect(() => new SharedVaultFollower(provider.node, { maxFollowed: 0 })).toThrow(/maxFollowed/);
  });
});
