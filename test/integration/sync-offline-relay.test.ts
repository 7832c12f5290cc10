import * as Automerge from '@automerge/automerge';
import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../src/store/index.js';
import { startRelay, type PendingRequest, type Relay } from '../../src/sync/index.js';
import { startDevice, type Device, put, read } from './sync-helpers.js';

const MARKER = 'synthetic-marker-7f3a9c';
const lab = (n: number) => ({ resourceType: 'Observation', id: `lab-${n}`, status: 'final', code: { text: MARKER }, valueQuantity: { value: n } });

describe('offline delivery through the relay, real engines and a real relay over loopback', () => {
  const devices: Device[] = [];
  let relay: Relay | undefined;
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.stop().catch(() => undefined);
    await relay?.stop();
  });

  it('carries a new lab to an offline provider and its receipt back to an offline patient, the relay holding no plaintext', async () => {
    const relayStorage = new MemoryStorage();
    relay = await startRelay({ storage: relayStorage, host: '127.0.0.1' });
    const relayAddr = multiaddr(relay.multiaddrs().find((a) => !a.includes('/ws')));

    let patient = await startDevice();
    devices.push(patient);
    const vault = await patient.node.createVault(null);
    const records = await patient.node.ownRecords();
    await patient.node.editRecords(['labs'], async () => {
      for (let i = 0; i < 3; i++) await put(records, 'labs', `Observation/lab-${i}`, lab(i));
    });
    patient.node.addEventListener('request', (e) => void patient.node.approve((e as CustomEvent<PendingRequest>).detail.id));
    let provider = await startDevice();
    devices.push(provider);
    await provider.node.redeem(await patient.node.invite(patient.address()), { name: 'Clinic', scopes: ['labs'], purpose: 'treatment', days: 30 });
    const receiptsAtFirst = patient.node.accessTrail().length;

    // The provider goes offline; the patient adds a lab and leaves it at the relay, then goes offline too.
    await provider.stop();
    await patient.node.editRecords(['labs'], () => put(records, 'labs', 'Observation/lab-3', lab(3)));
    expect(await patient.node.deposit(relayAddr)).toBe(2);
    await patient.stop();

    // The provider comes back and collects.
    provider = await startDevice({ identity: provider.identity, storage: provider.storage });
    devices.push(provider);
    const collected = await provider.node.collect(relayAddr);
    expect(collected).toEqual([{ vault, scopes: ['labs'], entries: expect.any(Number) as number }]);
    const view = await read(await provider.node.sharedRecords(vault), 'labs');
    expect(view.resources.map((r) => (r as { id: string }).id).sort()).toEqual(['lab-0', 'lab-1', 'lab-2', 'lab-3']);
    await provider.stop();

    // The patient comes back and finds the provider's receipt at the relay.
    patient = await startDevice({ identity: patient.identity, storage: patient.storage });
    devices.push(patient);
    await patient.node.collect(relayAddr);
    const trail = patient.node.accessTrail();
    expect(trail.length).toBe(receiptsAtFirst + 1);
    expect(trail.at(-1)).toMatchObject({ by: provider.identity.did, scope: 'labs' });

    // Everything the relay stored is sealed: the marker in the records appears nowhere in its bytes.
    const needle = new TextEncoder().encode(MARKER);
    // Saved Automerge documents deflate their columns, so also open each one and scan its values.
    let documents = 0;
    for await (const { key, value } of relayStorage.range('')) {
      expect(indexOf(value, needle), key).toBe(-1);
      if (!key.startsWith('mailbox/doc/')) continue;
      documents++;
      const walk = (node: unknown): void => {
        if (node instanceof Uint8Array) expect(indexOf(node, needle), key).toBe(-1);
        else if (typeof node === 'string') expect(node.includes(MARKER), key).toBe(false);
        else if (node && typeof node === 'object') for (const child of Object.values(node)) walk(child);
      };
      walk(Automerge.toJS(Automerge.load(value)));
    }
    expect(documents).toBeGreaterThanOrEqual(3);
  });
});

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
