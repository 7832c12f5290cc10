import * as nodeCrypto from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { open, type SymmetricKey } from '../crypto/index.js';
import { RECORD_FORMAT, RECORD_OVERHEAD, createRecordSealer, freshNonces, recordAssociatedData, sealRecordsWithNode, sealRecordsWithWebCrypto } from './record-sealer.js';
import { generateKey, utf8 } from './test-support.js';

const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const recordArb = fc.record({ storageKey: fc.string({ minLength: 1, maxLength: 300, unit: 'binary' }), plaintext: fc.uint8Array({ maxLength: 600 }) });

async function opened(key: SymmetricKey, storageKey: string, sealed: Uint8Array): Promise<Uint8Array> {
  expect(sealed[0]).toBe(RECORD_FORMAT);
  return open(key, sealed.subarray(1), recordAssociatedData(storageKey));
}

describe('record sealer', () => {
  it('seals each record so that src/crypto open returns it under its own storage key', async () => {
    const key = generateKey();
    const records = [
      { storageKey: 'r/a', plaintext: utf8('alpha') },
      { storageKey: 'r/ünïcode/键', plaintext: new Uint8Array(0) },
      { storageKey: `r/${'k'.repeat(1000)}`, plaintext: new Uint8Array(5000).fill(9) },
    ];
    const sealed = await createRecordSealer(key).sealAll(records);
    expect(sealed).toHaveLength(3);
    for (const [i, { storageKey, plaintext }] of records.entries()) {
      expect(sealed[i]).toHaveLength(RECORD_OVERHEAD + plaintext.length);
      expect(await opened(key, storageKey, sealed[i]!)).toEqual(plaintext);
    }
  });

  it('binds each record to its storage key: under another key it fails to open', async () => {
    const key = generateKey();
    const [a, b] = await createRecordSealer(key).sealAll([
      { storageKey: 'r/a', plaintext: utf8('same') },
      { storageKey: 'r/b', plaintext: utf8('same') },
    ]);
    await expect(opened(key, 'r/b', a!)).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
    await expect(opened(key, 'r/a', b!)).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
    await expect(opened(generateKey(), 'r/a', a!)).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
  });

  it('gives every record of a batch, and every batch, its own nonce', async () => {
    const sealer = createRecordSealer(generateKey());
    const plaintext = utf8('identical plaintext');
    const batches = [
      await sealer.sealAll(Array.from({ length: 6000 }, (_, i) => ({ storageKey: `r/${i}`, plaintext }))),
      await sealer.sealAll(Array.from({ length: 10 }, (_, i) => ({ storageKey: `r/${i}`, plaintext }))),
    ];
    const nonces = new Set(batches.flat().map((s) => Buffer.from(s.subarray(1, 13)).toString('hex')));
    expect(nonces.size).toBe(6010);
  });

  it('fills every nonce of a large batch with random bytes, past the 65,536-byte getRandomValues limit', () => {
    const nonces = freshNonces(6000); // 72,000 bytes: two getRandomValues calls
    expect(nonces).toHaveLength(72_000);
    // A 12-byte run of zeros in random bytes has probability 2^-96; in an unfilled tail it is certain.
    for (let i = 0; i < 6000; i++) expect(nonces.subarray(i * 12, i * 12 + 12).some((b) => b !== 0)).toBe(true);
  });

  it('produces the same bytes through node:crypto and WebCrypto for the same nonces', async () => {
    await fc.assert(
      fc.asyncProperty(keyArb, fc.array(recordArb, { maxLength: 8 }), async (key, records) => {
        const nonces = freshNonces(records.length);
        const viaNode = sealRecordsWithNode(nodeCrypto, nodeCrypto.createSecretKey(key), records, nonces);
        const imported = globalThis.crypto.subtle.importKey('raw', key, { name: 'AES-GCM' }, false, ['encrypt']);
        const viaWeb = await sealRecordsWithWebCrypto(imported, records, nonces);
        expect(viaNode).toEqual(viaWeb);
        for (const [i, r] of records.entries()) expect(await opened(key as SymmetricKey, r.storageKey, viaNode[i]!)).toEqual(r.plaintext);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a nonce buffer that does not match the records', async () => {
    const records = [{ storageKey: 'r/a', plaintext: utf8('x') }];
    expect(() => sealRecordsWithNode(nodeCrypto, nodeCrypto.createSecretKey(generateKey()), records, new Uint8Array(11))).toThrow(RangeError);
    const imported = globalThis.crypto.subtle.importKey('raw', generateKey() as Uint8Array<ArrayBuffer>, { name: 'AES-GCM' }, false, ['encrypt']);
    await expect(sealRecordsWithWebCrypto(imported, records, new Uint8Array(24))).rejects.toThrow(RangeError);
  });

  it('refuses a record key of the wrong length', () => {
    expect(() => createRecordSealer(new Uint8Array(16) as SymmetricKey)).toThrow(TypeError);
  });
});
