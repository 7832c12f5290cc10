/**
 * Benchmarks of peer-to-peer sync (issue 6). Every figure is measured against a baseline in the
 * same run (see harness.ts).
 *
 * - `first_sync_10k`: a new provider receives 10,000 generated resources of two scopes (labs: the
 *   Observations and DiagnosticReports; summary: the rest) from the patient's node over real libp2p
 *   (TCP loopback, Noise, Yamux; two nodes in this process): dial, the doc protocol for both scopes
 *   at once (a snapshot, then a confirming sync round), and opening every sealed resource. Each
 *   resource is one AES-GCM sealed Uint8Array in sharded maps (ARCHITECTURE.md "Vault and scopes").
 *   Baseline: @automerge/automerge-repo 2.5.6 syncing the same resources as plain JSON (one document
 *   per scope, the straightforward use) between two repos in this process over its MessageChannel
 *   adapter, until both documents are complete on the second repo. Unit: resources/s, so
 *   ratio = ours / automerge-repo = their time / our time. Goal ≥ 10.
 * - `incremental_sync` / `incremental_sync_p95`: one new sealed resource added on the patient's
 *   side reaches a provider holding a live doc session (2,000-resource scope), 100 updates; p50 and
 *   p95 in ms. Baseline: the same changes carried between two in-memory Automerge documents by
 *   direct sync-message exchange (no network, no framing): ratio = the cost of the wire. Goal: p50 ≤ 100 ms.
 * - `revoke_to_cutoff`: from the patient writing a `revoke` entry (real src/grants log, signed) to
 *   the provider's live doc stream being closed by the patient's node (which re-checks the grant).
 *   Baseline: a libp2p ping round trip between the same two nodes (the floor of any remote
 *   notification). Median of 20.
 */
import * as Automerge from '@automerge/automerge';
import { Repo } from '@automerge/automerge-repo';
import { MessageChannelNetworkAdapter } from '@automerge/automerge-repo-network-messagechannel';
import { MessageChannel } from 'node:worker_threads';
import { generateIdentity, generateKey, open, seal, sha256, toHex, utf8, type Identity, type SymmetricKey } from '../src/crypto/index.js';
import { LogWriter, type LogVerifier, type ScopeName } from '../src/grants/index.js';
import { createNodeLibp2p, DocSync, DocumentHandle, type SyncLibp2p } from '../src/sync/index.js';
import { generatePatientBundle } from '../test/fixtures/generator.js';
import { median, perSecond, timeOnce, type Benchmark } from './harness.js';

const N = 10_000;

type Resource = { resourceType: string; id?: string } & Record<string, unknown>;
type SealedScope = { shards: Record<string, Record<string, Uint8Array>> };

/** 10,000 generated resources split into the two scopes. */
function resources(): Record<'labs' | 'summary', Resource[]> {
  const { bundle } = generatePatientBundle({ resources: N + 200, attachmentEvery: 0, seed: 6 });
  const all = (bundle.entry ?? []).map((e) => e.resource as Resource).slice(0, N);
  if (all.length < N) throw new Error(`generator gave ${all.length} resources, wanted ${N}`);
  const labs = all.filter((r) => r.resourceType === 'Observation' || r.resourceType === 'DiagnosticReport');
  return { labs, summary: all.filter((r) => !labs.includes(r)) };
}

function associatedData(scope: string, key: string): Uint8Array {
  return utf8(`vault:bench/scope:${scope}/record:${key}`);
}

/** A scope document of sealed resources, built outside the change proxy (STACK.md: much faster). */
async function sealedScope(scope: string, list: readonly Resource[], key: SymmetricKey): Promise<Automerge.Doc<SealedScope>> {
  const shards: Record<string, Record<string, Uint8Array>> = {};
  await Promise.all(
    list.map(async (resource, i) => {
      const id = toHex(sha256(utf8(`${resource.resourceType}/${resource.id ?? i}`))).slice(0, 32);
      const sealed = await seal(key, utf8(JSON.stringify(resource)), associatedData(scope, id));
      (shards[id.slice(0, 2)] ??= {})[id] = sealed;
    }),
  );
  return Automerge.from<SealedScope>({ shards });
}

/** Opens every sealed value of a scope document; returns how many. */
async function openAll(scope: string, doc: Automerge.Doc<SealedScope>, key: SymmetricKey): Promise<number> {
  const jobs: Promise<unknown>[] = [];
  for (const shard of Object.values(doc.shards ?? {})) {
    for (const [id, sealed] of Object.entries(shard)) jobs.push(open(key, sealed, associatedData(scope, id)).then((bytes) => JSON.parse(new TextDecoder().decode(bytes)) as unknown));
  }
  await Promise.all(jobs);
  return jobs.length;
}

async function node(identity: Identity): Promise<SyncLibp2p> {
  return createNodeLibp2p({ identity, listen: ['/ip4/127.0.0.1/tcp/0'] });
}

/** automerge-repo: the same resources as plain JSON, one document per scope, over MessageChannel. */
async function automergeRepoFirstSync(data: Record<'labs' | 'summary', Resource[]>): Promise<number> {
  const { port1, port2 } = new MessageChannel();
  const a = new Repo({ network: [new MessageChannelNetworkAdapter(port1 as unknown as MessagePort)] });
  const b = new Repo({ network: [new MessageChannelNetworkAdapter(port2 as unknown as MessagePort)] });
  const handles = (['labs', 'summary'] as const).map((scope) => a.create<{ resources: Record<string, Resource> }>({ resources: Object.fromEntries(data[scope].map((r, i) => [`${r.resourceType}/${r.id ?? i}`, r])) }));
  const ms = await timeOnce(async () => {
    const found = await Promise.all(handles.map((h) => b.find<{ resources: Record<string, Resource> }>(h.url)));
    const counts = found.map((h) => Object.keys(h.doc().resources).length);
    if (counts[0]! + counts[1]! !== N) throw new Error(`automerge-repo delivered ${counts.join('+')} of ${N}`);
  });
  await a.shutdown();
  await b.shutdown();
  port1.close();
  port2.close();
  return ms;
}

let automergeRepoBaseline: Promise<number> | undefined;
/** automerge-repo's time for the 10,000 resources, measured once per run and shared by both first-sync benchmarks. */
function automergeRepoMs(): Promise<number> {
  return (automergeRepoBaseline ??= automergeRepoFirstSync(resources()));
}

const firstSync: Benchmark = {
  name: 'first_sync_10k',
  unit: 'resources/s',
  goal: 'ratio ≥ 10 (ours vs automerge-repo plain JSON over MessageChannel)',
  async run() {
    const data = resources();
    const keys = { labs: generateKey(), summary: generateKey() };
    const docs = {
      labs: new DocumentHandle<SealedScope>(await sealedScope('labs', data.labs, keys.labs)),
      summary: new DocumentHandle<SealedScope>(await sealedScope('summary', data.summary, keys.summary)),
    };
    const patient = await node(generateIdentity());
    const server = new DocSync({ host: patient }, { authorize: () => 'read', resolve: (_v, doc) => docs[doc as 'labs' | 'summary'] });
    await server.start();
    const ours: number[] = [];
    for (let round = 0; round < 2; round++) {
      const provider = await node(generateIdentity());
      const client = new DocSync({ host: provider }, { authorize: () => false, resolve: () => undefined });
      ours.push(
        await timeOnce(async () => {
          const opened = await Promise.all(
            (['labs', 'summary'] as const).map(async (scope) => {
              const mine = new DocumentHandle<SealedScope>();
              const session = await client.sync(patient.getMultiaddrs(), { vault: 'bench', doc: scope, target: mine });
              await session.synced();
              return openAll(scope, mine.current(), keys[scope]);
            }),
          );
          if (opened[0]! + opened[1]! !== N) throw new Error(`ours delivered ${opened.join('+')} of ${N}`);
        }),
      );
      await provider.stop();
    }
    await patient.stop();
    const theirs = await automergeRepoMs();
    return { value: perSecond(N, median(ours)), baseline: perSecond(N, theirs) };
  },
};

interface IncrementalFigures {
  p50: number;
  p95: number;
  baseP50: number;
  baseP95: number;
}
let incremental: Promise<IncrementalFigures> | undefined;

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measureIncremental(): Promise<IncrementalFigures> {
  const UPDATES = 100;
  const key = generateKey();
  const { labs } = resources();
  const base = await sealedScope('labs', labs.slice(0, 2000), key);
  const newResources = await Promise.all(Array.from({ length: UPDATES }, (_, i) => seal(key, utf8(JSON.stringify({ ...labs[i], id: `new-${i}` })), associatedData('labs', `new-${i}`))));

  // Ours: a live doc session over libp2p.
  const patientDoc = new DocumentHandle<SealedScope>(Automerge.clone(base));
  const patient = await node(generateIdentity());
  const provider = await node(generateIdentity());
  await new DocSync({ host: patient }, { authorize: () => 'read', resolve: () => patientDoc }).start();
  const providerDoc = new DocumentHandle<SealedScope>(Automerge.clone(base));
  const session = await new DocSync({ host: provider }, { authorize: () => false, resolve: () => undefined }).sync(patient.getMultiaddrs(), { vault: 'bench', doc: 'labs', target: providerDoc, live: true });
  await session.synced();
  const ours: number[] = [];
  for (let i = 0; i < UPDATES; i++) {
    const id = `new-${i}`;
    ours.push(
      await timeOnce(
        () =>
          new Promise<void>((resolve) => {
            const off = providerDoc.subscribe(() => {
              if (providerDoc.current().shards[id.slice(-2)]?.[id] !== undefined) {
                off();
                resolve();
              }
            });
            patientDoc.change((d) => {
              // Assign then index through the proxy: `(d.x ??= {})[k] = v` would write into a plain
              // object Automerge has already copied.
              d.shards[id.slice(-2)] ??= {};
              d.shards[id.slice(-2)]![id] = newResources[i]!;
            });
          }),
      ),
    );
  }
  await session.close();
  await provider.stop();
  await patient.stop();

  // Baseline: the same changes between two in-memory documents, sync messages handed over directly.
  let a = Automerge.clone(base);
  let b = Automerge.clone(base);
  let sa = Automerge.initSyncState();
  let sb = Automerge.initSyncState();
  const exchange = (): void => {
    for (;;) {
      let msg: Uint8Array | null;
      [sa, msg] = Automerge.generateSyncMessage(a, sa);
      if (msg) [b, sb] = Automerge.receiveSyncMessage(b, sb, msg);
      let back: Uint8Array | null;
      [sb, back] = Automerge.generateSyncMessage(b, sb);
      if (back) [a, sa] = Automerge.receiveSyncMessage(a, sa, back);
      if (!msg && !back) return;
    }
  };
  exchange();
  const direct: number[] = [];
  for (let i = 0; i < UPDATES; i++) {
    const id = `base-${i}`;
    direct.push(
      await timeOnce(() => {
        a = Automerge.change(a, (d) => {
          d.shards[id.slice(-2)] ??= {};
          d.shards[id.slice(-2)]![id] = newResources[i]!;
        });
        exchange();
        if (b.shards[id.slice(-2)]?.[id] === undefined) throw new Error('baseline change did not arrive');
      }),
    );
  }
  return { p50: percentile(ours, 50), p95: percentile(ours, 95), baseP50: percentile(direct, 50), baseP95: percentile(direct, 95) };
}

const incrementalP50: Benchmark = {
  name: 'incremental_sync',
  unit: 'ms',
  goal: 'p50 ≤ 100 ms (ratio: vs in-memory sync without network)',
  async run() {
    const f = await (incremental ??= measureIncremental());
    return { value: f.p50, baseline: f.baseP50 };
  },
};

const incrementalP95: Benchmark = {
  name: 'incremental_sync_p95',
  unit: 'ms',
  goal: 'reported (p95 of the same 100 updates)',
  async run() {
    const f = await (incremental ??= measureIncremental());
    return { value: f.p95, baseline: f.baseP95 };
  },
};

const revokeToCutoff: Benchmark = {
  name: 'revoke_to_cutoff',
  unit: 'ms',
  goal: 'reported (ratio: vs one ping round trip)',
  async run() {
    const ROUNDS = 20;
    const patientId = generateIdentity();
    const providerId = generateIdentity();
    let now = Date.now();
    const { writer } = await LogWriter.createVault(patientId, { subject: patientId.did, devices: [patientId.did], delegates: [], label: null }, now);
    const log: LogVerifier = writer.log;
    const doc = new DocumentHandle<SealedScope>(Automerge.from<SealedScope>({ shards: { aa: { x: new Uint8Array(32) } } }));
    const patient = await node(patientId);
    const provider = await node(providerId);
    const server = new DocSync(
      { host: patient },
      { authorize: (remote, _vault, scope) => (log.entitlement(remote, scope as ScopeName, Date.now()).entitled ? 'read' : false), resolve: () => doc },
    );
    await server.start();
    const client = new DocSync({ host: provider }, { authorize: () => false, resolve: () => undefined });
    const cutoffs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      now = Math.max(Date.now(), now + 1);
      const grant = await writer.append(patientId, 'grant', { grantee: providerId.did, scopes: ['labs'], actions: ['read'], purpose: 'treatment', expires: null, keys: [] }, { ts: now });
      const session = await client.sync(patient.getMultiaddrs(), { vault: log.vault, doc: 'labs', target: new DocumentHandle(), live: true });
      await session.synced();
      cutoffs.push(
        await timeOnce(async () => {
          await writer.append(patientId, 'revoke', { grant: grant.id, reason: null }, { ts: Date.now() });
          await server.reauthorize();
          const end = await session.closed();
          if (end.code !== 'AUTHORIZATION_ENDED') throw new Error(`stream ended with ${end.code ?? 'no code'}`);
        }),
      );
    }
    const pings: number[] = [];
    for (let i = 0; i < ROUNDS; i++) pings.push(await provider.services.ping.ping(patient.getMultiaddrs()));
    await provider.stop();
    await patient.stop();
    return { value: median(cutoffs), baseline: Math.max(0.1, median(pings)) };
  },
};

/**
 * `first_sync_10k_engine`: the same 10,000 resources, end to end through the engines: the patient's
 * src/records RecordStore holds them (labs and summary), and a new provider's VaultNode redeems an
 * invitation, receives and verifies the log, syncs both scope documents and hands them to its own
 * RecordStore, which opens and indexes every resource. Same baseline as `first_sync_10k`.
 */
const firstSyncEngine: Benchmark = {
  name: 'first_sync_10k_engine',
  unit: 'resources/s',
  goal: 'reported (ratio vs automerge-repo plain JSON over MessageChannel; first_sync_10k is the sync layer alone)',
  async run() {
    const { startDevice } = await import('../test/integration/sync-helpers.js');
    const { parseImport } = await import('../src/records/index.js');
    // The generated bundle itself (its fullUrls keep references resolvable), first 10,000 resources.
    const { bundle } = generatePatientBundle({ resources: N + 200, attachmentEvery: 0, seed: 6 });
    const parsed = await parseImport(JSON.stringify(bundle), { now: new Date(), partial: true });
    const items = parsed.resources.slice(0, N).map((r) => ({ ...r, scope: (r.resource.resourceType === 'Observation' || r.resource.resourceType === 'DiagnosticReport' ? 'labs' : 'summary') }));
    if (items.length < N) throw new Error(`only ${items.length} resources imported`);
    const patient = await startDevice();
    await patient.node.createVault(null);
    await patient.node.editRecords(['labs', 'summary'], async (records) => (records as unknown as { importResources(i: unknown): Promise<unknown> }).importResources(items));
    patient.node.addEventListener('request', (e) => void patient.node.approve((e as CustomEvent<{ id: string }>).detail.id));
    const ours: number[] = [];
    for (let round = 0; round < 2; round++) {
      const provider = await startDevice();
      const invitation = await patient.node.invite(patient.address());
      ours.push(
        await timeOnce(async () => {
          const pulled = await provider.node.redeem(invitation, { name: 'Bench clinic', scopes: ['labs', 'summary'], purpose: 'treatment', days: 1 });
          const stats = ((await provider.node.sharedRecords(pulled.vault)) as unknown as { stats(): Record<string, { records: number }> }).stats();
          const received = (stats.labs?.records ?? 0) + (stats.summary?.records ?? 0);
          if (received !== items.length) throw new Error(`the provider holds ${received} of ${items.length}`);
        }),
      );
      await provider.stop();
    }
    await patient.stop();
    return { value: perSecond(items.length, median(ours)), baseline: perSecond(N, await automergeRepoMs()) };
  },
};

export const benchmarks: Benchmark[] = [firstSync, firstSyncEngine, incrementalP50, incrementalP95, revokeToCutoff];
