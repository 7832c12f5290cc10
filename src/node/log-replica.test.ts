import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeCanonical, generateIdentity, randomBytes, type Digest, type Identity } from '../crypto/index.js';
import { LogVerifier, LogWriter, entryIdOf, signTreeHead, type EntryId, type SignedEntry, type VaultId } from '../grants/index.js';
import { forge } from '../grants/testkit.js';
import { LogSync } from '../sync/index.js';
import { startPeers, stopPeers, type TestPeer } from '../sync/testkit.js';
import { GrantLogReplica } from './log-replica.js';

describe('grant-log replication through src/grants, over real libp2p', () => {
  let peers: TestPeer[];
  let patient: TestPeer;
  let provider: TestPeer;
  let writer: LogWriter;
  let vault: VaultId;
  let patientReplica: GrantLogReplica;
  let providerReplica: GrantLogReplica;
  let providerLog: LogVerifier;
  let patientSync: LogSync;
  let providerSync: LogSync;
  let clock: number;
  const other: Identity = generateIdentity();

  beforeEach(async () => {
    peers = await startPeers(2);
    [patient, provider] = peers as [TestPeer, TestPeer];
    clock = 1_750_000_000_000;
    ({ writer, vault } = await LogWriter.createVault(patient.identity, { subject: patient.identity.did, devices: [patient.identity.did], delegates: [], label: null }, clock));
    patientReplica = new GrantLogReplica({ identity: patient.identity, now: () => clock });
    patientReplica.track(writer.log);
    providerLog = new LogVerifier({ vault });
    providerReplica = new GrantLogReplica({ identity: provider.identity, now: () => clock });
    providerReplica.track(providerLog, [patient.identity.did]);
    patientSync = new LogSync({ host: patient.node, bans: patient.bans }, { replica: patientReplica });
    providerSync = new LogSync({ host: provider.node, bans: provider.bans }, { replica: providerReplica });
    await patientSync.start();
    await providerSync.start();
  });

  afterEach(async () => {
    await stopPeers(peers);
  });

  async function grant(to: Identity, scopes: ('labs' | 'summary')[]): Promise<EntryId> {
    clock += 1000;
    const entry = await writer.append(patient.identity, 'grant', { grantee: to.did, scopes, actions: ['read'], purpose: 'treatment', expires: clock + 30 * 86_400_000, keys: [] }, { ts: clock });
    patientReplica.noteWritten(vault, [entry]);
    return entry.id;
  }

  it('gives the provider every header, the bodies of its own grant, and none of another party’s grant', async () => {
    const mine = await grant(provider.identity, ['labs', 'summary']);
    const theirs = await grant(other, ['labs']);
    const result = await providerSync.exchange(patient.node.getMultiaddrs(), vault);
    expect(result.received).toBe(3);
    expect(providerLog.size).toBe(3);
    expect(providerLog.entry(mine)?.body).toBeDefined();
    expect(providerLog.entry(theirs)?.body).toBeUndefined();
    expect(providerLog.entitlement(provider.identity.did, 'labs', clock).entitled).toBe(true);
    // The provider's copy verifies: signatures, links, authority — with the other grant withheld.
    expect(providerLog.problems(clock)).toEqual([]);
  });

  it('carries a revocation to the provider, and a replayed revoked grant stays revoked', async () => {
    const id = await grant(provider.identity, ['labs']);
    await providerSync.exchange(patient.node.getMultiaddrs(), vault);
    const grantEntry = providerLog.entries().find((e) => entryIdOf(e.header, e.signature) === id);
    clock += 1000;
    const revoke = await writer.append(patient.identity, 'revoke', { grant: id, reason: null }, { ts: clock });
    patientReplica.noteWritten(vault, [revoke]);
    await providerSync.exchange(patient.node.getMultiaddrs(), vault);
    expect(providerLog.entitlement(provider.identity.did, 'labs', clock).entitled).toBe(false);
    // The provider replays its old grant to the patient: known, changes nothing.
    const replay = await patientReplica.receive(provider.identity.did, vault, [grantEntry!]);
    expect(replay.ok).toBe(true);
    expect(writer.log.entitlement(provider.identity.did, 'labs', clock).entitled).toBe(false);
  });

  it('refuses an entry whose signature does not verify and keeps nothing of it', async () => {
    await grant(provider.identity, ['labs']);
    await providerSync.exchange(patient.node.getMultiaddrs(), vault);
    // The provider forges an entry in the patient's name: a grant to itself of every scope.
    const forged = await LogWriter.createVault(provider.identity, { subject: provider.identity.did, devices: [provider.identity.did], delegates: [], label: null }, clock);
    const bad = { header: forged.genesis.header, signature: randomBytes(64), body: forged.genesis.body };
    const verdict = await patientReplica.receive(provider.identity.did, vault, [bad]);
    expect(verdict).toMatchObject({ ok: false, code: 'INVALID_ENTRY' });
    expect(writer.log.size).toBe(2);
  });

  it('keeps two different signed tree heads of one size as proof of a fork, and ends the exchange', async () => {
    await grant(provider.identity, ['labs']);
    await providerSync.exchange(patient.node.getMultiaddrs(), vault);
    // The patient's node now shows a different history of the same size.
    const forgedHead = await signTreeHead(patient.identity, { vault, size: writer.log.size, root: randomBytes(32) as Digest, ts: clock });
    const bytes = encodeCanonical({ head: forgedHead.head, signature: forgedHead.signature });
    const verdict = await providerReplica.receiveTreeHead(patient.identity.did, vault, bytes);
    expect(verdict).toMatchObject({ ok: false, code: 'FORK' });
    expect(providerReplica.forks(vault)).toHaveLength(1);
    expect(providerLog.problems(clock).some((p) => p.code === 'FORK')).toBe(true);
  });

  it('sends a guardian\u2019s delegation body to a provider that already holds its header, once the guardian grants to it', async () => {
    const guardian = generateIdentity();
    clock += 1000;
    const delegation = await writer.append(patient.identity, 'delegate', { delegate: guardian.did, role: 'guardian', expires: null, scopes: [], wait: null, keys: [] }, { ts: clock });
    patientReplica.noteWritten(vault, [delegation]);
    await grant(provider.identity, ['labs']);
    await providerSync.exchange(patient.node.getMultiaddrs(), vault);
    expect(providerLog.entry(delegation.id)?.body).toBeUndefined();
    clock += 1000;
    const byGuardian = await writer.append(guardian, 'grant', { grantee: provider.identity.did, scopes: ['summary'], actions: ['read'], purpose: 'family', expires: null, keys: [] }, { ts: clock });
    patientReplica.noteWritten(vault, [byGuardian]);
    await providerSync.exchange(patient.node.getMultiaddrs(), vault);
    expect(providerLog.entry(delegation.id)?.body).toBeDefined();
    expect(providerLog.statusOf(byGuardian.id)).toBe('valid');
    expect(providerLog.entitlement(provider.identity.did, 'summary', clock)).toMatchObject({ entitled: true, as: 'grant', entry: byGuardian.id });
    expect(providerLog.problems(clock)).toEqual([]);
  });

  it('sends the bodies a provider becomes entitled to later (made a guardian) of entries it already holds, and none before', async () => {
    await grant(provider.identity, ['labs']);
    const theirs = await grant(other, ['labs']);
    await providerSync.exchange(patient.node.getMultiaddrs(), vault);
    expect(providerLog.entry(theirs)?.body).toBeUndefined();
    // It asks for the body on every exchange; while it is a grantee the patient sends nothing.
    expect(await providerReplica.bodiless(vault, 10)).toEqual([theirs]);
    expect(await providerSync.exchange(patient.node.getMultiaddrs(), vault)).toMatchObject({ received: 0 });
    expect(providerLog.entry(theirs)?.body).toBeUndefined();
    // Made a guardian: a live guardian is entitled to every body, the other grant's among them.
    clock += 1000;
    const delegation = await writer.append(patient.identity, 'delegate', { delegate: provider.identity.did, role: 'guardian', expires: null, scopes: [], wait: null, keys: [] }, { ts: clock });
    patientReplica.noteWritten(vault, [delegation]);
    await providerSync.exchange(patient.node.getMultiaddrs(), vault);
    expect(providerLog.entry(theirs)?.body).toBeDefined();
    expect(await providerReplica.bodiless(vault, 10)).toEqual([]);
    expect(providerLog.problems(clock)).toEqual([]);
  });

  it('lists the ids it holds without a body in turns when there are more than fit one hello', async () => {
    const others = Array.from({ length: 5 }, () => generateIdentity());
    const ids: string[] = [];
    await grant(provider.identity, ['labs']);
    for (const o of others) ids.push(await grant(o, ['labs']));
    await providerSync.exchange(patient.node.getMultiaddrs(), vault);
    const turns = [await providerReplica.bodiless(vault, 2), await providerReplica.bodiless(vault, 2), await providerReplica.bodiless(vault, 2)];
    expect(turns.every((t) => t.length === 2)).toBe(true);
    expect(new Set(turns.flat())).toEqual(new Set(ids));
  });

  it('persists a body it lacked exactly once, however often it is sent again', async () => {
    const guardian = generateIdentity();
    clock += 1000;
    const delegation = await writer.append(patient.identity, 'delegate', { delegate: guardian.did, role: 'guardian', expires: null, scopes: [], wait: null, keys: [] }, { ts: clock });
    const added: string[] = [];
    const replica = new GrantLogReplica({ identity: provider.identity, now: () => clock, onAdded: (_v, entries) => void added.push(...entries.map((e) => entryIdOf(e.header, e.signature))) });
    replica.track(new LogVerifier({ vault }), [patient.identity.did]);
    const headerOnly = (e: SignedEntry): SignedEntry => ({ header: e.header, signature: e.signature });
    const all = writer.log.entries();
    await replica.receive(patient.identity.did, vault, [all[0]!, headerOnly(delegation)]);
    expect(added.filter((id) => id === delegation.id)).toHaveLength(1);
    // The body arrives (once kept), then again (nothing new).
    await replica.receive(patient.identity.did, vault, [delegation]);
    await replica.receive(patient.identity.did, vault, [delegation]);
    expect(added.filter((id) => id === delegation.id)).toHaveLength(2);
    expect(replica.log(vault)!.entry(delegation.id)?.body).toBeDefined();
  });

  it('refuses an entry the sender itself signed without authority, keeping it flagged and without effect', async () => {
    await grant(provider.identity, ['labs']);
    await providerSync.exchange(patient.node.getMultiaddrs(), vault);
    // The provider (a grantee) signs a delegation that would make it a guardian.
    const forged = await forge(providerLog, provider.identity, 'delegate', { delegate: provider.identity.did, role: 'guardian', expires: null, scopes: [], wait: null, keys: [] }, { ts: clock + 1 });
    const verdict = await patientReplica.receive(provider.identity.did, vault, [forged]);
    expect(verdict).toMatchObject({ ok: false, code: 'INVALID_ENTRY', entryId: forged.id, detail: expect.stringMatching(/^UNAUTHORIZED: /) });
    expect(writer.log.statusOf(forged.id)).toBe('unauthorized');
    expect(writer.log.entitlement(provider.identity.did, 'summary', clock + 2).entitled).toBe(false);
  });

  it('does not hold against a peer an unauthorized entry of someone else that it forwards', async () => {
    await grant(provider.identity, ['labs']);
    await grant(other, ['summary']);
    await providerSync.exchange(patient.node.getMultiaddrs(), vault);
    const forged = await forge(providerLog, other, 'delegate', { delegate: other.did, role: 'guardian', expires: null, scopes: [], wait: null, keys: [] }, { ts: clock + 1 });
    expect(await patientReplica.receive(provider.identity.did, vault, [forged])).toEqual({ ok: true, added: 1 });
    expect(writer.log.statusOf(forged.id)).toBe('unauthorized');
  });

  it('refuses to replicate with a stranger', async () => {
    const [stranger] = await startPeers(1);
    peers.push(stranger!);
    const strangerReplica = new GrantLogReplica({ identity: stranger!.identity });
    strangerReplica.track(new LogVerifier({ vault }), [patient.identity.did]);
    const sync = new LogSync({ host: stranger!.node }, { replica: strangerReplica });
    await expect(sync.exchange(patient.node.getMultiaddrs(), vault)).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
  });
});
