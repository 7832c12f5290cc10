import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { concatBytes, encodeCanonical, decodeCanonical, generateIdentity, sha256, sign, toBase64Url, verify, publicKeyFromDid, type Did, type Identity } from '../../crypto/index.js';
import { FramedStream } from '../framing.js';
import { eventually, startPeers, stopPeers, type TestPeer } from '../testkit.js';
import { LOG_PROTOCOL, MAX_WANTED_BODIES } from './constants.js';
import { LogSync, type LogReplica, type Misbehaviour, type ReceiveResult } from './log-sync.js';
import type { FrontierItem, WireEntry } from './messages.js';

/**
 * A small but real signed log for exercising the protocol before src/grants is wired in: each
 * entry's header names author, seq, prev and who may read its body; signatures are Ed25519 and
 * checked on receipt, seq must be contiguous and prev must link.
 */
class SignedLog implements LogReplica {
  readonly entries: { id: string; author: Did; seq: number; reader: string; entry: WireEntry }[] = [];
  /** Readers added to an entry after it was written (a party that became entitled later). */
  readonly laterReaders = new Map<string, Set<string>>();
  /** Entries this side keeps at most (beyond: LIMIT_REACHED, nothing kept). */
  capacity = Infinity;
  /** Every `wanted` list this side was asked with. */
  readonly asked: (readonly string[])[] = [];
  constructor(
    readonly vault: string,
    readonly members: Set<string>,
  ) {}

  async append(author: Identity, reader: string, body: Uint8Array): Promise<string> {
    const mine = this.entries.filter((e) => e.author === author.did);
    const prev = mine.at(-1)?.id ?? null;
    const header = encodeCanonical({ vault: this.vault, author: author.did, seq: mine.length, prev, reader, bodyHash: sha256(body) });
    const signature = await sign(author, header);
    const id = toBase64Url(sha256(concatBytes(header, signature)));
    this.entries.push({ id, author: author.did, seq: mine.length, reader, entry: { header, signature: new Uint8Array(signature), body } });
    return id;
  }

  mayReplicate(remote: Did): boolean {
    return this.members.has(remote);
  }
  frontier(vault: string): Promise<FrontierItem[] | undefined> {
    if (vault !== this.vault) return Promise.resolve(undefined);
    const latest = new Map<string, FrontierItem>();
    for (const e of this.entries) latest.set(e.author, { author: e.author, seq: e.seq, id: e.id });
    return Promise.resolve([...latest.values()]);
  }
  signedTreeHead(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  entriesFor(remote: Did, _vault: string, theirs: readonly FrontierItem[], wanted: readonly string[] = []): Promise<WireEntry[]> {
    this.asked.push(wanted);
    const have = new Map(theirs.map((f) => [f.author, f.seq]));
    const entitled = (e: (typeof this.entries)[number]) => e.entry.body !== undefined && (e.reader === remote || e.reader === '*' || (this.laterReaders.get(e.id)?.has(remote) ?? false));
    const lacking = this.entries.filter((e) => e.seq > (have.get(e.author) ?? -1)).map((e) => (entitled(e) ? e.entry : { header: e.entry.header, signature: e.entry.signature }));
    const due = this.entries.filter((e) => e.seq <= (have.get(e.author) ?? -1) && wanted.includes(e.id) && entitled(e)).map((e) => e.entry);
    return Promise.resolve([...lacking, ...due]);
  }
  bodiless(): Promise<string[]> {
    return Promise.resolve(this.entries.filter((e) => e.entry.body === undefined).map((e) => e.id));
  }
  async receive(_remote: Did, _vault: string, batch: readonly WireEntry[]): Promise<ReceiveResult> {
    if (this.entries.length + batch.length > this.capacity) return { ok: false, code: 'LIMIT_REACHED', detail: 'over capacity' };
    const staged = [...this.entries];
    for (const entry of batch) {
      const header = decodeCanonical(entry.header) as { vault: string; author: Did; seq: number; prev: string | null; reader: string; bodyHash: Uint8Array };
      const id = toBase64Url(sha256(concatBytes(entry.header, entry.signature)));
      if (!(await verify(publicKeyFromDid(header.author), entry.header, entry.signature))) return { ok: false, code: 'INVALID_ENTRY', detail: 'bad signature', entryId: id };
      const mine = staged.filter((e) => e.author === header.author);
      const held = staged.findIndex((e) => e.id === id);
      if (held >= 0) {
        // A body arriving for an entry held without one: kept if it is the one the header committed to.
        if (entry.body !== undefined && staged[held]!.entry.body === undefined && equalBytes(sha256(entry.body), header.bodyHash)) staged[held] = { ...staged[held]!, entry };
        continue;
      }
      if (header.seq !== mine.length || header.prev !== (mine.at(-1)?.id ?? null)) return { ok: false, code: 'INVALID_ENTRY', detail: 'broken chain', entryId: id };
      staged.push({ id, author: header.author, seq: header.seq, reader: header.reader, entry });
    }
    const added = staged.length - this.entries.length;
    this.entries.splice(0, this.entries.length, ...staged);
    return { ok: true, added };
  }
  receiveTreeHead(): Promise<ReceiveResult> {
    return Promise.resolve({ ok: true, added: 0 });
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

describe('/patient-vault/log/1.0.0 over real libp2p', () => {
  let peers: TestPeer[];
  let patient: TestPeer;
  let provider: TestPeer;
  let patientLog: SignedLog;
  let providerLog: SignedLog;
  let patientSync: LogSync;
  let providerSync: LogSync;
  let recorded: Misbehaviour[];

  beforeEach(async () => {
    peers = await startPeers(2);
    [patient, provider] = peers as [TestPeer, TestPeer];
    const members = new Set([patient.identity.did, provider.identity.did]);
    patientLog = new SignedLog('vault-1', members);
    providerLog = new SignedLog('vault-1', members);
    recorded = [];
    patientSync = new LogSync({ host: patient.node, bans: patient.bans }, { replica: patientLog, onMisbehaviour: (m) => recorded.push(m) });
    providerSync = new LogSync({ host: provider.node, bans: provider.bans }, { replica: providerLog });
    await patientSync.start();
    await providerSync.start();
  });

  afterEach(async () => {
    await stopPeers(peers);
  });

  it('sends each side the entries it lacks, with bodies only where it is entitled', async () => {
    const other = generateIdentity();
    await patientLog.append(patient.identity, provider.identity.did, new Uint8Array([1]));
    await patientLog.append(patient.identity, other.did, new Uint8Array([2]));
    await patientLog.append(patient.identity, '*', new Uint8Array([3]));
    await providerLog.receive(provider.identity.did, 'vault-1', []);
    await providerLog.append(provider.identity, '*', new Uint8Array([4]));
    const result = await providerSync.exchange(patient.node.getMultiaddrs(), 'vault-1');
    expect(result).toMatchObject({ sent: 1, received: 3, remote: patient.identity.did });
    expect(providerLog.entries).toHaveLength(4);
    const bodies = providerLog.entries.filter((e) => e.author === patient.identity.did).map((e) => e.entry.body);
    expect(bodies).toEqual([new Uint8Array([1]), undefined, new Uint8Array([3])]);
    await eventually(() => patientLog.entries.length === 4, 5_000, 'patient receives the provider entry');
    // A second exchange moves nothing.
    const again = await providerSync.exchange(patient.node.getMultiaddrs(), 'vault-1');
    expect(again).toMatchObject({ sent: 0, received: 0 });
  });

  it('refuses a peer that is no party of the vault', async () => {
    const [stranger] = await startPeers(1);
    peers.push(stranger!);
    const strangerSync = new LogSync({ host: stranger!.node }, { replica: new SignedLog('vault-1', new Set()) });
    await expect(strangerSync.exchange(patient.node.getMultiaddrs(), 'vault-1')).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    await expect(strangerSync.exchange(patient.node.getMultiaddrs(), 'vault-2')).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
  });

  it('ends the stream on an invalid entry, stores nothing of the batch, disconnects, bans and records the reason', async () => {
    const good = await providerLog.append(provider.identity, '*', new Uint8Array([1]));
    // Tamper: a second entry whose signature does not match its header.
    await providerLog.append(provider.identity, '*', new Uint8Array([2]));
    const last = providerLog.entries[1]!;
    const forged = new Uint8Array(last.entry.signature);
    forged[0] = forged[0]! ^ 1;
    providerLog.entries[1] = { ...last, entry: { ...last.entry, signature: forged } };
    await expect(providerSync.exchange(patient.node.getMultiaddrs(), 'vault-1')).rejects.toMatchObject({ code: 'INVALID_ENTRY' });
    expect(patientLog.entries).toHaveLength(0);
    await eventually(() => recorded.length === 1, 5_000, 'misbehaviour recorded');
    expect(recorded[0]).toMatchObject({ code: 'INVALID_ENTRY', remote: provider.identity.did, vault: 'vault-1' });
    expect(patient.bans.isBanned(provider.node.peerId)).toBe(true);
    await eventually(() => patient.node.getConnections(provider.node.peerId).length === 0, 5_000, 'disconnect');
    await expect(providerSync.exchange(patient.node.getMultiaddrs(), 'vault-1')).rejects.toBeDefined();
    expect(good).toHaveLength(43);
  });

  it('sends a body the receiver became entitled to after it took the header, when its hello asks for it', async () => {
    const other = generateIdentity();
    const later = await patientLog.append(patient.identity, other.did, new Uint8Array([7]));
    await providerSync.exchange(patient.node.getMultiaddrs(), 'vault-1');
    expect(providerLog.entries.find((e) => e.id === later)?.entry.body).toBeUndefined();
    // Nothing new and still not entitled: asked, not sent.
    expect(await providerSync.exchange(patient.node.getMultiaddrs(), 'vault-1')).toMatchObject({ received: 0 });
    expect(patientLog.asked.at(-1)).toEqual([later]);
    // The provider becomes entitled to that body (no new entry): its next hello asks, and it comes.
    patientLog.laterReaders.set(later, new Set([provider.identity.did]));
    expect(await providerSync.exchange(patient.node.getMultiaddrs(), 'vault-1')).toMatchObject({ received: 1 });
    expect(providerLog.entries.find((e) => e.id === later)?.entry.body).toEqual(new Uint8Array([7]));
    expect(providerLog.entries).toHaveLength(1);
    // Nothing is bodiless any more: no `want` in the next hello, nothing moves.
    expect(await providerSync.exchange(patient.node.getMultiaddrs(), 'vault-1')).toMatchObject({ received: 0, sent: 0 });
    expect(patientLog.asked.at(-1)).toEqual([]);
  });

  it('passes over wanted ids it does not hold and repeated ones', async () => {
    const stream = await provider.node.dialProtocol(patient.node.getMultiaddrs(), LOG_PROTOCOL);
    const framed = new FramedStream(stream, { maxMessageBytes: 1 << 20, readTimeoutMs: 5_000 });
    const unknown = toBase64Url(sha256(new Uint8Array([1])));
    await framed.write({ v: 1, t: 'hello', vault: 'vault-1', frontier: [], want: [unknown, unknown] });
    const hello = (await framed.read(z.object({ t: z.literal('hello') }).passthrough())) as { t: 'hello' };
    expect(hello.t).toBe('hello');
    expect(await framed.read(z.object({ t: z.literal('done'), count: z.number() }).passthrough())).toMatchObject({ count: 0 });
    expect(patientLog.asked.at(-1)).toEqual([unknown]);
    expect(recorded).toEqual([]);
  });

  it.each([
    ['more wanted ids than the limit', Array.from({ length: MAX_WANTED_BODIES + 1 }, (_, i) => toBase64Url(sha256(new Uint8Array([i & 255, i >> 8]))))],
    ['a wanted id that is not an entry id', ['not-an-entry-id']],
    ['a wanted list that is not a list', 'x'.repeat(43)],
  ])('refuses a hello with %s as malformed, and bans the peer', async (_, want) => {
    const stream = await provider.node.dialProtocol(patient.node.getMultiaddrs(), LOG_PROTOCOL);
    const framed = new FramedStream(stream, { maxMessageBytes: 1 << 20, readTimeoutMs: 5_000 });
    await framed.write({ v: 1, t: 'hello', vault: 'vault-1', frontier: [], want });
    await eventually(() => recorded.some((m) => m.code === 'MALFORMED_MESSAGE'), 5_000, 'refusal');
    expect(patient.bans.isBanned(provider.node.peerId)).toBe(true);
    expect(patientLog.asked).toEqual([]);
  });

  it('ends the exchange on a LIMIT_REACHED verdict without banning, disconnecting or recording the peer', async () => {
    patientLog.capacity = 1;
    await providerLog.append(provider.identity, '*', new Uint8Array([1]));
    await providerLog.append(provider.identity, '*', new Uint8Array([2]));
    await expect(providerSync.exchange(patient.node.getMultiaddrs(), 'vault-1')).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
    expect(patientLog.entries).toHaveLength(0);
    expect(patient.bans.isBanned(provider.node.peerId)).toBe(false);
    expect(recorded).toEqual([]);
    // Still served once there is room.
    patientLog.capacity = Infinity;
    expect(await providerSync.exchange(patient.node.getMultiaddrs(), 'vault-1')).toMatchObject({ sent: 2 });
  });

  it('refuses a batch message that announces one count and sends another', async () => {
    const stream = await provider.node.dialProtocol(patient.node.getMultiaddrs(), LOG_PROTOCOL);
    const framed = new FramedStream(stream, { maxMessageBytes: 1 << 20, readTimeoutMs: 5_000 });
    await framed.write({ v: 1, t: 'hello', vault: 'vault-1', frontier: [] });
    await framed.write({ v: 1, t: 'done', count: 5 });
    await eventually(() => recorded.some((m) => m.code === 'UNEXPECTED_MESSAGE'), 5_000, 'refusal');
  });
});
