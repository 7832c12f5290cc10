import * as nodeCrypto from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { generateKey, open } from './aead.js';
import { utf8 } from './bytes.js';
import { hmacSha256 } from './hash.js';
import type { SymmetricKey } from './types.js';
import type * as batchCrypto from './batch.js';
import { BATCH_CRYPTO_BACKEND, freshNonces, keyedHasher, sealMany, sealManyWithNode, sealManyWithWebCrypto } from './batch.js';

const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const itemArb = fc.record({ plaintext: fc.uint8Array({ maxLength: 600 }), associatedData: fc.uint8Array({ maxLength: 80 }) });
const headerArb = fc.uint8Array({ maxLength: 8 });

const webKey = (key: Uint8Array) => globalThis.crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, { name: 'AES-GCM' }, false, ['encrypt']);

describe('sealMany', () => {
  it('uses node:crypto under Node', () => {
    expect(BATCH_CRYPTO_BACKEND).toBe('node:crypto');
  });

  it('seals each value so that src/crypto open returns it under its own associated data, behind the header', async () => {
    const key = generateKey();
    const items = [
      { plaintext: utf8('alpha'), associatedData: utf8('place/a') },
      { plaintext: new Uint8Array(0), associatedData: new Uint8Array(0) },
      { plaintext: new Uint8Array(300_000).fill(9), associatedData: utf8('place/large') }, // larger than one shared output buffer
    ];
    const header = Uint8Array.of(1, 0, 0, 0, 7);
    const sealed = await sealMany(key, items, header);
    expect(sealed).toHaveLength(3);
    for (const [i, { plaintext, associatedData }] of items.entries()) {
      expect(sealed[i]!.subarray(0, 5)).toEqual(header);
      expect(sealed[i]).toHaveLength(5 + 12 + plaintext.length + 16);
      expect(await open(key, sealed[i]!.subarray(5), associatedData)).toEqual(plaintext);
    }
  });

  it('seals a string plaintext as its UTF-8 bytes, through both backends', async () => {
    const key = generateKey();
    const text = 'résumé ✓ 𝄞 plain';
    const [sealed] = await sealMany(key, [{ plaintext: text, associatedData: utf8('ad') }], Uint8Array.of(9));
    expect(sealed![0]).toBe(9);
    expect(await open(key, sealed!.subarray(1), utf8('ad'))).toEqual(utf8(text));
    const nonces = freshNonces(1);
    const viaNode = sealManyWithNode(nodeCrypto, nodeCrypto.createSecretKey(key), [{ plaintext: text, associatedData: utf8('ad') }], nonces);
    const viaWeb = await sealManyWithWebCrypto(webKey(key), [{ plaintext: utf8(text), associatedData: utf8('ad') }], nonces);
    expect(viaNode).toEqual(viaWeb);
  });

  it('binds each value to its associated data: with another one, or another key, it fails to open', async () => {
    const key = generateKey();
    const [a, b] = await sealMany(key, [
      { plaintext: utf8('same'), associatedData: utf8('r/a') },
      { plaintext: utf8('same'), associatedData: utf8('r/b') },
    ]);
    await expect(open(key, a!, utf8('r/b'))).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
    await expect(open(key, b!, utf8('r/a'))).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
    await expect(open(generateKey(), a!, utf8('r/a'))).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
  });

  it('gives every value of a batch, and every batch, its own nonce', async () => {
    const key = generateKey();
    const item = { plaintext: utf8('identical plaintext'), associatedData: utf8('same place') };
    const batches = [await sealMany(key, Array.from({ length: 6000 }, () => item)), await sealMany(key, Array.from({ length: 10 }, () => item))];
    const nonces = new Set(batches.flat().map((s) => Buffer.from(s.subarray(0, 12)).toString('hex')));
    expect(nonces.size).toBe(6010);
  });

  it('fills every nonce of a large batch with random bytes, past the 65,536-byte getRandomValues limit', () => {
    const nonces = freshNonces(6000); // 72,000 bytes: two getRandomValues calls
    expect(nonces).toHaveLength(72_000);
    // A 12-byte run of zeros in random bytes has probability 2^-96; in an unfilled tail it is certain.
    let zeroRuns = 0;
    for (let i = 0; i < 6000; i++) if (nonces.subarray(i * 12, i * 12 + 12).every((b) => b === 0)) zeroRuns++;
    expect(zeroRuns).toBe(0);
  });

  it('uses the key the array holds now, after the caller overwrote it in place', async () => {
    const key = generateKey();
    const item = { plaintext: utf8('x'), associatedData: utf8('ad') };
    await sealMany(key, [item]);
    key.set(generateKey());
    const [sealed] = await sealMany(key, [item]);
    expect(await open(key, sealed!, item.associatedData)).toEqual(item.plaintext);
  });

  it('produces the same bytes through node:crypto and WebCrypto for the same nonces', async () => {
    await fc.assert(
      fc.asyncProperty(keyArb, fc.array(itemArb, { maxLength: 8 }), headerArb, async (key, items, header) => {
        const nonces = freshNonces(items.length);
        const viaNode = sealManyWithNode(nodeCrypto, nodeCrypto.createSecretKey(key), items, nonces, header);
        const viaWeb = await sealManyWithWebCrypto(webKey(key), items, nonces, header);
        expect(viaNode).toEqual(viaWeb);
        for (const [i, item] of items.entries()) expect(await open(key as SymmetricKey, viaNode[i]!.subarray(header.length), item.associatedData)).toEqual(item.plaintext);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a wrong key, a wrong item or a nonce buffer that does not match the items', async () => {
    const items = [{ plaintext: utf8('x'), associatedData: utf8('ad') }];
    expect(() => sealMany(new Uint8Array(16) as SymmetricKey, items)).toThrow(TypeError);
    expect(() => sealMany(generateKey(), [{ plaintext: 7, associatedData: utf8('ad') } as never])).toThrow(TypeError);
    expect(() => sealManyWithNode(nodeCrypto, nodeCrypto.createSecretKey(generateKey()), items, new Uint8Array(11))).toThrow(RangeError);
    await expect(sealManyWithWebCrypto(webKey(generateKey()), items, new Uint8Array(24))).rejects.toThrow(RangeError);
  });
});

describe('keyedHasher', () => {
  it('gives the digests of src/crypto hmacSha256', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 100 }), fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 5 }), (key, messages) => {
        const hash = keyedHasher(key);
        for (const m of messages) expect(hash(m)).toEqual(hmacSha256(key, m));
      }),
      { numRuns: 100 },
    );
  });

  it('keeps the key it was made with, and refuses short keys and non-bytes', () => {
    const key = generateKey();
    const hash = keyedHasher(key);
    const before = hash(utf8('id'));
    key.fill(0);
    expect(hash(utf8('id'))).toEqual(before);
    expect(() => keyedHasher(new Uint8Array(15))).toThrow(TypeError);
    expect(() => hash('id' as never)).toThrow(TypeError);
  });
});

describe('batch crypto without node:crypto (the browser path)', () => {
  /** The module as a browser sees it: loaded while `process.getBuiltinModule` is absent. */
  async function browserModule(): Promise<typeof batchCrypto> {
    const proc = globalThis.process as { getBuiltinModule?: unknown };
    const saved = proc.getBuiltinModule;
    proc.getBuiltinModule = undefined;
    try {
      vi.resetModules();
      return await import('./batch.js');
    } finally {
      proc.getBuiltinModule = saved;
    }
  }

  it('seals through WebCrypto, with the key imported once, into values src/crypto opens', async () => {
    const browser = await browserModule();
    expect(browser.BATCH_CRYPTO_BACKEND).toBe('webcrypto');
    const key = generateKey();
    const items = [
      { plaintext: 'text ✓', associatedData: utf8('a') },
      { plaintext: new Uint8Array(3000).fill(5), associatedData: utf8('b') },
    ];
    for (let round = 0; round < 2; round++) {
      const sealed = await browser.sealMany(key, items, Uint8Array.of(1));
      expect(await open(key, sealed[0]!.subarray(1), utf8('a'))).toEqual(utf8('text ✓'));
      expect(await open(key, sealed[1]!.subarray(1), utf8('b'))).toEqual(items[1]!.plaintext);
    }
  });

  it('hashes with src/crypto hmacSha256', async () => {
    const browser = await browserModule();
    const key = generateKey();
    expect(browser.keyedHasher(key)(utf8('Observation/1'))).toEqual(hmacSha256(key, utf8('Observation/1')));
  });
});
