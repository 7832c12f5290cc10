import * as Automerge from '@automerge/automerge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Did } from '../../crypto/index.js';
import { FramedStream } from '../framing.js';
import { eventually, startPeers, stopPeers, type TestPeer } from '../testkit.js';
import { DOC_PROTOCOL } from './constants.js';
import { DocSync, type AccessMode, type ReceivedEvent, type SessionEnd, type SyncStateStore } from './doc-sync.js';
import { DocumentHandle } from './document-handle.js';
import { readySchema } from './messages.js';

type Scope = { items: Record<string, Uint8Array> };

function scopeWith(count: number, prefix = 'r'): DocumentHandle<Scope> {
  const handle = new DocumentHandle<Scope>(Automerge.from<Scope>({ items: {} }));
  handle.change((d) => {
    for (let i = 0; i < count; i++) d.items[`${prefix}${i}`] = new Uint8Array(64).fill(i % 251);
  });
  return handle;
}

function items(handle: DocumentHandle<Scope>): string[] {
  return Object.keys(handle.current().items ?? {}).sort();
}

describe('/patient-vault/doc/1.0.0 over real libp2p', () => {
  let peers: TestPeer[];
  let patient: TestPeer;
  let provider: TestPeer;
  let grants: Map<Did, AccessMode>;
  let served: DocumentHandle<Scope>;
  let serverEnds: SessionEnd[];
  let server: DocSync;

  beforeEach(async () => {
    peers = await startPeers(2);
    [patient, provider] = peers as [TestPeer, TestPeer];
    grants = new Map();
    served = scopeWith(50);
    serverEnds = [];
    server = new DocSync(
      { host: patient.node, bans: patient.bans },
      {
        authorize: (remote, vault, doc) => (vault === 'vault-1' && doc === 'labs' ? (grants.get(remote) ?? false) : false),
        resolve: (_vault, doc) => (doc === 'labs' ? served : undefined),
        onSessionEnd: (e) => serverEnds.push(e),
      },
    );
    await server.start();
  });

  afterEach(async () => {
    await server.stop();
    await stopPeers(peers);
  });

  function client(received: ReceivedEvent[] = [], syncStates?: SyncStateStore): DocSync {
    return new DocSync({ host: provider.node }, { authorize: () => false, resolve: () => undefined, onReceived: (e) => received.push(e), ...(syncStates ? { syncStates } : {}) });
  }

  it('forgets a live session and its sync state when the remote disconnects', async () => {
    grants.set(provider.identity.did, 'read');
    const mine = new DocumentHandle<Scope>();
    const dialer = client();
    const session = await dialer.sync(patient.node.getMultiaddrs(), { vault: 'vault-1', doc: 'labs', target: mine, live: true });
    await session.synced();
    expect(server.sessions()).toHaveLength(1);
    await provider.node.hangUp(patient.node.peerId);
    await eventually(() => server.sessions().length === 0 && dialer.sessions().length === 0, 10_000, 'both sides to drop the session');
    expect(serverEnds.map((e) => e.remote)).toEqual([provider.identity.did]);
    // Later changes go nowhere (the server holds no subscription for the gone peer).
    served.change((d) => {
      d.items['after'] = new Uint8Array([1]);
    });
    expect(mine.current().items['after']).toBeUndefined();
  });

  it('gives a peer that holds nothing the whole document as a snapshot, then agrees on heads', async () => {
    grants.set(provider.identity.did, 'read');
    const received: ReceivedEvent[] = [];
    const mine = new DocumentHandle<Scope>();
    const session = await client(received).sync(patient.node.getMultiaddrs(), { vault: 'vault-1', doc: 'labs', target: mine });
    await session.synced();
    expect(items(mine)).toEqual(items(served));
    expect(mine.heads()).toEqual(served.heads());
    expect(received[0]).toMatchObject({ snapshot: true, first: true, vault: 'vault-1', doc: 'labs', remote: patient.identity.did });
    const end = await session.closed();
    expect(end.code).toBeUndefined();
  });

  it('refuses a scope the remote holds no grant for, and keeps serving others', async () => {
    const mine = new DocumentHandle<Scope>();
    await expect(client().sync(patient.node.getMultiaddrs(), { vault: 'vault-1', doc: 'labs', target: mine })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    await expect(client().sync(patient.node.getMultiaddrs(), { vault: 'vault-1', doc: 'mental-health', target: mine })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    expect(items(mine)).toEqual([]);
    grants.set(provider.identity.did, 'read');
    const session = await client().sync(patient.node.getMultiaddrs(), { vault: 'vault-1', doc: 'labs', target: mine });
    await session.synced();
    expect(items(mine)).toHaveLength(50);
  });

  it('streams later changes to a live session, and ends it when the grant is revoked', async () => {
    grants.set(provider.identity.did, 'read');
    const mine = new DocumentHandle<Scope>();
    const session = await client().sync(patient.node.getMultiaddrs(), { vault: 'vault-1', doc: 'labs', target: mine, live: true });
    await session.synced();
    served.change((d) => {
      d.items['later'] = new Uint8Array([7]);
    });
    await eventually(() => mine.current().items['later'] !== undefined, 10_000, 'live change');
    grants.delete(provider.identity.did);
    expect(await server.reauthorize()).toBe(1);
    const end = await session.closed();
    expect(end).toMatchObject({ code: 'AUTHORIZATION_ENDED', byRemote: true });
    served.change((d) => {
      d.items['after-revoke'] = new Uint8Array([8]);
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(mine.current().items['after-revoke']).toBeUndefined();
    await eventually(() => serverEnds.some((e) => e.code === 'AUTHORIZATION_ENDED'), 5_000, 'server end');
  });

  it('ends the stream on the next message once authorize says no, without reauthorize()', async () => {
    grants.set(provider.identity.did, 'read');
    const mine = new DocumentHandle<Scope>();
    const session = await client().sync(patient.node.getMultiaddrs(), { vault: 'vault-1', doc: 'labs', target: mine, live: true });
    await session.synced();
    grants.delete(provider.identity.did);
    served.change((d) => {
      d.items['x'] = new Uint8Array([1]);
    });
    const end = await session.closed();
    expect(end.code).toBe('AUTHORIZATION_ENDED');
    expect(mine.current().items['x']).toBeUndefined();
  });

  it('merges concurrent edits of two devices that both may write', async () => {
    grants.set(provider.identity.did, 'write');
    const other = new DocumentHandle<Scope>(Automerge.clone(served.current()));
    served.change((d) => {
      d.items['from-a'] = new Uint8Array([1]);
    });
    other.change((d) => {
      d.items['from-b'] = new Uint8Array([2]);
    });
    const session = await client().sync(patient.node.getMultiaddrs(), { vault: 'vault-1', doc: 'labs', target: other });
    await session.synced();
    expect(items(other)).toContain('from-a');
    expect(items(served)).toContain('from-b');
    expect(other.heads().sort()).toEqual(served.heads().sort());
  });

  it('never pushes a read-only party’s local edits, and refuses them when a hostile one sends them', async () => {
    grants.set(provider.identity.did, 'read');
    const mine = new DocumentHandle<Scope>(Automerge.clone(served.current()));
    mine.change((d) => {
      d.items['forged'] = new Uint8Array([9]);
    });
    const session = await client().sync(patient.node.getMultiaddrs(), { vault: 'vault-1', doc: 'labs', target: mine });
    await session.closed();
    expect(served.current().items['forged']).toBeUndefined();

    // A hostile client ignores the rule and sends its change anyway.
    const stream = await provider.node.dialProtocol(patient.node.getMultiaddrs(), DOC_PROTOCOL);
    const framed = new FramedStream(stream, { maxMessageBytes: 1 << 20, readTimeoutMs: 5_000 });
    await framed.write({ v: 1, t: 'open', vault: 'vault-1', doc: 'labs', heads: Automerge.getHeads(served.current()) });
    await framed.read(readySchema);
    const changes = Automerge.getChanges(served.current(), mine.current());
    expect(changes).toHaveLength(1);
    const msg = Automerge.encodeSyncMessage({ heads: mine.heads(), need: [], have: [], changes });
    await framed.write({ v: 1, t: 'sync', msg, heads: mine.heads() });
    await eventually(() => serverEnds.some((e) => e.code === 'READ_ONLY'), 5_000, 'READ_ONLY end');
    expect(served.current().items['forged']).toBeUndefined();
  });

  it('resumes with a stored sync state instead of a second snapshot', async () => {
    grants.set(provider.identity.did, 'read');
    const saved = new Map<string, Uint8Array>();
    const store: SyncStateStore = {
      load: (remote, vault, doc) => Promise.resolve(saved.get(`${remote}/${vault}/${doc}`)),
      save: (remote, vault, doc, state) => {
        saved.set(`${remote}/${vault}/${doc}`, state);
        return Promise.resolve();
      },
    };
    const mine = new DocumentHandle<Scope>();
    const first: ReceivedEvent[] = [];
    await (await client(first, store).sync(patient.node.getMultiaddrs(), { vault: 'vault-1', doc: 'labs', target: mine })).synced();
    served.change((d) => {
      d.items['while-away'] = new Uint8Array([3]);
    });
    // A fresh DocSync (as after a restart) with the same store and the same document.
    const again: ReceivedEvent[] = [];
    const restored = new DocumentHandle<Scope>(Automerge.load<Scope>(Automerge.save(mine.current())));
    const session = await client(again, store).sync(patient.node.getMultiaddrs(), { vault: 'vault-1', doc: 'labs', target: restored });
    await session.synced();
    expect(restored.current().items['while-away']).toEqual(new Uint8Array([3]));
    expect(again.every((e) => !e.snapshot)).toBe(true);
    expect(items(restored)).toEqual(items(served));
  });

  it('answers NOT_FOUND for a document the server does not hold', async () => {
    const relaxed = new DocSync({ host: provider.node }, { authorize: () => 'read', resolve: () => undefined });
    await relaxed.start();
    const asker = new DocSync({ host: patient.node }, { authorize: () => false, resolve: () => undefined });
    await expect(asker.sync(provider.node.getMultiaddrs(), { vault: 'v', doc: 'nothing', target: new DocumentHandle() })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await relaxed.stop();
  });
});
