import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/crypto/index.js';
import { VaultNode, prefixedStore, type EngineStore } from '../../src/node/index.js';
import { RecordStore } from '../../src/records/index.js';
import { MemoryStorage, Vault, WEAK_TEST_KDF_COST } from '../../src/store/index.js';
import { createNodeLibp2p, PeerBans, type PendingRequest } from '../../src/sync/index.js';
import { startDevice, type Device } from './sync-helpers.js';

/**
 * Invitations into several vaults of one device (its own and a dependent's it holds), redeemed at
 * the same time. The engine's store is real (src/store Vault); a gate in front of it holds the
 * writes that mark tokens used until two are in flight, so the redemptions interleave exactly
 * where they would race on a busy device.
 */

/** Holds `putSealed` of used-token marks (once armed) until `width` are waiting, or 500 ms passed. */
function gatedStore(inner: EngineStore, width = 2): { store: EngineStore; arm(): void } {
  let armed = false;
  let waiting: (() => void)[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const release = (): void => {
    clearTimeout(timer);
    const go = waiting;
    waiting = [];
    for (const resolve of go) resolve();
  };
  const store: EngineStore = {
    getSealed: (key) => inner.getSealed(key),
    rangeSealed: (prefix) => inner.rangeSealed(prefix),
    batchSealed: (ops) => inner.batchSealed(ops),
    async putSealed(key, value) {
      if (armed && key.startsWith('engine/invite/')) {
        await new Promise<void>((resolve) => {
          waiting.push(resolve);
          if (waiting.length >= width) release();
          else timer = setTimeout(release, 500);
        });
      }
      await inner.putSealed(key, value);
    },
  };
  return {
    store,
    arm: () => {
      armed = true;
    },
  };
}

async function startGatedDevice(): Promise<Device & { arm(): void }> {
  const identity = generateIdentity();
  const storage = new MemoryStorage();
  const vaultStore = await Vault.create(storage, 'test passphrase, not a secret', { kdfCost: WEAK_TEST_KDF_COST, allowWeakKdf: true });
  const bans = new PeerBans();
  const libp2p = await createNodeLibp2p({ identity, bans, listen: ['/ip4/127.0.0.1/tcp/0'] });
  const gate = gatedStore(vaultStore);
  const node = await VaultNode.start({
    identity,
    libp2p,
    bans,
    store: gate.store,
    openRecords: async (vault, role, seed) => RecordStore.open(prefixedStore(vaultStore, `records/${role}/${vault}/`), { vaultId: vault, ...(seed ? { scopeKeys: seed } : {}) }),
  });
  return {
    identity,
    storage,
    libp2p,
    vaultStore,
    node,
    arm: () => gate.arm(),
    address: () => libp2p.getMultiaddrs()[0]!.toString(),
    async stop() {
      await node.stop();
      await libp2p.stop();
    },
  };
}

describe('invitations redeemed at the same time, real engines over real libp2p', () => {
  const devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.stop();
  });

  it('approves two concurrent redemptions by one peer each into the vault its own invitation names', async () => {
    const guardian = await startGatedDevice();
    const provider = await startDevice();
    devices.push(guardian, provider);
    const own = await guardian.node.createVault('Own');
    const child = await guardian.node.createDependentVault({ label: 'Child B' });
    const asked: PendingRequest[] = [];
    guardian.node.addEventListener('request', (e) => {
      const pending = (e as CustomEvent<PendingRequest>).detail;
      asked.push(pending);
      void guardian.node.approve(pending.id);
    });
    const ownInvitation = await guardian.node.invite(guardian.address());
    const childInvitation = await guardian.node.invite(guardian.address(), { vault: child });
    guardian.arm();

    const [fromOwn, fromChild] = await Promise.all([
      provider.node.redeem(ownInvitation, { name: 'Clinic', scopes: ['labs'], purpose: 'treatment', days: 30 }),
      provider.node.redeem(childInvitation, { name: 'Clinic', scopes: ['summary'], purpose: 'treatment', days: 30 }),
    ]);

    expect(asked).toHaveLength(2);
    expect(fromOwn.vault).toBe(own);
    expect(fromChild.vault).toBe(child);
    // Each grant is in the vault its invitation named, with the scopes asked through it.
    expect(guardian.node.liveGrants(own).map((g) => [g.grantee, g.scopes])).toEqual([[provider.identity.did, ['labs']]]);
    expect(guardian.node.liveGrants(child).map((g) => [g.grantee, g.scopes])).toEqual([[provider.identity.did, ['summary']]]);
    expect(fromOwn.scopes).toEqual(['labs']);
    expect(fromChild.scopes).toEqual(['summary']);
  });

  it('lets only one of two concurrent redemptions of the same token through', async () => {
    const patient = await startGatedDevice();
    const [first, second] = await Promise.all([startDevice(), startDevice()]);
    devices.push(patient, first, second);
    await patient.node.createVault(null);
    patient.node.addEventListener('request', (e) => void patient.node.approve((e as CustomEvent<PendingRequest>).detail.id));
    const invitation = await patient.node.invite(patient.address());
    patient.arm();

    const outcomes = await Promise.allSettled([
      first.node.redeem(invitation, { name: 'Clinic one', scopes: ['labs'], purpose: 'treatment', days: 30 }),
      second.node.redeem(invitation, { name: 'Clinic two', scopes: ['labs'], purpose: 'treatment', days: 30 }),
    ]);

    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const refused = outcomes.flatMap((o): unknown[] => (o.status === 'rejected' ? [o.reason] : []));
    expect(refused).toEqual([expect.objectContaining({ code: 'TOKEN_USED' })]);
    expect(patient.node.liveGrants()).toHaveLength(1);
  });
});
