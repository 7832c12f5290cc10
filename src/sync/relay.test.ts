import * as Automerge from '@automerge/automerge';
import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DOC_PROTOCOL, DocSync, DocumentHandle } from './doc/index.js';
import { generateIdentity } from '../crypto/index.js';
import { FramedStream, RemoteEndError } from './framing.js';
import { z } from 'zod';
import { MemoryStorage } from '../store/index.js';
import { createNodeLibp2p } from './libp2p/node.js';
import { MailboxClient, slotDocName } from './mailbox/index.js';
import { startRelay, type Relay, type RelayLimits } from './relay.js';
import { canonicalFrame, eventually, startPeers, stopPeers, varint, type TestPeer } from './testkit.js';

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

describe('relay: mailbox quotas and memory bounds against oversized and hostile deposits', () => {
  let storage: MemoryStorage;
  let relay: Relay;
  let peers: TestPeer[];
  let patient: TestPeer;
  let provider: TestPeer;
  let other: TestPeer;

  async function start(limits: RelayLimits): Promise<void> {
    relay = await startRelay({ storage, host: '127.0.0.1', limits });
  }

  beforeEach(async () => {
    storage = new MemoryStorage();
    peers = await startPeers(3);
    [patient, provider, other] = peers as [TestPeer, TestPeer, TestPeer];
  });

  afterEach(async () => {
    await stopPeers(peers);
    await relay.stop();
  });

  function relayTcp() {
    return multiaddr(relay.multiaddrs().find((a) => !a.includes('/ws')));
  }

  function slotOf(depositor: TestPeer, name: string): string {
    return slotDocName({ depositor: depositor.identity.did, recipient: provider.identity.did, name });
  }

  it('refuses a frame that does not fit the slot from its length prefix alone, with LIMIT_REACHED, and bans nobody', async () => {
    await start({ maxSlotBytes: 64 * 1024 });
    const stream = await patient.node.dialProtocol(relayTcp(), DOC_PROTOCOL);
    const framed = new FramedStream(stream, { maxMessageBytes: 1 << 20, readTimeoutMs: 10_000 });
    stream.send(canonicalFrame({ v: 1, t: 'open', vault: 'vault-1', doc: slotOf(patient, 'labs'), heads: [] }));
    expect(await framed.read(z.object({ t: z.literal('ready'), access: z.literal('write') }).loose())).toMatchObject({ access: 'write' });
    // Only the prefix of a 1 MB frame is sent: the answer comes without waiting for its body.
    stream.send(varint(1_000_000));
    // The relay's own first sync message may come before its answer.
    let refusal = 'no answer';
    for (let i = 0; i < 4 && refusal === 'no answer'; i++) {
      refusal = await framed.read(z.object({ t: z.literal('sync') }).loose()).then(
        () => 'no answer',
        (error: unknown) => (error instanceof RemoteEndError ? error.code : 'closed'),
      );
    }
    expect(refusal).toBe('LIMIT_REACHED');
    // The same depositor may still deposit what fits, and the relay serves everyone.
    const small = sealedLike(5, 100);
    await (await client(patient).sync(relayTcp(), { vault: 'vault-1', doc: slotOf(patient, 'labs'), target: small })).synced();
    const mine = new DocumentHandle<Scope>();
    await (await client(provider).sync(relayTcp(), { vault: 'vault-1', doc: slotOf(patient, 'labs'), target: mine })).synced();
    expect(Object.keys(mine.current().items)).toHaveLength(5);
  });

  it('ends a deposit whose snapshot exceeds the slot with LIMIT_REACHED and keeps nothing of it', async () => {
    await start({ maxSlotBytes: 64 * 1024 });
    const big = sealedLike(100, 1000);
    const session = await client(patient).sync(relayTcp(), { vault: 'vault-1', doc: slotOf(patient, 'labs'), target: big });
    await expect(session.synced()).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
    expect((await session.closed()).code).toBe('LIMIT_REACHED');
    expect(await relay.mailbox.bytesOf(patient.identity.did)).toBe(0);
    expect(await new MailboxClient({ host: provider.node }).list(relayTcp())).toEqual([]);
  });

  it('holds each depositor to its quota over all its slots, without touching another depositor', async () => {
    await start({ maxSlotBytes: 200 * 1024, maxBytesPerDepositor: 300 * 1024 });
    await (await client(patient).sync(relayTcp(), { vault: 'vault-1', doc: slotOf(patient, 'labs'), target: sealedLike(150, 1000) })).synced();
    const second = await client(patient).sync(relayTcp(), { vault: 'vault-1', doc: slotOf(patient, 'summary'), target: sealedLike(170, 1000) });
    await expect(second.synced()).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
    const held = await relay.mailbox.bytesOf(patient.identity.did);
    expect(held).toBeGreaterThan(150_000);
    expect(held).toBeLessThanOrEqual(300 * 1024);
    await (await client(other).sync(relayTcp(), { vault: 'vault-2', doc: slotOf(other, 'labs'), target: sealedLike(150, 1000) })).synced();
    // The quota counts what is stored, so it holds across a relay restart.
    await relay.stop();
    await start({ maxSlotBytes: 200 * 1024, maxBytesPerDepositor: 300 * 1024 });
    const stored = await relay.mailbox.bytesOf(patient.identity.did);
    expect(stored).toBeGreaterThan(150_000);
    expect(stored).toBeLessThanOrEqual(held);
    const again = await client(patient).sync(relayTcp(), { vault: 'vault-1', doc: slotOf(patient, 'summary'), target: sealedLike(170, 1000) });
    await expect(again.synced()).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
  });

  it('caps the sessions one peer holds at the relay, and frees the place when one ends', async () => {
    await start({ maxSessionsPerPeer: 2 });
    const live = await Promise.all(
      ['a', 'b'].map(async (name) => client(patient).sync(relayTcp(), { vault: 'vault-1', doc: slotOf(patient, name), target: sealedLike(1, 10), live: true })),
    );
    await Promise.all(live.map(async (s) => s.synced()));
    await expect(client(patient).sync(relayTcp(), { vault: 'vault-1', doc: slotOf(patient, 'c'), target: sealedLike(1, 10) })).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
    // Another peer is not affected.
    await (await client(other).sync(relayTcp(), { vault: 'vault-2', doc: slotOf(other, 'c'), target: sealedLike(1, 10) })).synced();
    await live[0]!.close();
    await eventually(() => relay.mailbox.docs.sessions().filter((s) => s.remote === patient.identity.did).length < 2, 5_000, 'the session to end at the relay');
    await (await client(patient).sync(relayTcp(), { vault: 'vault-1', doc: slotOf(patient, 'c'), target: sealedLike(1, 10) })).synced();
  });

  it('unloads idle slots beyond its memory cap and hands every one over intact from storage', async () => {
    await start({ maxLoadedSlots: 2, slotIdleMs: 0 });
    const deposits = ['s1', 's2', 's3', 's4'].map((name) => ({ name, doc: sealedLike(20, 200) }));
    for (const { name, doc } of deposits) {
      const session = await client(patient).sync(relayTcp(), { vault: 'vault-1', doc: slotOf(patient, name), target: doc });
      await session.synced();
      await session.closed();
    }
    await eventually(() => relay.mailbox.loadedSlots() <= 2, 5_000, 'idle slots to be unloaded');
    for (const { name, doc } of deposits) {
      const mine = new DocumentHandle<Scope>();
      const session = await client(provider).sync(relayTcp(), { vault: 'vault-1', doc: slotOf(patient, name), target: mine });
      await session.synced();
      await session.closed();
      expect(mine.heads()).toEqual(doc.heads());
    }
    await eventually(() => relay.mailbox.loadedSlots() <= 2, 5_000, 'idle slots to be unloaded again');
  });
});
