import * as Automerge from '@automerge/automerge';
import type { Stream } from '@libp2p/interface';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DOC_MAX_INBOUND_STREAMS, DOC_PROTOCOL, DocSync, DocumentHandle } from './doc/index.js';
import { FramedStream, RemoteEndError } from './framing.js';
import { INVITE_PROTOCOL, InviteService, MemoryInvitationBook, RequestQueue } from './invite/index.js';
import { LOG_PROTOCOL, LogSync, type LogReplica } from './log/index.js';
import { canonicalFrame, eventually, startPeers, stopPeers, varint, type TestPeer } from './testkit.js';
import { z } from 'zod';

type Scope = { items: Record<string, Uint8Array> };

/** Reads what the server answers: its `end` reason, or how the stream closed. */
async function answer(stream: Stream): Promise<string> {
  const framed = new FramedStream(stream, { maxMessageBytes: 1 << 20, readTimeoutMs: 10_000 });
  try {
    await framed.read(z.unknown());
    return 'a message';
  } catch (error) {
    return error instanceof RemoteEndError ? error.code : `closed (${(error as { code?: string }).code ?? 'unknown'})`;
  }
}

const emptyReplica: LogReplica = {
  mayReplicate: () => true,
  frontier: () => Promise.resolve([]),
  signedTreeHead: () => Promise.resolve(undefined),
  entriesFor: () => Promise.resolve([]),
  receive: () => Promise.resolve({ ok: true, added: 0 }),
  receiveTreeHead: () => Promise.resolve({ ok: true, added: 0 }),
};

describe('hostile peers against a node, over real libp2p', () => {
  let peers: TestPeer[];
  let target: TestPeer;
  let attacker: TestPeer;
  let honest: TestPeer;
  let served: DocumentHandle<Scope>;

  beforeEach(async () => {
    peers = await startPeers(3);
    [target, attacker, honest] = peers as [TestPeer, TestPeer, TestPeer];
    served = new DocumentHandle<Scope>(Automerge.from<Scope>({ items: { a: new Uint8Array([1]) } }));
    await new DocSync({ host: target.node, bans: target.bans }, { authorize: () => 'read', resolve: () => served }).start();
    await new LogSync({ host: target.node, bans: target.bans }, { replica: emptyReplica }).start();
    await new InviteService({ host: target.node, bans: target.bans }, { book: new MemoryInvitationBook(), queue: new RequestQueue() }).start();
  });

  afterEach(async () => {
    await stopPeers(peers);
  });

  async function honestPeerStillSyncs(): Promise<void> {
    const mine = new DocumentHandle<Scope>();
    const session = await new DocSync({ host: honest.node }, { authorize: () => false, resolve: () => undefined }).sync(target.node.getMultiaddrs(), { vault: 'v', doc: 'labs', target: mine });
    await session.synced();
    expect(mine.current().items['a']).toEqual(new Uint8Array([1]));
  }

  it.each([
    ['random garbage in a frame', () => new Uint8Array([0x20, ...crypto.getRandomValues(new Uint8Array(299))])],
    ['a frame of invalid CBOR', () => new Uint8Array([...varint(4), 0xff, 0xfe, 0xfd, 0xfc])],
    ['a frame of non-canonical CBOR', () => new Uint8Array([...varint(3), 0xa1, 0x61, 0x76].slice(0, 1 + 3))],
    ['a message without version', () => canonicalFrame({ t: 'open' })],
  ])('refuses %s on the doc protocol and bans the sender, and keeps serving others', async (_what, bytes) => {
    const stream = await attacker.node.dialProtocol(target.node.getMultiaddrs(), DOC_PROTOCOL);
    stream.send(bytes());
    expect(await answer(stream)).toMatch(/MALFORMED_MESSAGE|closed/);
    await eventually(() => target.bans.isBanned(attacker.node.peerId), 5_000, 'ban');
    await honestPeerStillSyncs();
  });

  it('refuses a message of another protocol version with UNSUPPORTED_VERSION', async () => {
    const stream = await attacker.node.dialProtocol(target.node.getMultiaddrs(), DOC_PROTOCOL);
    stream.send(canonicalFrame({ v: 2, t: 'open', vault: 'v', doc: 'labs', heads: [] }));
    expect(await answer(stream)).toBe('UNSUPPORTED_VERSION');
    await honestPeerStillSyncs();
  });

  it.each([
    ['a frame one byte over the limit', 64 * 1024 * 1024 + 1],
    ['a message claiming 4 GB', 4 * 1024 * 1024 * 1024],
    ['a length prefix of 2^53', 2 ** 53],
  ])('refuses %s from its length prefix alone, before buffering it', async (_what, claimed) => {
    const stream = await attacker.node.dialProtocol(target.node.getMultiaddrs(), DOC_PROTOCOL);
    stream.send(new Uint8Array([...varint(claimed), 1, 2, 3]));
    expect(await answer(stream)).toMatch(/MESSAGE_TOO_LARGE|closed/);
    await eventually(() => target.bans.isBanned(attacker.node.peerId), 5_000, 'ban');
    await honestPeerStillSyncs();
  });

  it('refuses a length prefix that never ends (continuation bytes only) without waiting for more', async () => {
    const stream = await attacker.node.dialProtocol(target.node.getMultiaddrs(), DOC_PROTOCOL);
    stream.send(new Uint8Array(64).fill(0x80));
    expect(await answer(stream)).toMatch(/MESSAGE_TOO_LARGE|closed/);
    await eventually(() => target.bans.isBanned(attacker.node.peerId), 5_000, 'ban');
    await honestPeerStillSyncs();
  });

  it('refuses an oversized frame on the log protocol (4 MiB limit) and on the invite protocol (16 KiB)', async () => {
    const log = await attacker.node.dialProtocol(target.node.getMultiaddrs(), LOG_PROTOCOL);
    log.send(new Uint8Array([...varint(4 * 1024 * 1024 + 1), 0]));
    expect(await answer(log)).toMatch(/MESSAGE_TOO_LARGE|closed/);
    const [second] = await startPeers(1);
    peers.push(second!);
    const invite = await second!.node.dialProtocol(target.node.getMultiaddrs(), INVITE_PROTOCOL);
    invite.send(new Uint8Array([...varint(17 * 1024), 0]));
    expect(await answer(invite)).toMatch(/MESSAGE_TOO_LARGE|closed/);
    await honestPeerStillSyncs();
  });

  it('stops a peer that floods streams at the per-connection limit, and keeps serving others', async () => {
    const opened: Stream[] = [];
    const refused: unknown[] = [];
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        try {
          opened.push(await attacker.node.dialProtocol(target.node.getMultiaddrs(), DOC_PROTOCOL));
        } catch (error) {
          refused.push(error);
        }
      }),
    );
    // Streams past the limit are reset by the target; the opener may learn it late, so count
    // what is still open a moment later.
    await eventually(() => opened.filter((s) => s.status === 'open').length <= DOC_MAX_INBOUND_STREAMS, 10_000, 'streams over the limit reset');
    expect(opened.length + refused.length).toBe(64);
    await honestPeerStillSyncs();
  });

  it('drops a peer that opens a stream and never speaks, after the read timeout', async () => {
    const quiet = new DocSync({ host: honest.node }, { authorize: () => 'read', resolve: () => served, readTimeoutMs: 300 });
    await quiet.start();
    const stream = await attacker.node.dialProtocol(honest.node.getMultiaddrs(), DOC_PROTOCOL);
    expect(await answer(stream)).toBe('TIMEOUT');
  });
});
