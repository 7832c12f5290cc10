/**
 * Benchmarks of src/grants (issue 4). All logs are synthetic (generateSyntheticLog: real signing
 * and verification, keys derived from a seed).
 *
 * - `log_verify_full`: verify a 10,000-entry log from scratch (`verify(entries, { now })`), in
 *   entries/s. Goal ≥ 10,000/s. Baseline, timed alternately in the same run: raw WebCrypto
 *   checking the same 10,000 signatures alone (subtle.verify, 64 in flight, keys imported
 *   beforehand), so ratio = full verification (parsing, hashing, signatures, links, authority,
 *   tree) against raw WebCrypto signature throughput. Under Node the verifier checks signatures
 *   through node:crypto (same OpenSSL, less per-call overhead), so the ratio can exceed 1.
 * - `log_verify_incremental`: ms to add 100 new entries to a verified 10,000-entry log (each
 *   sample takes the next 100 of a longer log, so n grows from 10,000 to ~12,400 over the run),
 *   against adding 100 new entries to a verified 100-entry log. ratio = big / small; goal ≤ 1.5
 *   (the cost must not grow with n).
 * - `merkle_proof`: µs per proof round on the 10,000-entry log's tree: an inclusion proof of a
 *   random entry and a consistency proof from a random older size, each generated and checked.
 *   Baseline: recomputing the tree root from all 10,000 leaves (what a party without proofs must
 *   do), so ratio = how small a proof is next to recomputation.
 */
import {
  LogVerifier,
  MerkleTree,
  vaultOf,
  generateSyntheticLog,
  leafHash,
  verify,
  verifyConsistency,
  verifyInclusion,
  type SignedEntry,
} from '../src/grants/index.js';
import { decodeHeader, entryIdOf, entrySigningMessage } from '../src/grants/entry.js';
import { fromBase64Url, publicKeyFromDid, toHex, type SignedMessage } from '../src/crypto/index.js';
import { median, perSecond, timeOnce, timePair, type Benchmark } from './harness.js';

const FULL = 10_000;
const BATCH = 100;
const BATCHES = 24;
const YEAR = 365 * 24 * 60 * 60 * 1000;
const END = Date.UTC(2026, 0, 1);

interface Fixture {
  /** 10,000 + 24 × 100 entries in log order. */
  readonly big: readonly SignedEntry[];
  readonly now: number;
}

let fixture: Promise<Fixture> | undefined;
function load(): Promise<Fixture> {
  fixture ??= (async () => {
    const synthetic = await generateSyntheticLog({ entries: FULL + BATCH * BATCHES, start: END - YEAR, end: END, seed: 'bench/grants' });
    return { big: synthetic.log.entries(), now: END };
  })();
  return fixture;
}

/** Fresh header arrays, so no per-array memo of an earlier run can help a timed one. */
function fresh(entries: readonly SignedEntry[]): SignedEntry[] {
  return entries.map((e) => (e.body === undefined ? { header: new Uint8Array(e.header), signature: e.signature } : { header: new Uint8Array(e.header), signature: e.signature, body: e.body }));
}

/**
 * The baseline as the issue defines it: raw WebCrypto Ed25519 verification of the same 10,000
 * signatures (keys imported beforehand, 64 checks in flight, nothing else). Called directly, not
 * through src/crypto: under Node, src/crypto's verifyBatch now uses node:crypto (the same OpenSSL
 * without WebCrypto's per-call promise), and the baseline must stay raw WebCrypto.
 */
async function rawWebCryptoChecks(items: readonly SignedMessage[]): Promise<() => Promise<void>> {
  const keys = new Map<string, CryptoKey>();
  for (const item of items) {
    const hex = toHex(item.publicKey);
    if (!keys.has(hex)) keys.set(hex, await crypto.subtle.importKey('raw', item.publicKey.slice(), { name: 'Ed25519' }, false, ['verify']));
  }
  const prepared = items.map((item) => ({ key: keys.get(toHex(item.publicKey))!, message: item.message as Uint8Array<ArrayBuffer>, signature: item.signature as Uint8Array<ArrayBuffer> }));
  return async () => {
    let next = 0;
    let failed = 0;
    const worker = async (): Promise<void> => {
      while (next < prepared.length) {
        const item = prepared[next++]!;
        if (!(await crypto.subtle.verify('Ed25519', item.key, item.signature, item.message))) failed++;
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    if (failed > 0) throw new Error('a signature of the benchmark log did not verify');
  };
}

const logVerifyFull: Benchmark = {
  name: 'log_verify_full',
  unit: 'entries/s',
  goal: '≥ 10,000 entries/s (ratio = share of raw WebCrypto signature throughput)',
  async run() {
    const { big, now } = await load();
    const entries = big.slice(0, FULL);
    const items: SignedMessage[] = entries.map((e) => ({ publicKey: publicKeyFromDid(decodeHeader(e.header).author), message: entrySigningMessage(e.header), signature: e.signature }));
    const baseline = await rawWebCryptoChecks(items);
    const warmup = 1;
    const iterations = 5;
    // Fresh copies for every run, made before timing: copying 10,000 entries is not verification.
    const copies = Array.from({ length: warmup + iterations }, () => fresh(entries));
    const ms = await timePair(
      async () => {
        const verdict = await verify(copies.shift()!, { now });
        if (!verdict.valid || verdict.size !== FULL) throw new Error(`the benchmark log did not verify: ${verdict.problems[0]?.code ?? verdict.size}`);
      },
      baseline,
      { warmup, iterations },
    );
    return { value: perSecond(FULL, ms.value), baseline: perSecond(FULL, ms.baseline) };
  },
};

const logVerifyIncremental: Benchmark = {
  name: 'log_verify_incremental',
  unit: 'ms',
  goal: 'ratio ≤ 1.5 (100 new entries on 10,000 vs on 100)',
  async run() {
    const { big } = await load();
    const large = new LogVerifier({ vault: vaultOf(big)! });
    await large.add(fresh(big.slice(0, FULL)));
    if (large.size !== FULL) throw new Error('the 10,000-entry log did not verify');
    // The small side: a separate 200-entry log whose first 100 entries are verified (untimed) anew
    // before each sample, so every small sample adds 100 entries to a verified 100-entry log.
    const small = await generateSyntheticLog({ entries: 2 * BATCH, start: END - YEAR, end: END, seed: 'bench/grants-small' });
    const smallEntries = small.log.entries();
    const largeMs: number[] = [];
    const smallMs: number[] = [];
    let next = FULL;
    const addLarge = async (): Promise<number> => {
      const batch = fresh(big.slice(next, next + BATCH));
      next += BATCH;
      const ms = await timeOnce(async () => {
        const result = await large.add(batch);
        if (result.added.length !== BATCH) throw new Error(`only ${result.added.length} of ${BATCH} entries joined the large log`);
      });
      return ms;
    };
    const addSmall = async (): Promise<number> => {
      const log = new LogVerifier({ vault: small.vault });
      await log.add(fresh(smallEntries.slice(0, BATCH)));
      const batch = fresh(smallEntries.slice(BATCH));
      return timeOnce(async () => {
        const result = await log.add(batch);
        if (result.added.length !== BATCH) throw new Error(`only ${result.added.length} of ${BATCH} entries joined the small log`);
      });
    };
    // Warm up once, then alternate (A, B, B, A, …) as the harness's timePair does.
    await addLarge();
    await addSmall();
    for (let i = 0; i < BATCHES - 1; i++) {
      if (i % 2 === 0) {
        largeMs.push(await addLarge());
        smallMs.push(await addSmall());
      } else {
        smallMs.push(await addSmall());
        largeMs.push(await addLarge());
      }
    }
    return { value: median(largeMs), baseline: median(smallMs) };
  },
};

const merkleProof: Benchmark = {
  name: 'merkle_proof',
  unit: 'µs',
  goal: 'per proof round (inclusion + consistency, generated and checked); ratio vs recomputing the root',
  async run() {
    const { big } = await load();
    const ids = big.slice(0, FULL).map((e) => fromBase64Url(entryIdOf(e.header, e.signature)));
    const tree = new MerkleTree();
    for (const id of ids) tree.append(id);
    const root = tree.root();
    const ROUNDS = 200;
    let seed = 12345;
    const random = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const ms = await timePair(
      () => {
        for (let r = 0; r < ROUNDS; r++) {
          const index = random(FULL);
          const inclusion = tree.inclusionProof(index);
          if (!verifyInclusion(leafHash(ids[index]!), index, FULL, inclusion, root)) throw new Error('inclusion proof failed');
          const older = 1 + random(FULL - 1);
          const consistency = tree.consistencyProof(older);
          if (!verifyConsistency(older, FULL, consistency, tree.root(older), root)) throw new Error('consistency proof failed');
        }
      },
      () => {
        const again = new MerkleTree();
        for (const id of ids) again.append(id);
        if (again.root().length !== 32) throw new Error('no root');
      },
      { warmup: 2, iterations: 10 },
    );
    return { value: (ms.value * 1000) / ROUNDS, baseline: ms.baseline * 1000 };
  },
};

export const benchmarks: Benchmark[] = [logVerifyFull, logVerifyIncremental, merkleProof];
