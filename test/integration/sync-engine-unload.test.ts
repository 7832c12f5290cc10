import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, describe, expect, it } from 'vitest';
import type { VaultId } from '../../src/grants/index.js';
import { put, read, shareThroughInvitation, startDevice, type Device } from './sync-helpers.js';

/**
 * The engine's memory bound on vaults shared with it (tmp/node-needs.md items 4 and 6): a
 * provider holding more shared vaults than it may keep loaded still serves and receives for all
 * of them, unloading idle ones (least recently used first) and those whose grant ended, and
 * loading them again from its sealed store on demand. Real engines, real libp2p on loopback.
 */

const lab = (n: number) => ({ status: 'final', code: { text: `synthetic lab ${n}` }, valueQuantity: { value: n, unit: 'g/L' } });
const BOUND = 2;
const PATIENTS = 4;

describe('a provider with more shared vaults than it keeps loaded', () => {
  const devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.stop().catch(() => undefined);
  });

  async function setUp(options: { unloadEnded?: boolean } = {}): Promise<{ provider: Device; patients: Device[]; vaults: VaultId[] }> {
    const provider = await startDevice({ maxLoadedShared: BOUND, ...options });
    devices.push(provider);
    const patients: Device[] = [];
    const vaults: VaultId[] = [];
    for (let i = 0; i < PATIENTS; i++) {
      const patient = await startDevice();
      devices.push(patient);
      const vault = await patient.node.createVault(null);
      await patient.node.editRecords(['labs'], (r) => put(r, 'labs', `Observation/lab-${i}-0`, lab(i)));
      await shareThroughInvitation(patient, provider, { name: 'Clinic', scopes: ['labs'], purpose: 'treatment', days: 30 });
      expect(provider.node.loadedSharedVaults().length).toBeLessThanOrEqual(BOUND);
      patients.push(patient);
      vaults.push(vault);
    }
    return { provider, patients, vaults };
  }

  it('pulls, receives and reads for every vault while at most the bound stay loaded', async () => {
    const { provider, patients, vaults } = await setUp();
    expect(provider.node.sharedVaults()).toHaveLength(PATIENTS);
    // The first vaults were unloaded (least recently used), the last ones stay.
    expect(provider.node.loadedSharedVaults()).toEqual(vaults.slice(-BOUND));
    expect(provider.node.log(vaults[0]!)).toBeUndefined();
    // The vault switcher still lists every vault, the unloaded ones as of their unload.
    expect(Object.fromEntries(provider.node.vaults().map((v) => [v.vault, `${v.kind} ${v.as}`]))).toEqual(Object.fromEntries(vaults.map((v) => [v, 'shared grant'])));

    // Each patient adds a lab; the provider pulls every vault in turn (each loads, the least
    // recently used idle one leaves) and reads both labs of each.
    for (let i = 0; i < PATIENTS; i++) await patients[i]!.node.editRecords(['labs'], (r) => put(r, 'labs', `Observation/lab-${i}-1`, lab(10 + i)));
    for (let i = 0; i < PATIENTS; i++) {
      const pulled = await provider.node.pull(vaults[i]!);
      expect(pulled.scopes).toEqual(['labs']);
      expect(pulled.receipts).toHaveLength(1);
      expect(provider.node.loadedSharedVaults().length).toBeLessThanOrEqual(BOUND);
      const view = await read(await provider.node.sharedRecords(vaults[i]!), 'labs');
      expect(view.resources.map((r) => r.id).sort()).toEqual([`lab-${i}-0`, `lab-${i}-1`]);
      expect(view.unreadable).toBe(0);
    }
    // Every receipt reached its patient (through the log exchange of an unloaded-then-loaded copy).
    for (const patient of patients) expect(patient.node.accessTrail().filter((r) => r.by === provider.identity.did)).toHaveLength(2);

    // A patient pushes its log to the provider while the provider holds that vault unloaded: the
    // provider's side of the exchange loads it, verifies and keeps the new entry.
    expect(provider.node.loadedSharedVaults()).not.toContain(vaults[0]);
    const extra = await patients[0]!.node.grant(provider.identity.did, { scopes: ['summary'], purpose: 'treatment', expires: null });
    await patients[0]!.node.exchangeLog(multiaddr(provider.address()), vaults[0]);
    await provider.node.unloadIdle();
    expect(provider.node.loadedSharedVaults().length).toBeLessThanOrEqual(BOUND);
    expect((await provider.node.loadVault(vaults[0]!))?.entry(extra)?.body).toBeDefined();
    expect(provider.node.syncStatus().misbehaviour).toEqual([]);
    for (const patient of patients) expect(patient.node.syncStatus().misbehaviour).toEqual([]);
  });

  it('shares one load between concurrent callers of one vault', async () => {
    const { provider, vaults } = await setUp();
    const cold = vaults[0]!;
    expect(provider.node.log(cold)).toBeUndefined();
    const [a, b, c] = await Promise.all([provider.node.loadVault(cold), provider.node.loadVault(cold), provider.node.sharedRecords(cold).then(() => provider.node.loadVault(cold))]);
    expect(a).toBeDefined();
    expect(b).toBe(a);
    expect(c).toBe(a);
  });

  it('keeps a vault whose grant was revoked readable at once, and unloads it before any live one when room is needed', async () => {
    const { provider, patients, vaults } = await setUp();
    const last = PATIENTS - 1;
    const grant = patients[last]!.node.liveGrants().find((g) => g.grantee === provider.identity.did)!;
    await patients[last]!.node.revoke(grant.entry);
    expect((await provider.node.pull(vaults[last]!)).scopes).toEqual([]);
    // Still loaded: the synchronous readers see the revocation.
    expect(provider.node.log(vaults[last]!)?.verdict(Date.now()).grants.filter((g) => g.grantee === provider.identity.did)).toEqual([]);
    expect(provider.node.loadedSharedVaults()).toEqual([vaults[last - 1], vaults[last]]);
    // Loading another vault needs room: the ended one leaves although it was used last.
    await provider.node.pull(vaults[0]!);
    expect(provider.node.loadedSharedVaults()).toEqual([vaults[last - 1], vaults[0]]);
  });

  it('unloads a vault once its grant is revoked (unloadEnded), keeps what was shared before readable, and unloads ended ones first after a restart', async () => {
    const { provider, patients, vaults } = await setUp({ unloadEnded: true });
    const [first, last] = [0, PATIENTS - 1];
    const unloaded: string[] = [];
    provider.node.addEventListener('unloaded', (e) => unloaded.push((e as CustomEvent<{ vault: string }>).detail.vault));

    // The most recently used vault is loaded; its patient revokes and the provider pulls.
    expect(provider.node.loadedSharedVaults()).toContain(vaults[last]);
    const grant = patients[last]!.node.liveGrants().find((g) => g.grantee === provider.identity.did)!;
    await patients[last]!.node.revoke(grant.entry);
    const pulled = await provider.node.pull(vaults[last]!);
    expect(pulled.scopes).toEqual([]);
    expect(provider.node.loadedSharedVaults()).not.toContain(vaults[last]);
    expect(unloaded).toContain(vaults[last]);
    expect(provider.node.vaults().find((v) => v.vault === vaults[last])?.as).toBe('none');
    // The revocation is in the kept copy; what was shared before it is still readable here.
    const log = await provider.node.loadVault(vaults[last]!);
    expect(log?.verdict(Date.now()).grants.filter((g) => g.grantee === provider.identity.did)).toEqual([]);
    expect((await read(await provider.node.sharedRecords(vaults[last]!), 'labs')).resources.map((r) => r.id)).toEqual([`lab-${last}-0`]);

    // Restart on the same storage (without unloadEnded): the vault whose grant ended leaves memory
    // before any live one; the live vaults pull and read as before, within the bound.
    await provider.stop();
    devices.splice(devices.indexOf(provider), 1);
    const again = await startDevice({ identity: provider.identity, storage: provider.storage, maxLoadedShared: BOUND });
    devices.push(again);
    expect(again.node.loadedSharedVaults().length).toBeLessThanOrEqual(BOUND);
    expect(again.node.loadedSharedVaults()).not.toContain(vaults[last]);
    expect(again.node.sharedVaults()).toHaveLength(PATIENTS);
    // (Listed in store order, not in the order they were shared.)
    expect(Object.fromEntries(again.node.vaults().map((v) => [v.vault, v.as]))).toEqual(Object.fromEntries(vaults.map((v, i) => [v, i === last ? 'none' : 'grant'])));
    await patients[first]!.node.editRecords(['labs'], (r) => put(r, 'labs', `Observation/lab-${first}-1`, lab(99)));
    for (let i = 0; i < last; i++) {
      await again.node.pull(vaults[i]!);
      expect(again.node.loadedSharedVaults().length).toBeLessThanOrEqual(BOUND);
      const ids = (await read(await again.node.sharedRecords(vaults[i]!), 'labs')).resources.map((r) => r.id).sort();
      expect(ids).toEqual(i === first ? [`lab-${i}-0`, `lab-${i}-1`] : [`lab-${i}-0`]);
    }
    expect(patients[first]!.node.accessTrail().filter((r) => r.by === provider.identity.did)).toHaveLength(2);
  });
});
