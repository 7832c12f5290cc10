import { afterEach, describe, expect, it } from 'vitest';
import type { ScopeName } from '../../src/grants/index.js';
import type { PendingRequest } from '../../src/sync/index.js';
import { startDevice, type Device, put, read } from './sync-helpers.js';

describe('three providers with different scopes, real engines over real libp2p', () => {
  const devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.stop();
  });

  it('gives each provider only its own scopes, and shows none of them the others’ grants', async () => {
    const patient = await startDevice();
    devices.push(patient);
    const vault = await patient.node.createVault(null);
    const records = await patient.node.ownRecords();
    const scopes: ScopeName[] = ['summary', 'labs', 'notes', 'imaging'];
    await patient.node.editRecords(scopes, async () => {
      for (const scope of scopes) for (let i = 0; i < 3; i++) await put(records, scope, `Basic/${scope}-${i}`, { code: { text: `${scope} ${i}` } });
    });
    patient.node.addEventListener('request', (e) => void patient.node.approve((e as CustomEvent<PendingRequest>).detail.id));

    const asks: { name: string; scopes: ScopeName[] }[] = [
      { name: 'Clinic', scopes: ['summary', 'labs'] },
      { name: 'Pharmacy', scopes: ['summary'] },
      { name: 'Imaging centre', scopes: ['imaging', 'notes'] },
    ];
    const providers: Device[] = [];
    for (const ask of asks) {
      const provider = await startDevice();
      devices.push(provider);
      providers.push(provider);
      const pulled = await provider.node.redeem(await patient.node.invite(patient.address()), { name: ask.name, scopes: ask.scopes, purpose: 'treatment', days: 7 });
      expect(pulled.scopes).toEqual([...ask.scopes].sort());
    }
    // A second pull brings each provider the headers of what happened since (the other grants).
    for (const provider of providers) await provider.node.pull(vault);
    for (const [i, provider] of providers.entries()) {
      const mine = await provider.node.sharedRecords(vault);
      for (const scope of scopes) {
        const view = await read(mine, scope);
        const expected = asks[i]!.scopes.includes(scope) ? 3 : 0;
        expect({ provider: i, scope, count: view.resources.length }).toEqual({ provider: i, scope, count: expected });
      }
      // Its copy verifies, holds every grant's header, but only its own grant's body.
      const copy = provider.node.log(vault)!;
      expect(copy.problems(Date.now())).toEqual([]);
      expect(copy.verdict(Date.now()).grants.map((g) => g.grantee)).toEqual([provider.identity.did]);
      expect(copy.verdict(Date.now()).withheld).toBeGreaterThanOrEqual(2);
    }
    expect(patient.node.liveGrants()).toHaveLength(3);
    expect(new Set(patient.node.accessTrail().map((r) => r.by)).size).toBe(3);
  });
});
