import * as Automerge from '@automerge/automerge';
import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, describe, expect, it } from 'vitest';
import { LogWriter, type VaultId } from '../../src/grants/index.js';
import type { Vault } from '../../src/store/index.js';
import { put, shareThroughInvitation, startDevice, testClock, type Device } from './sync-helpers.js';

/**
 * Memory and state bounds of the engine (tmp/node-needs.md), over real engines, real libp2p on
 * loopback and real sealed stores: what a device keeps per peer must end when the peer's reason
 * to be served does.
 */

const DAY = 86_400_000;
const lab = (n: number) => ({ status: 'final', code: { text: `synthetic lab ${n}` }, valueQuantity: { value: n, unit: 'g/L' } });

async function syncStateKeys(store: Vault): Promise<string[]> {
  const keys: string[] = [];
  for await (const { key } of store.rangeSealed('engine/sync/')) keys.push(key);
  return keys.sort();
}

describe('persisted sync states are bounded, real engines over real libp2p', () => {
  const devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.stop();
  });

  async function sharedPair(clock = testClock()): Promise<{ patient: Device; a: Device; b: Device; vault: VaultId }> {
    const [patient, a, b] = await Promise.all([startDevice({ now: clock.now }), startDevice({ now: clock.now }), startDevice({ now: clock.now })]);
    devices.push(patient, a, b);
    const vault = await patient.node.createVault(null);
    await patient.node.editRecords(['labs', 'summary'], async (r) => {
      await put(r, 'labs', 'Observation/lab-1', lab(1));
      await put(r, 'summary', 'Condition/c-1', { clinicalStatus: { text: 'active' }, code: { text: 'synthetic condition' } });
    });
    await shareThroughInvitation(patient, a, { name: 'Clinic A', scopes: ['labs', 'summary'], purpose: 'treatment', days: 30 });
    await shareThroughInvitation(patient, b, { name: 'Clinic B', scopes: ['labs'], purpose: 'treatment', days: 10 });
    return { patient, a, b, vault };
  }

  it('deletes the revoked grantee’s sync states at once and keeps the others’', async () => {
    const { patient, a, b } = await sharedPair();
    const ofA = (keys: string[]) => keys.filter((k) => k.includes(a.identity.did));
    const ofB = (keys: string[]) => keys.filter((k) => k.includes(b.identity.did));
    const before = await syncStateKeys(patient.vaultStore);
    expect(ofA(before).length).toBe(2);
    expect(ofB(before).length).toBe(1);

    const grantOfA = patient.node.liveGrants().find((g) => g.grantee === a.identity.did)!;
    await patient.node.revoke(grantOfA.entry);

    const after = await syncStateKeys(patient.vaultStore);
    expect(ofA(after)).toEqual([]);
    expect(ofB(after)).toEqual(ofB(before));
  });

  it('deletes states of expired grants and of remotes not seen for 90 days when the engine starts', async () => {
    const clock = testClock();
    const { patient, a, b, vault } = await sharedPair(clock);
    expect(await syncStateKeys(b.vaultStore)).toEqual([expect.stringContaining(`${patient.identity.did}/${vault}/labs`)]);

    // B's grant (10 days) expires; A's (30 days) is live. Both sides restart on their storage.
    clock.advance(11 * DAY);
    const restart = async (d: Device): Promise<Device> => {
      await d.stop();
      devices.splice(devices.indexOf(d), 1);
      const again = await startDevice({ identity: d.identity, storage: d.storage, now: clock.now });
      devices.push(again);
      return again;
    };
    const patient2 = await restart(patient);
    const b2 = await restart(b);
    const keys = await syncStateKeys(patient2.vaultStore);
    expect(keys.filter((k) => k.includes(b.identity.did))).toEqual([]);
    expect(keys.filter((k) => k.includes(a.identity.did)).length).toBe(2);
    // The provider whose grant expired drops its own state of the patient's scope as well.
    expect(await syncStateKeys(b2.vaultStore)).toEqual([]);

    // A is still entitled but never syncs again: 90 days after it was last seen its states go.
    await patient2.node.grant(a.identity.did, { scopes: ['labs', 'summary'], purpose: 'treatment', expires: null });
    clock.advance(91 * DAY);
    const patient3 = await restart(patient2);
    expect((await syncStateKeys(patient3.vaultStore)).filter((k) => k.includes(a.identity.did))).toEqual([]);
    void a;
  });
});

describe('access receipts are bounded per grantee, real engines over real libp2p', () => {
  const devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.stop();
  });

  const receiptsOf = (d: Device, by: string) => d.node.accessTrail().filter((r) => r.by === by);

  it('an honest provider writes no receipt for a pull that read nothing new, stays within the limit, and is never banned', async () => {
    const clock = testClock();
    const [patient, provider] = await Promise.all([startDevice({ now: clock.now }), startDevice({ now: clock.now })]);
    devices.push(patient, provider);
    const vault = await patient.node.createVault(null);
    await patient.node.editRecords(['labs'], (r) => put(r, 'labs', 'Observation/lab-0', lab(0)));
    const first = await shareThroughInvitation(patient, provider, { name: 'Clinic', scopes: ['labs'], purpose: 'treatment', days: 30 });
    expect(first.receipts).toHaveLength(1);

    // Nothing new: no receipt, however often it pulls.
    for (let i = 0; i < 5; i++) expect((await provider.node.pull(vault)).receipts).toEqual([]);
    expect(receiptsOf(patient, provider.identity.did)).toHaveLength(1);

    // Something new on every pull, more often than the limit (12 an hour) allows.
    for (let i = 1; i <= 14; i++) {
      clock.advance(1000);
      await patient.node.editRecords(['labs'], (r) => put(r, 'labs', `Observation/lab-${i}`, lab(i)));
      await provider.node.pull(vault);
    }
    expect(receiptsOf(patient, provider.identity.did)).toHaveLength(12);
    expect(patient.node.syncStatus().misbehaviour).toEqual([]);
    expect(patient.node.syncStatus().bans).toEqual([]);

    // An hour on, the next pull receipts what it read (the skipped reads are covered by its heads).
    clock.advance(3_600_000);
    expect((await provider.node.pull(vault)).receipts).toHaveLength(1);
    expect(receiptsOf(patient, provider.identity.did)).toHaveLength(13);
  });

  it('writes a receipt skipped for the limit once the window allows, without another pull and across a restart', async () => {
    const clock = testClock();
    const [patient, first] = await Promise.all([startDevice({ now: clock.now }), startDevice({ now: clock.now })]);
    devices.push(patient, first);
    let provider = first;
    const vault = await patient.node.createVault(null);
    await patient.node.editRecords(['labs'], (r) => put(r, 'labs', 'Observation/lab-0', lab(0)));
    await shareThroughInvitation(patient, provider, { name: 'Clinic', scopes: ['labs'], purpose: 'treatment', days: 30 });
    for (let i = 1; i <= 12; i++) {
      clock.advance(1000);
      await patient.node.editRecords(['labs'], (r) => put(r, 'labs', `Observation/lab-${i}`, lab(i)));
      await provider.node.pull(vault);
    }
    // Twelve receipts; the last read (lab-12) is not accounted for yet.
    expect(receiptsOf(patient, provider.identity.did)).toHaveLength(12);
    const headsRead = Automerge.getHeads(await (await patient.node.ownRecords()).scopeDoc('labs')).sort();
    expect(receiptsOf(patient, provider.identity.did).at(-1)!.heads).not.toEqual(headsRead);
    // Too early: nothing is written.
    expect(await provider.node.writeDueReceipts()).toEqual([]);

    // The provider restarts; an hour on, the skipped receipt is written and delivered — no pull.
    await provider.stop();
    devices.splice(devices.indexOf(provider), 1);
    provider = await startDevice({ identity: first.identity, storage: first.storage, now: clock.now });
    devices.push(provider);
    clock.advance(3_600_000);
    expect(await provider.node.writeDueReceipts()).toHaveLength(1);
    const trail = receiptsOf(patient, provider.identity.did);
    expect(trail).toHaveLength(13);
    expect([...trail.at(-1)!.heads].sort()).toEqual(headsRead);
    expect(await provider.node.writeDueReceipts()).toEqual([]);
    expect(patient.node.syncStatus().bans).toEqual([]);
  });

  it('refuses receipts of a grantee over the limit (LIMIT_REACHED), keeping none of them, without banning it', async () => {
    const [patient, provider, honest] = await Promise.all([startDevice(), startDevice(), startDevice()]);
    devices.push(patient, provider, honest);
    const vault = await patient.node.createVault(null);
    await patient.node.editRecords(['labs'], (r) => put(r, 'labs', 'Observation/lab-0', lab(0)));
    await shareThroughInvitation(patient, provider, { name: 'Clinic', scopes: ['labs'], purpose: 'treatment', days: 30 });
    await shareThroughInvitation(patient, honest, { name: 'Other clinic', scopes: ['labs'], purpose: 'treatment', days: 30 });
    const grant = patient.node.liveGrants().find((g) => g.grantee === provider.identity.did)!.entry;

    // The provider signs receipts past the engine's own check, straight on its log copy.
    const writer = new LogWriter(provider.node.log(vault)!);
    for (let i = 0; i < 40; i++) await writer.append(provider.identity, 'access', { grant, scope: 'labs', heads: [] }, { ts: Date.now() });
    await expect(provider.node.exchangeLog(multiaddr(patient.address()), vault)).rejects.toMatchObject({ code: 'LIMIT_REACHED', message: expect.stringContaining('RECEIPT_LIMIT') });

    expect(receiptsOf(patient, provider.identity.did).length).toBeLessThanOrEqual(12);
    // Refused, not banned: the excess proves no misbehaviour (a fast clock looks the same).
    expect(patient.node.syncStatus().misbehaviour).toEqual([]);
    expect(patient.node.syncStatus().bans).toEqual([]);
    await expect(provider.node.exchangeLog(multiaddr(patient.address()), vault)).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
    // The honest provider is still served.
    await patient.node.editRecords(['labs'], (r) => put(r, 'labs', 'Observation/lab-1', lab(1)));
    expect((await honest.node.pull(vault)).receipts).toHaveLength(1);
  });
});

describe('one engine writing log entries from concurrent calls, real engines over real libp2p', () => {
  const devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.stop();
  });

  it('never equivocates: a live pull, refresh pulls and approvals at once leave every author one chain', async () => {
    const [patient, provider, other] = await Promise.all([startDevice(), startDevice(), startDevice()]);
    devices.push(patient, provider, other);
    const vault = await patient.node.createVault(null);
    await patient.node.editRecords(['labs', 'summary'], async (r) => {
      await put(r, 'labs', 'Observation/lab-0', lab(0));
      await put(r, 'summary', 'Condition/c-0', { clinicalStatus: { text: 'active' }, code: { text: 'synthetic condition' } });
    });
    await shareThroughInvitation(patient, provider, { name: 'Clinic', scopes: ['labs', 'summary'], purpose: 'treatment', days: 30 });
    await patient.node.editRecords(['labs', 'summary'], async (r) => {
      await put(r, 'labs', 'Observation/lab-1', lab(1));
      await put(r, 'summary', 'Condition/c-1', { clinicalStatus: { text: 'active' }, code: { text: 'synthetic condition 1' } });
    });

    // Provider: a live pull and two refresh pulls write receipts at once. Patient: two grants and
    // an approval at once.
    patient.node.addEventListener('request', (e) => void patient.node.approve((e as CustomEvent<{ id: string }>).detail.id));
    await Promise.all([
      provider.node.pull(vault, { live: true }),
      provider.node.pull(vault),
      provider.node.pull(vault),
      patient.node.grant(other.identity.did, { scopes: ['labs'], purpose: 'treatment', expires: null }),
      patient.node.grant(other.identity.did, { scopes: ['summary'], purpose: 'treatment', expires: null }),
      other.node.redeem(await patient.node.invite(patient.address()), { name: 'Other', scopes: ['labs'], purpose: 'treatment', days: 5 }),
    ]);
    await provider.node.exchangeLog(multiaddr(patient.address()), vault);

    for (const d of [provider, patient]) {
      const log = d.node.log(vault)!;
      const problems = log.problems(Date.now()).map((p) => p.code);
      expect(problems).not.toContain('EQUIVOCATION');
      expect(problems).toEqual([]);
    }
    expect(patient.node.liveGrants().map((g) => g.grantee).sort()).toEqual([provider.identity.did, other.identity.did, other.identity.did, other.identity.did].sort());
    expect(patient.node.accessTrail().filter((r) => r.by === provider.identity.did).length).toBeGreaterThanOrEqual(3);
  });
});
