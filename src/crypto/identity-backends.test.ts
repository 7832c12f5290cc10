import * as nodeCrypto from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, utf8 } from './bytes.js';
import {
  VERIFY_BACKEND,
  identityFromSecretKey,
  isCanonicalPointEncoding,
  scalarBelowOrder,
  signReference,
  verify,
  verifyBatch,
  verifyBatchWithNode,
  verifyBatchWithWebCrypto,
  verifyReference,
  verifyWithNode,
  verifyWithWebCrypto,
  type NodeEd25519,
  type SignedMessage,
} from './identity.js';
import { loadVectors } from './test-support.js';

/*
 * The node:crypto path (used under Node) against the WebCrypto path (used in the browser) and the
 * noble reference: one verdict on every vector and on random input.
 */
const node = nodeCrypto as unknown as NodeEd25519;

interface Case {
  readonly label: string;
  readonly publicKey: Uint8Array;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
}

const RFC8032 = loadVectors<{ vectors: { name: string; publicKey: string; message: string; signature: string }[] }>('ed25519/rfc8032-section7.1-ed25519.json').vectors;
const WYCHEPROOF = loadVectors<{ testGroups: { publicKey: { pk: string }; tests: { tcId: number; msg: string; sig: string }[] }[] }>('ed25519/wycheproof-ed25519_test.json');
const ZIP215 = loadVectors<{ vk_bytes: string; sig_bytes: string }[]>('ed25519/zip215.json');
const SPECCHECK = loadVectors<{ message: string; pub_key: string; signature: string }[]>('ed25519/speccheck-edge-cases.json');

const VECTORS: Case[] = [
  ...RFC8032.map((v) => ({ label: `RFC 8032 ${v.name}`, publicKey: fromHex(v.publicKey), message: fromHex(v.message), signature: fromHex(v.signature) })),
  ...WYCHEPROOF.testGroups.flatMap((g) => g.tests.map((t) => ({ label: `Wycheproof ${t.tcId}`, publicKey: fromHex(g.publicKey.pk), message: fromHex(t.msg), signature: fromHex(t.sig) }))),
  ...ZIP215.map((v, i) => ({ label: `ZIP-215 ${i}`, publicKey: fromHex(v.vk_bytes), message: utf8('Zcash'), signature: fromHex(v.sig_bytes) })),
  ...SPECCHECK.map((v, i) => ({ label: `speccheck ${i}`, publicKey: fromHex(v.pub_key), message: fromHex(v.message), signature: fromHex(v.signature) })),
];

async function verdicts(c: Case): Promise<{ node: boolean; web: boolean; reference: boolean }> {
  return {
    node: await verifyWithNode(node, c.publicKey, c.message, c.signature),
    web: await verifyWithWebCrypto(c.publicKey, c.message, c.signature),
    reference: verifyReference(c.publicKey, c.message, c.signature),
  };
}

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}
function toLittleEndian(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}
const L = ed25519.Point.Fn.ORDER;
const P = ed25519.Point.Fp.ORDER;

describe('Ed25519 backends (node:crypto, WebCrypto, noble reference)', () => {
  it('uses node:crypto under Node', () => {
    expect(VERIFY_BACKEND).toBe('node:crypto');
  });

  it('give one verdict on every RFC 8032, Wycheproof, ZIP-215 and speccheck vector (368 cases)', async () => {
    expect(VECTORS).toHaveLength(5 + 151 + 196 + 12);
    const disagreements: string[] = [];
    let accepted = 0;
    for (const c of VECTORS) {
      const v = await verdicts(c);
      if (v.node !== v.reference || v.web !== v.reference) disagreements.push(`${c.label}: ${JSON.stringify(v)}`);
      if (v.reference) accepted++;
    }
    expect(disagreements).toEqual([]);
    expect(accepted).toBeGreaterThan(60); // the valid RFC and Wycheproof cases plus speccheck 2 and 3
  });

  it('give one verdict on random keys, messages and signatures (mostly garbage)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ minLength: 64, maxLength: 64 }), async (pk, m, sig) => {
        const v = await verdicts({ label: '', publicKey: pk, message: m, signature: sig });
        expect(v.node).toBe(v.reference);
        expect(v.web).toBe(v.reference);
      }),
      { numRuns: 100 },
    );
  });

  it('give one verdict on honest signatures with one random byte of key, signature or message changed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (seed, m, at, xor, change) => {
        const id = identityFromSecretKey(seed);
        const c = { label: '', publicKey: id.publicKey.slice(), message: m.slice(), signature: signReference(id, m) as Uint8Array };
        if (change) {
          const where = at % (32 + 64 + m.length);
          if (where < 32) c.publicKey[where]! ^= xor;
          else if (where < 96) c.signature[where - 32]! ^= xor;
          else c.message[where - 96]! ^= xor;
        }
        const v = await verdicts(c);
        expect(v.node).toBe(v.reference);
        expect(v.web).toBe(v.reference);
        if (!change) expect(v.reference).toBe(true);
      }),
      { numRuns: 80 },
    );
  });

  it('batches: node:crypto and WebCrypto give the reference verdict for each item, in input order', async () => {
    const ids = [1, 2, 3].map((n) => identityFromSecretKey(new Uint8Array(32).fill(n)));
    const items: SignedMessage[] = [];
    for (let i = 0; i < 300; i++) {
      const id = ids[i % 3]!;
      const message = utf8(`message ${i}`);
      const signature = signReference(id, message) as Uint8Array;
      if (i % 7 === 0) signature[i % 64]! ^= 1; // broken
      items.push({ publicKey: i % 11 === 0 ? ids[(i + 1) % 3]!.publicKey : id.publicKey, message, signature: i % 13 === 0 ? signature.subarray(0, 63) : signature });
    }
    const expected = items.map((it) => verifyReference(it.publicKey, it.message, it.signature));
    expect(expected.filter(Boolean).length).toBeGreaterThan(150);
    expect(expected.some((ok) => !ok)).toBe(true);
    expect(await verifyBatchWithNode(node, items)).toEqual(expected);
    expect(await verifyBatchWithWebCrypto(items)).toEqual(expected);
    expect(await verifyBatch(items)).toEqual(expected);
  });

  it('a node:crypto batch of 20,000 items refused by the rules alone completes (no recursion per item)', async () => {
    const id = identityFromSecretKey(new Uint8Array(32).fill(9));
    const item = { publicKey: id.publicKey, message: utf8('x'), signature: new Uint8Array(64).fill(0xff) }; // S ≥ L
    const results = await verifyBatchWithNode(node, Array.from({ length: 20_000 }, () => item));
    expect(results).toHaveLength(20_000);
    expect(results.every((ok) => ok === false)).toBe(true);
  });

  it('a node:crypto batch with a non-bytes item rejects with INVALID_INPUT', async () => {
    const id = identityFromSecretKey(new Uint8Array(32).fill(4));
    const good = { publicKey: id.publicKey, message: utf8('m'), signature: signReference(id, utf8('m')) as Uint8Array };
    await expect(verifyBatchWithNode(node, [good, { ...good, message: 'm' as unknown as Uint8Array }])).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(verifyWithNode(node, id.publicKey, 'm' as unknown as Uint8Array, good.signature)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('a public-key array overwritten in place is verified as the key it now holds', async () => {
    const a = identityFromSecretKey(new Uint8Array(32).fill(5));
    const b = identityFromSecretKey(new Uint8Array(32).fill(6));
    const m = utf8('same message');
    const key = a.publicKey.slice();
    expect(await verify(key, m, signReference(a, m))).toBe(true);
    key.set(b.publicKey);
    expect(await verify(key, m, signReference(a, m))).toBe(false);
    expect(await verify(key, m, signReference(b, m))).toBe(true);
  });

  it('a public-key Node Buffer overwritten in place is verified as the key it now holds', async () => {
    const a = identityFromSecretKey(new Uint8Array(32).fill(7));
    const b = identityFromSecretKey(new Uint8Array(32).fill(8));
    const m = utf8('same message');
    const key = Buffer.from(a.publicKey);
    expect(await verify(key, m, signReference(a, m))).toBe(true);
    key.set(b.publicKey);
    expect(await verify(key, m, signReference(a, m))).toBe(false);
    expect(await verify(key, m, signReference(b, m))).toBe(true);
  });
});

describe('the byte-wise encoding rules equal their BigInt definitions', () => {
  const edges = [0n, 1n, 2n, 18n, 19n, P - 20n, P - 2n, P - 1n, P, P + 1n, P + 18n, 2n ** 255n - 1n, L - 1n, L, L + 1n, 2n ** 252n, 2n ** 253n, 2n ** 256n - 1n];

  it('S < L (rule 1) on edge values and random scalars', () => {
    const check = (s: bigint): void => {
      const signature = new Uint8Array(64);
      signature.set(toLittleEndian(s), 32);
      expect(scalarBelowOrder(signature)).toBe(s < L);
    };
    for (const s of edges) check(s);
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat({ max: 31 }), (bytes, top) => {
      // Random values near L too: keep the top `top` bytes of L.
      const near = bytes.slice();
      const lBytes = toLittleEndian(L);
      for (let i = 31; i > 31 - top; i--) near[i] = lBytes[i]!;
      check(littleEndian(bytes));
      check(littleEndian(near));
    }), { numRuns: 500 });
  });

  it('canonical point encoding (y < p, no sign bit on y = ±1) on edge values and random encodings', () => {
    const definition = (encoded: Uint8Array): boolean => {
      const signBit = (encoded[31]! & 0x80) !== 0;
      const y = littleEndian(encoded) & (2n ** 255n - 1n);
      if (y >= P) return false;
      return !(signBit && (y === 1n || y === P - 1n));
    };
    for (const y of edges.filter((e) => e < 2n ** 255n)) {
      for (const sign of [0, 0x80]) {
        const encoded = toLittleEndian(y);
        encoded[31]! |= sign;
        expect(isCanonicalPointEncoding(encoded)).toBe(definition(encoded));
      }
    }
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat({ max: 31 }), fc.boolean(), (bytes, top, sign) => {
      const near = bytes.slice();
      const pBytes = toLittleEndian(P - 1n);
      for (let i = 31; i > 31 - top; i--) near[i] = pBytes[i]!;
      if (sign) near[31]! |= 0x80;
      expect(isCanonicalPointEncoding(bytes)).toBe(definition(bytes));
      expect(isCanonicalPointEncoding(near)).toBe(definition(near));
    }), { numRuns: 500 });
  });
});
