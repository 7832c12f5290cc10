/**
 * Benchmarks of src/crypto (issue 3).
 *
 * - `seal_throughput`: our `seal()` on 1 MiB chunks (the attachment chunk size), against raw
 *   WebCrypto AES-256-GCM encrypting the same chunks with a pre-imported key and a fresh nonce,
 *   timed alternately in the same run. ratio = ours / raw; goal ≥ 0.8 (the wrapper — input
 *   checks, key cache, nonce ‖ ct ‖ tag concatenation — may cost at most 20%).
 * - `kdf_unlock`: one `deriveKeyFromPassphrase` with DEFAULT_KDF_COST (what unlocking a vault
 *   costs), in ms. Goal is absolute: 500–1500 ms. Its baseline is one SHA-256 over 64 MiB in pure
 *   JS (@noble/hashes, the same library family and engine as our Argon2id, and the same amount of
 *   memory Argon2id fills), so the ratio says "how many 64 MiB hashing passes an unlock costs": a
 *   figure that stays put when the machine is busier or faster, while the ms figure does not.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { DEFAULT_KDF_COST, deriveKeyFromPassphrase, generateKey, newKdfParams, seal } from '../src/crypto/index.js';
import { megabytesPerSecond, timePair, type Benchmark } from './harness.js';

const CHUNK_BYTES = 1024 * 1024;
/** Chunks per timed round: 4 MiB, a few ms, so each A/B pair sees the same machine load. */
const CHUNKS = 4;

/** Fills a buffer with random bytes (getRandomValues gives at most 64 KiB per call). */
function randomFill(length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += 65_536) globalThis.crypto.getRandomValues(out.subarray(i, Math.min(length, i + 65_536)));
  return out;
}

const sealThroughput: Benchmark = {
  name: 'seal_throughput',
  unit: 'MB/s',
  goal: 'ratio ≥ 0.8 (vs raw WebCrypto AES-GCM)',
  async run() {
    const chunks = Array.from({ length: CHUNKS }, () => randomFill(CHUNK_BYTES));
    const key = generateKey();
    const associatedData = new TextEncoder().encode('vault:bench/scope:attachments/record:chunk');
    const rawKey = await globalThis.crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, { name: 'AES-GCM' }, false, ['encrypt']);
    // Each side checks its output size: the work cannot be skipped, and a broken side fails loudly.
    const ours = async (): Promise<void> => {
      for (const chunk of chunks) {
        const sealed = await seal(key, chunk, associatedData);
        if (sealed.length !== CHUNK_BYTES + 28) throw new Error(`seal() returned ${sealed.length} bytes`);
      }
    };
    const raw = async (): Promise<void> => {
      for (const chunk of chunks) {
        const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
        const sealed = await globalThis.crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: associatedData, tagLength: 128 }, rawKey, chunk);
        if (sealed.byteLength !== CHUNK_BYTES + 16) throw new Error(`encrypt() returned ${sealed.byteLength} bytes`);
      }
    };
    // Best of 40 short alternating rounds: on shared cores other processes only ever add time,
    // and both sides are measured the same way.
    const ms = await timePair(ours, raw, { warmup: 3, iterations: 40, statistic: 'min' });
    const bytes = CHUNKS * CHUNK_BYTES;
    return { value: megabytesPerSecond(bytes, ms.value), baseline: megabytesPerSecond(bytes, ms.baseline) };
  },
};

const kdfUnlock: Benchmark = {
  name: 'kdf_unlock',
  unit: 'ms',
  goal: '500–1500 ms absolute (DEFAULT_KDF_COST)',
  async run() {
    const params = newKdfParams(DEFAULT_KDF_COST);
    const passphrase = 'synthetic bench passphrase, not a secret';
    const block = randomFill(DEFAULT_KDF_COST.memoryKiB * 1024);
    return timePair(
      async () => {
        if ((await deriveKeyFromPassphrase(passphrase, params)).length !== 32) throw new Error('KDF returned a key of the wrong length');
      },
      () => {
        if (nobleSha256(block).length !== 32) throw new Error('SHA-256 returned a digest of the wrong length');
      },
      // Best of 5: the goal is an absolute time a user waits on their own machine, which other
      // people's processes do not share; the ratio to the same-run baseline shows the load.
      { warmup: 1, iterations: 5, statistic: 'min' },
    );
  },
};

export const benchmarks: Benchmark[] = [sealThroughput, kdfUnlock];
