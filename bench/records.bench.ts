/**
 * Benchmarks of the record store (issue 5). Each measures ours against a baseline in the same run,
 * alternating the two (see harness.ts), on a real on-disk store (LevelDB through src/store's Vault).
 *
 * - `store_10k`: 10,000 generated, already validated resources into a fresh vault: scope assignment,
 *   sealing, the Automerge documents, the sealed indexes, one atomic LevelDB batch. Baseline: the
 *   same resources as plain JSON, one vault record each, in one batch, into a fresh vault.
 *   ratio = ours / baseline; goal ≤ 2.
 * - `store_10k_layout`: the part of `store_10k` that the storage layout itself costs, with
 *   nothing of ours around it: the same 10,000 resources as record envelopes (same fields; the
 *   content hash field filled, not computed), each sealed with its scope key under its keyed slot,
 *   put into one new segment of one Automerge document per scope, one commit, the document saved
 *   and written in one batch. No scope rules, content hashing, matching or indexes. Same baseline
 *   as `store_10k`. A report, not a goal: it is the floor `store_10k` cannot go under (the
 *   document hashes every sealed byte on commit and again on save).
 * - `import_10k`: the whole import of the same resources from a Bundle file (read, parse, validate,
 *   scope, store). Baseline: the validator alone (`validateResources`) over the same resources.
 *   Goal ≤ 1.5: validation may dominate, nothing else may.
 * - `open_10k`: open the vault (unlock with the same weak test KDF on both sides, not upgraded) and
 *   list the timeline (10,000 lines, sorted, from the sealed indexes). Baseline: open and read the
 *   plain JSON records back (each opened and parsed). Goal ≤ 2. The scope documents themselves load
 *   lazily, on first use; `open_10k_docs` measures open plus loading every scope document too.
 * - `shc_verify`: SMART Health Cards verified per second (verifyCard: JWS parse, inflate, payload
 *   checks, ES256 with a trusted issuer key). Baseline: raw WebCrypto ES256 verifications per second
 *   of the same JWS; ratio = the share of raw signature speed that full verification keeps.
 */
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assignScope, parseImport, validateResources, TrustedIssuers, verifyCard, type ImportedResource } from '../src/records/index.js';
import { RecordStore } from '../src/records/store/record-store.js';
import { randomBytes, toHex } from '../src/crypto/index.js';
import { planSave } from '../src/records/store/doc-persistence.js';
import { createKeyring, scopeKeys } from '../src/records/store/keyring.js';
import { sealRecords, slotOf } from '../src/records/store/record-codec.js';
import { DocWriter, ScopeDocument, newActorId } from '../src/records/store/scope-doc.js';
import type { RecordEnvelope, RecordKey, ScopeName, Slot } from '../src/records/store/types.js';
import { timeline } from '../src/records/store/queries.js';
import { openLevelDbStorage, Vault, WEAK_TEST_KDF_COST, type Storage } from '../src/store/index.js';
import { generatePatientBundle } from '../test/fixtures/generator.js';
import { createIssuer, shcBundle, signHealthCard } from '../test/fixtures/shc-issuer.js';
import { median, perSecond, timeOnce, type Benchmark } from './harness.js';

const N = 10_000;
const PASSPHRASE = 'benchmark passphrase, not a secret';
const NOW = new Date('2025-07-01T00:00:00Z');
const ITERATIONS = 5;

interface Fixture {
  dir: string;
  bundleFile: string;
  bundleBytes: Uint8Array;
  resources: ImportedResource[];
}
let fixture: Promise<Fixture> | undefined;

/** Generates and parses the 10k patient once for all benchmarks (not timed). */
function getFixture(): Promise<Fixture> {
  fixture ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pv-bench-records-'));
    const { bundle } = generatePatientBundle({ resources: N, seed: 11 });
    const bundleFile = join(dir, 'bundle.json');
    await writeFile(bundleFile, JSON.stringify(bundle));
    const bundleBytes = new Uint8Array(await readFile(bundleFile));
    const { resources } = await parseImport(bundleBytes, { now: NOW });
    if (resources.length < N) throw new Error(`generator made ${resources.length} resources, expected ≥ ${N}`);
    return { dir, bundleFile, bundleBytes, resources };
  })();
  return fixture;
}

let vaultCounter = 0;
async function freshVault(f: Fixture): Promise<{ vault: Vault; storage: Storage; path: string }> {
  const path = join(f.dir, `vault-${vaultCounter++}`);
  const storage = await openLevelDbStorage(path, { create: true });
  const vault = await Vault.create(storage, PASSPHRASE, { kdfCost: WEAK_TEST_KDF_COST, allowWeakKdf: true });
  return { vault, storage, path };
}

async function storePlainJson(vault: Vault, resources: readonly ImportedResource[]): Promise<void> {
  const encoder = new TextEncoder();
  await vault.batchSealed(resources.map((r, i) => ({ type: 'put' as const, key: `plain/${String(i).padStart(6, '0')}`, value: encoder.encode(JSON.stringify(r.resource)) })));
}

/**
 * Times `measured` and `baseline` alternately, each on a fresh setup made untimed before it, and
 * returns the medians. `check` runs on each result so a broken side fails loudly.
 */
async function pairWithSetup<S>(setup: () => Promise<S>, measured: (s: S) => Promise<unknown>, baseline: (s: S) => Promise<unknown>, teardown: (s: S) => Promise<void>): Promise<{ value: number; baseline: number }> {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < ITERATIONS + 1; i++) {
    const order = i % 2 === 0 ? ([measured, baseline] as const) : ([baseline, measured] as const);
    for (const fn of order) {
      const s = await setup();
      const ms = await timeOnce(() => fn(s));
      await teardown(s);
      if (i === 0) continue; // warm-up round
      (fn === measured ? a : b).push(ms);
    }
  }
  return { value: median(a), baseline: median(b) };
}

async function closeAndRemove(s: { storage: Storage; path: string }): Promise<void> {
  await s.storage.close();
  await rm(s.path, { recursive: true, force: true });
}

const store10k: Benchmark = {
  name: 'store_10k',
  unit: 'ms',
  goal: 'ratio ≤ 2 (vs plain JSON records in one batch)',
  async run() {
    const f = await getFixture();
    const resources = f.resources.slice(0, N);
    return pairWithSetup(
      () => freshVault(f),
      async ({ vault }) => {
        const items = resources.map((r) => ({ ...r, scope: assignScope(r.resource).scope }));
        const store = await RecordStore.open(vault);
        const result = await store.importResources(items);
        const added = Object.values(result.counts).reduce((n, c) => n + c.added, 0);
        if (added !== N) throw new Error(`stored ${added} of ${N}`);
      },
      ({ vault }) => storePlainJson(vault, resources),
      closeAndRemove,
    );
  },
};

const store10kLayout: Benchmark = {
  name: 'store_10k_layout',
  unit: 'ms',
  goal: 'report (the floor of store_10k: the storage layout alone)',
  async run() {
    const f = await getFixture();
    const resources = f.resources.slice(0, N);
    const at = NOW.toISOString();
    return pairWithSetup(
      () => freshVault(f),
      async ({ vault }) => {
        const keyring = createKeyring(toHex(randomBytes(16)));
        const byScope = new Map<ScopeName, { slot: Slot; envelope: RecordEnvelope }[]>();
        for (const r of resources) {
          const scope = r.scope;
          const key = `${r.resource.resourceType}/${r.resource.id!}` as RecordKey;
          const envelope: RecordEnvelope = { f: 1, key, ver: globalThis.crypto.randomUUID().replaceAll('-', ''), n: 1, prev: [], at, resource: r.resource as unknown as RecordEnvelope['resource'], prov: r.provenance, src: [r.sourceKey, ...(r.aliases ?? [])], hash: 'ab'.repeat(32) };
          const list = byScope.get(scope) ?? [];
          list.push({ slot: slotOf(scopeKeys(keyring, scope).indexKey, key), envelope });
          byScope.set(scope, list);
        }
        const ops = [];
        for (const [scope, jobs] of byScope) {
          const sealed = await sealRecords({ vaultId: keyring.vaultId, scope, keys: scopeKeys(keyring, scope) }, jobs);
          const doc = ScopeDocument.create(newActorId());
          const writer = new DocWriter(undefined);
          jobs.forEach((job, i) => writer.putCurrent(job.slot, sealed[i]!));
          writer.apply(doc, NOW);
          ops.push(...planSave(doc, undefined, scope).ops);
          doc.free();
        }
        await vault.batchSealed(ops);
      },
      ({ vault }) => storePlainJson(vault, resources),
      closeAndRemove,
    );
  },
};

const import10k: Benchmark = {
  name: 'import_10k',
  unit: 'ms',
  goal: 'ratio ≤ 1.5 (vs the validator alone)',
  async run() {
    const f = await getFixture();
    const bundle = JSON.parse(new TextDecoder().decode(f.bundleBytes)) as { entry: { resource: unknown }[] };
    const raw = bundle.entry.map((e) => e.resource);
    return pairWithSetup(
      () => freshVault(f),
      async ({ vault }) => {
        const bytes = new Uint8Array(await readFile(f.bundleFile));
        const parsed = await parseImport(bytes, { now: NOW });
        const store = await RecordStore.open(vault);
        const result = await store.importResources(parsed.resources);
        if (result.keys.length !== raw.length) throw new Error(`imported ${result.keys.length} of ${raw.length}`);
      },
      async () => {
        const problems = await validateResources(raw);
        if (problems.length > 0) throw new Error(`validator found ${problems.length} problems in generated data`);
      },
      closeAndRemove,
    );
  },
};

async function filledVault(f: Fixture): Promise<{ path: string }> {
  const { vault, storage, path } = await freshVault(f);
  const store = await RecordStore.open(vault);
  await store.importResources(f.resources.slice(0, N));
  await storePlainJson(vault, f.resources.slice(0, N));
  await storage.close();
  return { path };
}

function openBench(name: string, loadDocs: boolean): Benchmark {
  return {
    name,
    unit: 'ms',
    goal: 'ratio ≤ 2 (vs reading the plain JSON back)',
    async run() {
      const f = await getFixture();
      const { path } = await filledVault(f);
      const open = async (): Promise<{ vault: Vault; storage: Storage }> => {
        const storage = await openLevelDbStorage(path);
        // The weak test KDF on both sides, kept as it is (no upgrade at unlock): the comparison is
        // about records, not about Argon2id.
        const vault = await Vault.open(storage, { allowWeakKdf: true, kdfCost: WEAK_TEST_KDF_COST });
        await vault.unlock(PASSPHRASE);
        return { vault, storage };
      };
      try {
        return await pairWithSetup(
          () => Promise.resolve(undefined),
          async () => {
            const { vault, storage } = await open();
            const store = await RecordStore.open(vault);
            if (loadDocs && (await store.loadDocuments()) === 0) throw new Error('no scope document loaded');
            const lines = timeline(store);
            if (lines.length !== N) throw new Error(`listed ${lines.length} of ${N}`);
            await storage.close();
          },
          async () => {
            const { vault, storage } = await open();
            const decoder = new TextDecoder();
            let n = 0;
            for await (const { value } of vault.rangeSealed('plain/')) {
              JSON.parse(decoder.decode(value));
              n++;
            }
            if (n !== N) throw new Error(`read ${n} of ${N}`);
            await storage.close();
          },
          () => Promise.resolve(undefined),
        );
      } finally {
        await rm(path, { recursive: true, force: true });
      }
    },
  };
}

const shcVerify: Benchmark = {
  name: 'shc_verify',
  unit: 'cards/s',
  goal: 'report (ratio = share of raw ES256 verify speed)',
  async run() {
    const issuer = await createIssuer();
    const cards = await Promise.all(Array.from({ length: 200 }, (_, i) => signHealthCard(issuer, shcBundle(2, i + 1))));
    const trust = new TrustedIssuers();
    trust.addJwks(issuer.iss, issuer.jwks);
    const key = await globalThis.crypto.subtle.importKey('jwk', issuer.publicJwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    const encoder = new TextEncoder();
    const split = cards.map((jws) => {
      const [h, p, s] = jws.split('.');
      return { input: encoder.encode(`${h}.${p}`), sig: Buffer.from(s!, 'base64url') };
    });
    const now = new Date();
    const ours: number[] = [];
    const raw: number[] = [];
    for (let round = 0; round < ITERATIONS + 1; round++) {
      const a = await timeOnce(async () => {
        for (const jws of cards) if (!(await verifyCard(jws, { trust, now })).verified) throw new Error('card did not verify');
      });
      const b = await timeOnce(async () => {
        for (const { input, sig } of split) {
          if (!(await globalThis.crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, sig, input))) throw new Error('raw verify failed');
        }
      });
      if (round === 0) continue;
      ours.push(a);
      raw.push(b);
    }
    return { value: perSecond(cards.length, median(ours)), baseline: perSecond(cards.length, median(raw)) };
  },
};

export const benchmarks: Benchmark[] = [store10k, store10kLayout, import10k, openBench('open_10k', false), openBench('open_10k_docs', true), shcVerify];
