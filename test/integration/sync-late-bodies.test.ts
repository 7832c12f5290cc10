import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/crypto/index.js';
import { put, shareThroughInvitation, startDevice, type Device } from './sync-helpers.js';

/**
 * Late bodies (src/sync/PROTOCOLS.md, log step 2): a party that becomes entitled to bodies of
 * entries it already holds as headers — here a provider the patient later names a guardian, who
 * may then read every body — gets them on its next exchange, over real engines and real libp2p.
 */

const lab = { status: 'final', code: { text: 'synthetic lab' }, valueQuantity: { value: 1, unit: 'g/L' } };

describe('bodies a party becomes entitled to after it took the headers', () => {
  const devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.stop().catch(() => undefined);
  });

  it('reach a provider made a guardian on its next pull, kept once and still there after a restart', async () => {
    const [patient, provider] = await Promise.all([startDevice(), startDevice()]);
    devices.push(patient, provider);
    const vault = await patient.node.createVault(null);
    await patient.node.editRecords(['labs'], (r) => put(r, 'labs', 'Observation/lab-1', lab));
    await shareThroughInvitation(patient, provider, { name: 'Clinic', scopes: ['labs'], purpose: 'treatment', days: 30 });
    // Another party's grant: the provider holds its header, never its body.
    const other = await patient.node.grant(generateIdentity().did, { scopes: ['summary'], purpose: 'treatment', expires: null });
    await provider.node.pull(vault);
    expect(provider.node.log(vault)!.entry(other)?.body).toBeUndefined();
    await provider.node.pull(vault);
    expect(provider.node.log(vault)!.entry(other)?.body).toBeUndefined();

    // Named a guardian: entitled to every body now, the earlier grant's among them.
    await patient.node.delegate(provider.identity.did, { role: 'guardian' });
    await provider.node.pull(vault);
    const copy = provider.node.log(vault)!;
    expect(copy.entry(other)?.body).toMatchObject({ scopes: ['summary'] });
    expect(copy.entries().filter((e) => e.body === undefined)).toEqual([]);
    expect(copy.problems(Date.now())).toEqual([]);
    expect(patient.node.syncStatus().misbehaviour).toEqual([]);

    // Persisted: after a restart the provider's copy still holds it (and each entry once).
    await provider.stop();
    devices.splice(devices.indexOf(provider), 1);
    const again = await startDevice({ identity: provider.identity, storage: provider.storage });
    devices.push(again);
    const reloaded = (await again.node.loadVault(vault))!;
    expect(reloaded.entry(other)?.body).toMatchObject({ scopes: ['summary'] });
    expect(reloaded.size).toBe(copy.size);
  });
});
