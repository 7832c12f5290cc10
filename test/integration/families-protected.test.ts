import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/crypto/index.js';
import type { DelegateBody } from '../../src/grants/index.js';
import type { ProtectedEvent } from '../../src/node/index.js';
import { DocumentHandle } from '../../src/sync/index.js';
import { put, read, shareThroughInvitation, startDevice, type Device } from './sync-helpers.js';

/**
 * Issue 8: a dependent-only scope is never served to a guardian or to a guardian's grantee — the
 * sync gates of every node refuse it, the engine seals no key of it to guardians, and once the
 * dependent takes over it gets a key epoch no guardian's device ever held. Real engines, real libp2p.
 */

const condition = (name: string) => ({ clinicalStatus: { text: 'active' }, code: { text: `synthetic ${name}` } });

describe('dependent-only scopes, real engines over real libp2p', () => {
  const devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.stop();
  });

  it('is refused to guardians and their grantees by every gate, and its keys stay with the dependent', async () => {
    const [mum, dad, clinic, child] = await Promise.all([startDevice(), startDevice(), startDevice(), startDevice()]);
    devices.push(mum, dad, clinic, child);
    const vault = await mum.node.createDependentVault({ label: 'Teen C' });
    await mum.node.editRecords(
      ['summary', 'reproductive'],
      async (r) => {
        await put(r, 'summary', 'Condition/s1', condition('s1'));
        await put(r, 'reproductive', 'Condition/r1', condition('r1'));
      },
      { vault },
    );
    await mum.node.delegate(dad.identity.did, { role: 'guardian', vault });
    await dad.node.joinDependent(vault, mum.identity.did, mum.address());
    // Before the protection, dad shares both scopes with a clinic, and keeps live sessions with mum.
    const shared = await shareThroughInvitation(dad, clinic, { name: 'Clinic', scopes: ['reproductive', 'summary'], purpose: 'treatment', days: 30 }, { vault });
    expect(shared.scopes).toEqual(['reproductive', 'summary']);
    const live = await dad.node.syncScopes(multiaddr(mum.address()), { vault, live: true });
    const dadReproductive = live.find((s) => s.doc === 'reproductive')!;
    const events: ProtectedEvent[] = [];
    dad.node.addEventListener('protected', (e) => events.push((e as CustomEvent<ProtectedEvent>).detail));

    // Mum marks reproductive dependent-only: dad's running stream of it ends at once.
    const protection = await mum.node.protect(['reproductive'], { vault });
    expect((await dadReproductive.closed()).code).toBe('AUTHORIZATION_ENDED');
    expect(live.filter((s) => s.doc !== 'reproductive').every((s) => mum.node.syncStatus().sessions.some((m) => m.remote === dad.identity.did && m.doc === s.doc))).toBe(true);
    await dad.node.exchangeLog(multiaddr(mum.address()), vault);
    expect(events).toEqual([expect.objectContaining({ vault, entry: protection, scopes: ['reproductive'], origin: 'peer' })]);
    expect(dad.node.authority(vault).protectedScopes).toEqual(['reproductive']);

    // Neither guardian may read, write or share it now; every node's gate refuses it to them.
    for (const [guardian, other] of [
      [dad, mum],
      [mum, dad],
    ] as const) {
      await expect(guardian.node.docs.sync(other.libp2p.getMultiaddrs(), { vault, doc: 'reproductive', target: new DocumentHandle() })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
      await expect(guardian.node.editRecords(['reproductive'], (r) => put(r, 'reproductive', 'Condition/x', condition('x')), { vault })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
      await expect(guardian.node.grant(clinic.identity.did, { scopes: ['reproductive'], purpose: 'treatment', expires: null, vault })).rejects.toMatchObject({ code: 'SCOPE_PROTECTED' });
      await expect(guardian.node.delegate(generateIdentity().did, { role: 'emergency', scopes: ['reproductive'], waitMs: 1000, vault })).rejects.toMatchObject({ code: 'SCOPE_PROTECTED' });
    }
    expect((await dad.node.syncScopes(multiaddr(mum.address()), { vault })).map((s) => s.doc)).not.toContain('reproductive');

    // The guardian's grantee keeps only the other scope, from either guardian's node.
    const pulled = await clinic.node.pull(vault);
    expect(pulled.scopes).toEqual(['summary']);
    for (const server of [dad, mum]) {
      await expect(clinic.node.docs.sync(server.libp2p.getMultiaddrs(), { vault, doc: 'reproductive', target: new DocumentHandle() })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    }

    // A guardian named after the protection gets no key of the dependent-only scope.
    const grandma = generateIdentity().did;
    const grandmaDelegation = await mum.node.delegate(grandma, { role: 'guardian', vault });
    const keys = (mum.node.log(vault)!.entry(grandmaDelegation)!.body as DelegateBody).keys;
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.some((k) => k.scope === 'reproductive')).toBe(false);

    // The teen takes over, guardians stay readers: the dependent-only scope gets a new key epoch,
    // what the teen writes there is never served to mum, and even a leaked copy stays closed to her.
    await mum.node.handover(child.identity.did, { guardians: 'read', vault });
    await child.node.acceptHandover(vault, mum.identity.did, mum.address());
    const childRecords = await child.node.ownRecords();
    expect(childRecords.exportScopeKeys('reproductive').epochs.map((e) => e.epoch)).toEqual([0, 1]);
    await child.node.editRecords(['reproductive'], (r) => put(r, 'reproductive', 'Condition/r2', condition('r2')));
    expect((await read(childRecords, 'reproductive')).resources.map((r) => r.id).sort()).toEqual(['r1', 'r2']);
    const mumSessions = await mum.node.syncScopes(multiaddr(child.address()), { vault });
    expect(mumSessions.map((s) => s.doc)).toContain('summary');
    expect(mumSessions.map((s) => s.doc)).not.toContain('reproductive');
    await expect(mum.node.docs.sync(child.libp2p.getMultiaddrs(), { vault, doc: 'reproductive', target: new DocumentHandle() })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    const mumRecords = await mum.node.vaultRecords(vault);
    await mumRecords.applyScopeDoc('reproductive', await childRecords.scopeDoc('reproductive'));
    expect(await read(mumRecords, 'reproductive')).toMatchObject({ resources: [expect.objectContaining({ id: 'r1' })], unreadable: 1 });
  });
});
