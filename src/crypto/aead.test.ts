import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AEAD_MAX_PLAINTEXT, AEAD_NONCE_BYTES, AEAD_TAG_BYTES, asSymmetricKey, generateKey, open, seal } from './aead.js';
import { concatBytes, equalBytes, fromHex, toBase58, toBase64Url, toHex, utf8 } from './bytes.js';
import type { SymmetricKey } from './types.js';
import { flipBit, loadVectors, thrown } from './test-support.js';

interface GcmVector {
  name: string;
  key: string;
  iv: string;
  plaintext: string;
  aad: string;
  ciphertext: string;
  tag: string;
}
const GCM = loadVectors<{ vectors: GcmVector[] }>('aes-gcm/gcm-spec-aes256.json').vectors;

/** Associated data as the records layer builds it: vault, scope and record named. */
const AD = utf8('vault:v1/scope:labs/record:obs-1');

describe('AES-256-GCM known answers (GCM spec test cases 13–16) through open()', () => {
  it('has test cases 13, 14, 15 and 16', () => {
    expect(GCM.map((v) => v.name.split(' ')[3])).toEqual(['13', '14', '15', '16']);
  });

  it.each(GCM)('$name: open(key, nonce ‖ ct ‖ tag, aad) gives the plaintext', async (v) => {
    const sealed = fromHex(v.iv + v.ciphertext + v.tag);
    expect(toHex(await open(asSymmetricKey(fromHex(v.key)), sealed, fromHex(v.aad)))).toBe(v.plaintext);
  });

  it.each(GCM)('$name: the same box with its last tag bit flipped is DECRYPT_FAILED', async (v) => {
    const sealed = fromHex(v.iv + v.ciphertext + v.tag);
    await expect(open(asSymmetricKey(fromHex(v.key)), flipBit(sealed, sealed.length * 8 - 1), fromHex(v.aad))).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
  });

  it('seal() output has the layout nonce ‖ ct ‖ tag that the vectors use (same ct and tag for the same nonce)', async () => {
    // seal() picks its own random nonce; re-encrypting under that nonce with raw WebCrypto must
    // give the very bytes after it. This pins the layout, not just the round trip.
    const v = GCM[3]!;
    const key = asSymmetricKey(fromHex(v.key));
    const plaintext = fromHex(v.plaintext);
    const sealed = await seal(key, plaintext, fromHex(v.aad));
    expect(sealed).toHaveLength(AEAD_NONCE_BYTES + plaintext.length + AEAD_TAG_BYTES);
    const nonce = sealed.subarray(0, AEAD_NONCE_BYTES);
    const webKey = await globalThis.crypto.subtle.importKey('raw', fromHex(v.key) as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['encrypt']);
    const raw = new Uint8Array(
      await globalThis.crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce as Uint8Array<ArrayBuffer>, additionalData: fromHex(v.aad) as Uint8Array<ArrayBuffer> }, webKey, plaintext as Uint8Array<ArrayBuffer>),
    );
    expect(toHex(sealed.subarray(AEAD_NONCE_BYTES))).toBe(toHex(raw));
  });
});

describe('seal / open properties', () => {
  const key = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((k) => k as SymmetricKey);
  const bytes = fc.uint8Array({ maxLength: 300 });

  it('open(seal(m)) = m for any key, plaintext and associated data', async () => {
    await fc.assert(fc.asyncProperty(key, bytes, bytes, async (k, m, ad) => equalBytes(await open(k, await seal(k, m, ad), ad), m)), { numRuns: 100 });
  });

  it('sealing twice gives different boxes (fresh random nonces)', async () => {
    const k = generateKey();
    const a = await seal(k, utf8('same'), AD);
    const b = await seal(k, utf8('same'), AD);
    expect(equalBytes(a.subarray(0, AEAD_NONCE_BYTES), b.subarray(0, AEAD_NONCE_BYTES))).toBe(false);
  });

  it('flipping any single bit of nonce, ciphertext or tag is DECRYPT_FAILED (every bit of one box)', async () => {
    const k = generateKey();
    const sealed = await seal(k, utf8('HbA1c 6.1 %'), AD);
    const opened: number[] = [];
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      try {
        await open(k, flipBit(sealed, bit), AD);
        opened.push(bit);
      } catch (error) {
        expect(error).toMatchObject({ code: 'DECRYPT_FAILED' });
      }
    }
    expect(opened).toEqual([]);
  });

  it('flipping any single bit of the associated data is DECRYPT_FAILED (a box moved to another record)', async () => {
    const k = generateKey();
    const sealed = await seal(k, utf8('note'), AD);
    const opened: number[] = [];
    for (let bit = 0; bit < AD.length * 8; bit++) {
      try {
        await open(k, sealed, flipBit(AD, bit));
        opened.push(bit);
      } catch (error) {
        expect(error).toMatchObject({ code: 'DECRYPT_FAILED' });
      }
    }
    expect(opened).toEqual([]);
  });

  it('changing any byte of box or associated data, by any non-zero xor, is DECRYPT_FAILED', async () => {
    await fc.assert(
      fc.asyncProperty(key, bytes, fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (k, m, ad, at, xor, inBox) => {
        const sealed = await seal(k, m, ad);
        const box = sealed.slice();
        const data = ad.slice();
        if (inBox) box[at % box.length]! ^= xor;
        else data[at % data.length]! ^= xor;
        await expect(open(k, box, data)).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
      }),
      { numRuns: 100 },
    );
  });

  it('a box truncated or extended by any amount is DECRYPT_FAILED', async () => {
    const k = generateKey();
    const sealed = await seal(k, utf8('0123456789'), AD);
    for (let length = 0; length < sealed.length; length++) {
      await expect(open(k, sealed.subarray(0, length), AD)).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
    }
    await expect(open(k, concatBytes(sealed, new Uint8Array(1)), AD)).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
  });

  it('another key, or associated data of another record, is DECRYPT_FAILED', async () => {
    const k = generateKey();
    const sealed = await seal(k, utf8('x'), AD);
    await expect(open(generateKey(), sealed, AD)).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
    await expect(open(k, sealed, utf8('vault:v1/scope:labs/record:obs-2'))).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
    await expect(open(k, sealed, new Uint8Array(0))).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
  });
});

describe('key handling', () => {
  it('a key overwritten in place is used as it now is, never from the import cache', async () => {
    const k = generateKey();
    const sealed = await seal(k, utf8('lab result'), AD);
    const original = k.slice() as SymmetricKey;
    k.fill(0); // what a lock that zeroes key material does
    await expect(open(k, sealed, AD)).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
    expect(toHex(await open(original, sealed, AD))).toBe(toHex(utf8('lab result')));
    k.set(original); // and back
    expect(toHex(await open(k, sealed, AD))).toBe(toHex(utf8('lab result')));
  });

  it('generateKey gives 32 fresh random bytes', () => {
    const a = generateKey();
    expect(a).toHaveLength(32);
    expect(equalBytes(a, generateKey())).toBe(false);
  });
});

describe('bad input at the door', () => {
  const k = generateKey();
  const NOT_BYTES: readonly [string, unknown][] = [
    ['string', 'abc'],
    ['array', [1, 2, 3]],
    ['null', null],
    ['number', 3],
    ['ArrayBuffer', new ArrayBuffer(32)],
  ];

  it.each([0, 16, 24, 31, 33, 64])('a %s-byte key is INVALID_INPUT in seal, open and asSymmetricKey', async (length) => {
    const bad = new Uint8Array(length) as SymmetricKey;
    await expect(seal(bad, utf8('m'), AD)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: `"key" expected 32 bytes, got ${length}` });
    await expect(open(bad, new Uint8Array(40), AD)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(thrown(() => asSymmetricKey(bad, 'scopeKey')).message).toBe(`"scopeKey" expected 32 bytes, got ${length}`);
  });

  it.each(NOT_BYTES)('a %s as key, plaintext, box or associated data is a labelled INVALID_INPUT', async (_, bad) => {
    const box = await seal(k, utf8('m'), AD);
    await expect(seal(bad as SymmetricKey, utf8('m'), AD)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('"key"') as string });
    await expect(seal(k, bad as Uint8Array, AD)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('"plaintext"') as string });
    await expect(seal(k, utf8('m'), bad as Uint8Array)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('"associatedData"') as string });
    await expect(open(k, bad as Uint8Array, AD)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('"ciphertext"') as string });
    await expect(open(k, box, bad as Uint8Array)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('"associatedData"') as string });
  });

  it('a box shorter than nonce + tag is DECRYPT_FAILED without reaching WebCrypto', async () => {
    await expect(open(k, new Uint8Array(AEAD_NONCE_BYTES + AEAD_TAG_BYTES - 1), AD)).rejects.toMatchObject({ code: 'DECRYPT_FAILED', message: expect.stringContaining('shorter') as string });
  });

  it('a plaintext over AEAD_MAX_PLAINTEXT is refused before encrypting', async () => {
    await expect(seal(k, new Uint8Array(AEAD_MAX_PLAINTEXT + 1), AD)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('no error message carries key or plaintext bytes', async () => {
    const plaintext = utf8('SYNTHETIC-MARKER-7f3a');
    const box = await seal(k, plaintext, AD);
    const errors: unknown[] = [];
    await open(generateKey(), box, AD).catch((e: unknown) => errors.push(e));
    await open(k, flipBit(box, 100), AD).catch((e: unknown) => errors.push(e));
    await seal(k.subarray(0, 31) as SymmetricKey, plaintext, AD).catch((e: unknown) => errors.push(e));
    expect(errors).toHaveLength(3);
    for (const error of errors) {
      const text = `${String(error)} ${(error as Error).stack ?? ''} ${JSON.stringify(error)}`;
      for (const form of [toHex(k), toBase64Url(k), toBase58(k), 'SYNTHETIC-MARKER', toHex(plaintext)]) expect(text).not.toContain(form);
    }
  });
});
