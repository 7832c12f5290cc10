import * as nodeCrypto from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AEAD_BACKEND, open, openWithNode, openWithWebCrypto, seal, sealWithNode, sealWithWebCrypto } from './aead.js';
import { asSymmetricKey } from './aead.js';

const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
const nonce = fc.uint8Array({ minLength: 12, maxLength: 12 });
const bytes = fc.uint8Array({ maxLength: 300 });

describe('AES-GCM backends (node:crypto and WebCrypto)', () => {
  it('uses node:crypto under Node', () => {
    expect(AEAD_BACKEND).toBe('node:crypto');
  });

  it('produce identical bytes for the same key, nonce, plaintext and associated data', async () => {
    await fc.assert(
      fc.asyncProperty(key, nonce, bytes, bytes, async (k, n, pt, ad) => {
        const viaNode = sealWithNode(nodeCrypto, k, n, pt, ad);
        const viaWeb = await sealWithWebCrypto(k, n, pt, ad);
        expect(viaNode).toEqual(viaWeb);
      }),
      { numRuns: 100 },
    );
  });

  it('open what the other sealed, and both refuse a flipped bit', async () => {
    await fc.assert(
      fc.asyncProperty(key, bytes, bytes, fc.nat(), async (k, pt, ad, flip) => {
        const sealed = await seal(asSymmetricKey(k), pt, ad);
        expect(await openWithWebCrypto(k, sealed, ad)).toEqual(pt);
        expect(openWithNode(nodeCrypto, k, sealed, ad)).toEqual(pt);
        const tampered = sealed.slice();
        const bit = flip % (tampered.length * 8);
        tampered[bit >> 3]! ^= 1 << (bit & 7);
        await expect(openWithWebCrypto(k, tampered, ad)).rejects.toBeDefined();
        expect(() => openWithNode(nodeCrypto, k, tampered, ad)).toThrow();
        await expect(open(asSymmetricKey(k), tampered, ad)).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
      }),
      { numRuns: 100 },
    );
  });

  it('returns a plain Uint8Array that owns its bytes', async () => {
    const k = asSymmetricKey(new Uint8Array(32).fill(7));
    const plain = await open(k, await seal(k, new Uint8Array([1, 2, 3]), new Uint8Array()), new Uint8Array());
    expect(plain.constructor).toBe(Uint8Array);
    expect(plain.buffer.byteLength).toBe(3);
  });
});
