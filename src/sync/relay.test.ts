import * as Automerge from '@automerge/automerge';
import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DocSync, DocumentHandle } from './doc/index.js';
import { generateIdentity } from '../crypto/index.js';
import { MemoryStorage } from '../store/index.js';
import { createNodeLibp2p } from './libp2p/node.js';
import { MailboxClient, slotDocName } from './mailbox/index.js';
import { startRelay, type Relay } from './relay.js';
import { eventually, startPeers, stopPeers, type TestPeer } from './testkit.js';

type Scope = { items: Record<string, Uint8Array> };

function sealedLike(count: number, size: number): DocumentHandle<Scope> {
  // Random bytes stand in for ciphertext: the relay must neither read nor compress them.
  const items: Record<string, Uint8Array> = {};
  for (let i = 0; i < count; i++) items[`k${i}`] = crypto.getRandomValues(new Uint8Array(size));
  return new DocumentHandle<Scope>(Automerge.from<Scope>({ items }));
}

function client(peer: TestPeer): DocSync {
  return new DocSync({ host: peer.node }, { authorize: () => false, resolve: () => undefined });
}

describe('relay: circuit relay and store-and-forward mailbox', () => {
  let storage: MemoryStorage;
  let relay: Relay;
  let peers: TestPeer[];
  let patient: TestPeer;
  let provider: TestPeer;
  let stranger: TestPeer;

  beforeEach(async () => {
    storage = new MemoryStorage();
    relay = await startRelay({ storage, host: '127.0.0.1' });
    peers = await startPeers(3);
    [patient, provider, stranger] = peers as [TestPeer, TestPeer, TestPeer];
  });

  afterEach(async () => {
    await stopPeers(peers);
    await relay.stop();
  });

  function relayTcp() {
    return multiaddr(relay.multiaddrs().find((a) => !a.includes('/ws')));
  }

  it('prints WebSocket and TCP addresses that name the relay, and keeps its identity across restarts', async () => {
    const addrs = relay.multiaddrs();
    expect(addrs.some((a) => a.includes('/ws/p2p/'))).toBe(true);
    expect(addrs.some((a) => /\/tcp\/\d+\/p2p\//.test(a))).toBe(true);
    const id = relay.node.peerId.toString();
    await relay.stop();
    relay = await startRelay({ storage, host: '127.0.0.1' });
    expect(relay.node.peerId.toString()).toBe(id);
  });

  it('holds a deposit for an offline recipient and hands it over later, also after a relay restart', async () => {
    const scope = sealedLike(200, 300);
    const slot = slotDocName({ depositor: patient.identity.did, recipient: provider.identity.did, name: 'labs' });
    const deposit = await client(patient).sync(relayTcp(), { vault: 'vault-1', doc: slot, target: scope });
    await deposit.synced();
    await deposit.closed();
    await relay.stop();
    relay = await startRelay({ storage, host: '127.0.0.1' });

    const waiting = await new MailboxClient({ host: provider.node }).list(relayTcp());
    expect(waiting).toEqual([{ vault: 'vault-1', doc: slot, heads: scope.heads() }]);
    const mine = new DocumentHandle<Scope>();
    const pickup = await client(provider).sync(relayTcp(), { vault: 'vault-1', doc: slot, target: mine });
    await pickup.synced();
    expect(Object.keys(mine.current().items)).toHaveLength(200);
    expect(mine.current().items['k7']).toEqual(scope.current().items['k7']);
  });

  it('merges a later deposit into the held document without any key', async () => {
    const scope = sealedLike(10, 100);
    const slot = slotDocName({ depositor: patient.identity.did, recipient: provider.identity.did, name: 'labs' });
    await (await client(patient).sync(relayTcp(), { vault: 'vault-1', doc: slot, target: scope })).synced();
    scope.change((d) => {
      d.items['later'] = new Uint8Array([1, 2, 3]);
    });
    await (await client(patient).sync(relayTcp(), { vault: 'vault-1', doc: slot, target: scope })).synced();
    const mine = new DocumentHandle<Scope>();
    await (await client(provider).sync(relayTcp(), { vault: 'vault-1', doc: slot, target: mine })).synced();
    expect(mine.current().items['later']).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('lets nobody but the two parties near a slot, and the recipient only read', async () => {
    const scope = sealedLike(5, 50);
    const slot = slotDocName({ depositor: patient.identity.did, recipient: provider.identity.did, name: 'labs' });
    await (await client(patient).sync(relayTcp(), { vault: 'vault-1', doc: slot, target: scope })).synced();
    await expect(client(stranger).sync(relayTcp(), { vault: 'vault-1', doc: slot, target: new DocumentHandle() })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    expect(await new MailboxClient({ host: stranger.node }).list(relayTcp())).toEqual([]);
    await expect(new MailboxClient({ host: stranger.node }).drop(relayTcp(), 'vault-1', slot)).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    // A slot in someone else's name cannot be created.
    const forged = slotDocName({ depositor: patient.identity.did, recipient: stranger.identity.did, name: 'labs' });
    await expect(client(stranger).sync(relayTcp(), { vault: 'vault-1', doc: forged, target: sealedLike(1, 1) })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    // The recipient's own edits never reach the slot.
    const mine = new DocumentHandle<Scope>();
    await (await client(provider).sync(relayTcp(), { vault: 'vault-1', doc: slot, target: mine })).synced();
    mine.change((d) => {
      d.items['from-recipient'] = new Uint8Array([1]);
    });
    await (await client(provider).sync(relayTcp(), { vault: 'vault-1', doc: slot, target: mine })).closed();
    const check = new DocumentHandle<Scope>();
    await (await client(patient).sync(relayTcp(), { vault: 'vault-1', doc: slot, target: check })).synced();
    expect(check.current().items['from-recipient']).toBeUndefined();
  });

  it('forgets a dropped slot and ends the recipient’s live session on it', async () => {
    const scope = sealedLike(5, 50);
    const slot = slotDocName({ depositor: patient.identity.did, recipient: provider.identity.did, name: 'labs' });
    await (await client(patient).sync(relayTcp(), { vault: 'vault-1', doc: slot, target: scope })).synced();
    const live = await client(provider).sync(relayTcp(), { vault: 'vault-1', doc: slot, target: new DocumentHandle(), live: true });
    await live.synced();
    expect(await new MailboxClient({ host: patient.node }).drop(relayTcp(), 'vault-1', slot)).toBe(true);
    expect((await live.closed()).code).toBe('AUTHORIZATION_ENDED');
    expect(await new MailboxClient({ host: provider.node }).list(relayTcp())).toEqual([]);
    await expect(client(provider).sync(relayTcp(), { vault: 'vault-1', doc: slot, target: new DocumentHandle() })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
  });

  it('carries a first sync of over 1 MB between two peers through the relay circuit', async () => {
    // A node that listens only through the relay, as a browser or a node behind NAT does.
    const reservation = `${relayTcp().toString()}/p2p-circuit`;
    const behindNat = await createNodeLibp2p({ identity: generateIdentity(), listen: [reservation] });
    peers.push({ ...patient, node: behindNat });
    const served = sealedLike(400, 3000);
    await new DocSync({ host: behindNat }, { authorize: () => 'read', resolve: () => served }).start();
    await eventually(() => behindNat.getMultiaddrs().some((a) => a.toString().includes('/p2p-circuit')), 10_000, 'relay reservation');
    const circuit = multiaddr(`${reservation}/p2p/${behindNat.peerId.toString()}`);
    const mine = new DocumentHandle<Scope>();
    const session = await client(provider).sync(circuit, { vault: 'v', doc: 'labs', target: mine });
    await session.synced();
    expect(Object.keys(mine.current().items)).toHaveLength(400);
    // Relayed, and without the default 128 KiB / 2 min limits (STACK.md).
    const [connection] = provider.node.getConnections(behindNat.peerId);
    expect(connection?.remoteAddr.toString()).toContain('/p2p-circuit');
    expect(connection?.limits).toBeUndefined();
  });
});
