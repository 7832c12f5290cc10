import { argon2id } from '@noble/hashes/argon2.js';
import { describe, expect, it } from 'vitest';
import { equalBytes, fromHex, toHex, utf8 } from './bytes.js';
import {
  checkKdfParams,
  DEFAULT_KDF_COST,
  deriveKeyFromPassphrase,
  kdfNeedsUpgrade,
  MAX_KDF_COST,
  MAX_KDF_WORK,
  MIN_KDF_COST,
  newKdfParams,
  type KdfParams,
} from './kdf.js';
import { loadVectors, thrown } from './test-support.js';

interface Argon2Vector {
  name: string;
  password: string;
  salt: string;
  secret: string;
  associatedData: string;
  memoryKiB: number;
  iterations: number;
  parallelism: number;
  tagLength: number;
  tag: string;
}
const RFC9106 = loadVectors<{ vectors: Argon2Vector[] }>('argon2/rfc9106-argon2id.json').vectors;

/** Tiny parameters, allowed only with allowWeak: tests must not burn 64 MiB × 2 per case. */
const WEAK = { memoryKiB: 64, iterations: 1, parallelism: 1 } as const;
const weakParams = (salt = fromHex('00112233445566778899aabbccddeeff')): KdfParams => ({ algorithm: 'argon2id', ...WEAK, salt });

describe('Argon2id (RFC 9106 §5.3) through @noble/hashes, the implementation we wrap', () => {
  it.each(RFC9106)('$name', (v) => {
    const tag = argon2id(fromHex(v.password), fromHex(v.salt), {
      m: v.memoryKiB,
      t: v.iterations,
      p: v.parallelism,
      dkLen: v.tagLength,
      key: fromHex(v.secret),
      personalization: fromHex(v.associatedData),
    });
    expect(toHex(tag)).toBe(v.tag);
  });
});

describe('deriveKeyFromPassphrase', () => {
  it('is exactly noble argon2id over the NFKC-normalised UTF-8 passphrase, 32 bytes', async () => {
    const params = weakParams();
    const key = await deriveKeyFromPassphrase('correct horse battery staple', params, { allowWeak: true });
    expect(key).toHaveLength(32);
    const expected = argon2id(utf8('correct horse battery staple'), params.salt, { m: WEAK.memoryKiB, t: WEAK.iterations, p: WEAK.parallelism, dkLen: 32 });
    expect(toHex(key)).toBe(toHex(expected));
  });

  it('is deterministic, and changes with passphrase, salt and every cost parameter', async () => {
    const params = weakParams();
    const derive = (passphrase: string, p: KdfParams) => deriveKeyFromPassphrase(passphrase, p, { allowWeak: true });
    const base = await derive('synthetic passphrase', params);
    expect(equalBytes(base, await derive('synthetic passphrase', { ...params, salt: params.salt.slice() }))).toBe(true);
    const variants = [
      await derive('synthetic passphrasE', params),
      await derive('synthetic passphrase', weakParams(fromHex('ffeeddccbbaa99887766554433221100'))),
      await derive('synthetic passphrase', { ...params, memoryKiB: 72 }),
      await derive('synthetic passphrase', { ...params, iterations: 2 }),
      await derive('synthetic passphrase', { ...params, parallelism: 2 }),
    ];
    for (const other of variants) expect(equalBytes(base, other)).toBe(false);
  });

  it('normalises to NFKC: composed and decomposed accents, ligatures and full-width forms give one key', async () => {
    const params = weakParams();
    const derive = (passphrase: string) => deriveKeyFromPassphrase(passphrase, params, { allowWeak: true });
    const pairs: [string, string][] = [
      ['caf\u00e9 cr\u00e8me', 'cafe\u0301 cre\u0300me'], // é as one code point vs e + combining accent
      ['\ufb01sh', 'fish'], // the ﬁ ligature
      ['\uff30\uff41\uff53\uff53', 'Pass'], // full-width Latin
      ['\u212b', '\u00c5'], // ANGSTROM SIGN vs Å
    ];
    for (const [a, b] of pairs) {
      expect(a).not.toBe(b);
      expect(toHex(await derive(a))).toBe(toHex(await derive(b)));
    }
    // Normalisation must not merge what differs: case and spacing still matter.
    expect(toHex(await derive('Pass'))).not.toBe(toHex(await derive('pass')));
  });

  it('refuses weak parameters unless allowWeak is given', async () => {
    await expect(deriveKeyFromPassphrase('synthetic', weakParams())).rejects.toMatchObject({ code: 'BAD_KDF_PARAMS' });
  });

  it('refuses an empty or non-string passphrase with INVALID_INPUT', async () => {
    await expect(deriveKeyFromPassphrase('', weakParams(), { allowWeak: true })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    for (const bad of [null, undefined, 1234, utf8('bytes'), ['a']]) {
      await expect(deriveKeyFromPassphrase(bad as unknown as string, weakParams(), { allowWeak: true })).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('"passphrase"') as string });
    }
  });

  it('refuses hostile parameters before doing any work, and never names the passphrase', async () => {
    const error = await deriveKeyFromPassphrase('SYNTHETIC-PASSPHRASE-MARKER', { ...weakParams(), memoryKiB: 2 ** 32 }, { allowWeak: true }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BAD_KDF_PARAMS' });
    expect(`${String(error)} ${(error as Error).stack ?? ''}`).not.toContain('SYNTHETIC-PASSPHRASE-MARKER');
  });
});

describe('checkKdfParams', () => {
  const good = (): KdfParams => newKdfParams();

  it('accepts the defaults and the floor, and the defaults are above the floor', () => {
    expect(() => checkKdfParams(good())).not.toThrow();
    expect(() => checkKdfParams({ ...good(), ...MIN_KDF_COST })).not.toThrow();
    expect(DEFAULT_KDF_COST.memoryKiB).toBeGreaterThanOrEqual(MIN_KDF_COST.memoryKiB);
    expect(DEFAULT_KDF_COST.iterations).toBeGreaterThanOrEqual(MIN_KDF_COST.iterations);
    expect(DEFAULT_KDF_COST.memoryKiB * DEFAULT_KDF_COST.iterations).toBeLessThanOrEqual(MAX_KDF_WORK);
  });

  const HOSTILE: [string, (p: KdfParams) => unknown][] = [
    ['huge memory (4 TiB)', (p) => ({ ...p, memoryKiB: 2 ** 32 })],
    ['memory one over the ceiling', (p) => ({ ...p, memoryKiB: MAX_KDF_COST.memoryKiB + 1 })],
    ['memory and iterations each at their ceiling (work over MAX_KDF_WORK)', (p) => ({ ...p, memoryKiB: MAX_KDF_COST.memoryKiB, iterations: MAX_KDF_COST.iterations })],
    ['zero iterations', (p) => ({ ...p, iterations: 0 })],
    ['negative iterations', (p) => ({ ...p, iterations: -2 })],
    ['too many iterations', (p) => ({ ...p, iterations: MAX_KDF_COST.iterations + 1 })],
    ['fractional memory', (p) => ({ ...p, memoryKiB: 65536.5 })],
    ['NaN iterations', (p) => ({ ...p, iterations: Number.NaN })],
    ['Infinity memory', (p) => ({ ...p, memoryKiB: Number.POSITIVE_INFINITY })],
    ['memory as a string', (p) => ({ ...p, memoryKiB: '65536' })],
    ['zero parallelism', (p) => ({ ...p, parallelism: 0 })],
    ['parallelism over the ceiling', (p) => ({ ...p, parallelism: MAX_KDF_COST.parallelism + 1 })],
    ['missing salt', (p) => ({ ...p, salt: undefined })],
    ['salt of 15 bytes', (p) => ({ ...p, salt: new Uint8Array(15) })],
    ['salt of 65 bytes', (p) => ({ ...p, salt: new Uint8Array(65) })],
    ['salt as a string', (p) => ({ ...p, salt: '00112233445566778899aabbccddeeff' })],
    ['salt as an array', (p) => ({ ...p, salt: Array.from(new Uint8Array(16)) })],
    ['another algorithm', (p) => ({ ...p, algorithm: 'argon2i' })],
    ['no algorithm', (p) => ({ ...p, algorithm: undefined })],
    ['null', () => null],
    ['a string', () => 'argon2id'],
  ];

  it.each(HOSTILE)('refuses %s with BAD_KDF_PARAMS', (_, make) => {
    expect(thrown(() => checkKdfParams(make(good()) as KdfParams)).code).toBe('BAD_KDF_PARAMS');
  });

  it('refuses memory below 8 KiB per lane (RFC 9106 §3.1) even with allowWeak', () => {
    const error = thrown(() => checkKdfParams({ ...weakParams(), memoryKiB: 8, parallelism: 16 }, true));
    expect(error.code).toBe('BAD_KDF_PARAMS');
    expect(error.message).toContain('8 × parallelism');
  });

  it('refuses the weak test parameters unless allowWeak', () => {
    expect(thrown(() => checkKdfParams(weakParams())).code).toBe('BAD_KDF_PARAMS');
    expect(() => checkKdfParams(weakParams(), true)).not.toThrow();
  });
});

describe('newKdfParams and kdfNeedsUpgrade', () => {
  it('makes argon2id parameters with the default cost and a fresh 16-byte salt', () => {
    const a = newKdfParams();
    const b = newKdfParams();
    expect(a).toMatchObject({ algorithm: 'argon2id', ...DEFAULT_KDF_COST });
    expect(a.salt).toHaveLength(16);
    expect(equalBytes(a.salt, b.salt)).toBe(false);
  });

  it('refuses a nonsense cost', () => {
    expect(thrown(() => newKdfParams({ memoryKiB: 0, iterations: 1, parallelism: 1 })).code).toBe('BAD_KDF_PARAMS');
  });

  it('asks for an upgrade when memory or iterations are below the target, not otherwise', () => {
    expect(kdfNeedsUpgrade({ ...newKdfParams(), ...MIN_KDF_COST })).toBe(true);
    expect(kdfNeedsUpgrade({ ...newKdfParams(), memoryKiB: DEFAULT_KDF_COST.memoryKiB, iterations: 1 })).toBe(true);
    expect(kdfNeedsUpgrade(newKdfParams())).toBe(false);
    expect(kdfNeedsUpgrade({ ...newKdfParams(), memoryKiB: 2 * DEFAULT_KDF_COST.memoryKiB })).toBe(false);
    expect(kdfNeedsUpgrade(newKdfParams(), { memoryKiB: 128 * 1024, iterations: 2 })).toBe(true);
  });
});
