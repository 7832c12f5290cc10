import { argon2idAsync } from '@noble/hashes/argon2.js';
import { assertString, randomBytes, utf8 } from './bytes.js';
import { CryptoError } from './errors.js';
import type { SymmetricKey } from './types.js';

/** Argon2id parameters (RFC 9106), stored with the vault so they can be raised later. */
export interface KdfParams {
  readonly algorithm: 'argon2id';
  /** Memory in KiB. */
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
  readonly salt: Uint8Array;
}

/**
 * Defaults: 64 MiB, t = 2, p = 1. RFC 9106 §4 recommends 64 MiB with t = 3, which measured 1.6 s
 * here (noble, one core) — past the 0.5–1.5 s a user tolerates at unlock; t = 2 keeps the memory
 * hardness (what costs an attacker most) and measures ~1.1 s. See `kdf_unlock` in BENCHMARKS.md.
 */
export const DEFAULT_KDF_COST = { memoryKiB: 64 * 1024, iterations: 2, parallelism: 1 } as const;
/** Floors below which we refuse to derive (OWASP's minimum: 19 MiB, t = 2). Tests may go lower only through `allowWeak`. */
export const MIN_KDF_COST = { memoryKiB: 19 * 1024, iterations: 2, parallelism: 1 } as const;
/** Ceilings: a vault header claiming more is hostile (it would exhaust memory or time). */
export const MAX_KDF_COST = { memoryKiB: 1024 * 1024, iterations: 64, parallelism: 16 } as const;
/**
 * Ceiling on memory × iterations (KiB × passes): each field may be at its own ceiling, but not all
 * at once — 1 GiB × 64 passes would run for many minutes. 4 GiB-passes is 32 × the default's work
 * (~35 s here): room for future upgrades, none for a header that means to hang the unlock.
 */
export const MAX_KDF_WORK = 4 * 1024 * 1024;

/** New parameters with a fresh 16-byte salt. */
export function newKdfParams(cost: { memoryKiB: number; iterations: number; parallelism: number } = DEFAULT_KDF_COST): KdfParams {
  const params: KdfParams = { algorithm: 'argon2id', memoryKiB: cost.memoryKiB, iterations: cost.iterations, parallelism: cost.parallelism, salt: randomBytes(16) };
  // Weak costs are allowed here (tests make them) but never nonsense: derive would refuse it later.
  checkKdfParams(params, true);
  return params;
}

/** Validates parameters read from storage; hostile or weak ones are `BAD_KDF_PARAMS`. */
export function checkKdfParams(params: KdfParams, allowWeak = false): void {
  const p = params as Partial<KdfParams> | null;
  if (typeof p !== 'object' || p === null || p.algorithm !== 'argon2id') {
    throw new CryptoError('BAD_KDF_PARAMS', 'KDF algorithm must be argon2id');
  }
  const floor = allowWeak ? { memoryKiB: 8, iterations: 1, parallelism: 1 } : MIN_KDF_COST;
  for (const field of ['memoryKiB', 'iterations', 'parallelism'] as const) {
    const v = p[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < floor[field] || v > MAX_KDF_COST[field]) {
      throw new CryptoError('BAD_KDF_PARAMS', `KDF ${field} out of range ${floor[field]}..${MAX_KDF_COST[field]}`);
    }
  }
  const { memoryKiB, iterations, parallelism } = p as KdfParams;
  // RFC 9106 §3.1: memory must be at least 8 KiB per lane.
  if (memoryKiB < 8 * parallelism) throw new CryptoError('BAD_KDF_PARAMS', 'KDF memoryKiB must be at least 8 × parallelism');
  if (memoryKiB * iterations > MAX_KDF_WORK) {
    throw new CryptoError('BAD_KDF_PARAMS', `KDF memoryKiB × iterations exceeds ${MAX_KDF_WORK}`);
  }
  if (!(p.salt instanceof Uint8Array) || p.salt.length < 16 || p.salt.length > 64) {
    throw new CryptoError('BAD_KDF_PARAMS', 'KDF salt must be a Uint8Array of 16..64 bytes');
  }
}

/** True when stored parameters are weaker than `target` and should be upgraded at the next unlock. */
export function kdfNeedsUpgrade(params: KdfParams, target: { memoryKiB: number; iterations: number } = DEFAULT_KDF_COST): boolean {
  return params.memoryKiB < target.memoryKiB || params.iterations < target.iterations;
}

/**
 * Derives a 256-bit key-encryption key from a passphrase (NFKC-normalised so the same passphrase
 * typed on another keyboard layout or OS gives the same key).
 */
export async function deriveKeyFromPassphrase(passphrase: string, params: KdfParams, options: { allowWeak?: boolean } = {}): Promise<SymmetricKey> {
  assertString(passphrase, 'passphrase');
  checkKdfParams(params, options.allowWeak ?? false);
  const key = await argon2idAsync(utf8(passphrase.normalize('NFKC')), params.salt, {
    m: params.memoryKiB,
    t: params.iterations,
    p: params.parallelism,
    dkLen: 32,
    asyncTick: 25,
  });
  return key as SymmetricKey;
}
