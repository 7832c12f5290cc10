import * as nodeCrypto from 'node:crypto';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { equalBytes, fromHex, toHex, utf8 } from './bytes.js';
import { SHA256_BACKEND, hkdfSha256, hmacSha256, sha256, sha256Async, sha256Reference, sha256WithNode, type NodeHash } from './hash.js';
import { loadVectors, thrown } from './test-support.js';

interface HkdfVector {
  name: string;
  ikm: string;
  salt: string;
  info: string;
  length: number;
  prk: string;
  okm: string;
}
const { vectors: HKDF } = loadVectors<{ vectors: HkdfVector[] }>('hkdf/rfc5869-sha256.json');

describe('hkdfSha256 (RFC 5869)', () => {
  it('has the three SHA-256 test cases of Appendix A', () => {
    expect(HKDF.map((v) => v.name)).toHaveLength(3);
  });

  it.each(HKDF)('reproduces the OKM of $name', (v) => {
    expect(toHex(hkdfSha256(fromHex(v.ikm), fromHex(v.salt), fromHex(v.info), v.length))).toBe(v.okm);
  });

  it.each(HKDF.filter((v) => v.salt.length === 0 || v.salt.length >= 32))('reproduces the PRK of $name through hmacSha256 (extract = HMAC(salt, IKM))', (v) => {
    // §2.2: an absent salt is HashLen zero bytes. (Test case 1's 13-byte salt is below the
    // 16-byte floor hmacSha256 keeps for its own use as a keyed hash, so it is not checked here.)
    const salt = v.salt.length === 0 ? new Uint8Array(32) : fromHex(v.salt);
    expect(toHex(hmacSha256(salt, fromHex(v.ikm)))).toBe(v.prk);
  });

  it('agrees with noble hkdf on random inputs and lengths', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 80 }), fc.integer({ min: 1, max: 255 * 32 }), (ikm, salt, info, length) =>
        equalBytes(hkdfSha256(ikm, salt, info, length), hkdf(nobleSha256, ikm, salt, info, length)),
      ),
      { numRuns: 50 },
    );
  });

  it.each([0, -1, 255 * 32 + 1, 1.5, Number.NaN])('refuses output length %s', (length) => {
    expect(thrown(() => hkdfSha256(new Uint8Array(32), new Uint8Array(0), new Uint8Array(0), length)).code).toBe('INVALID_INPUT');
  });

  it('names the argument that is not bytes', () => {
    expect(thrown(() => hkdfSha256('secret' as unknown as Uint8Array, new Uint8Array(0), new Uint8Array(0), 32)).message).toContain('"ikm"');
    expect(thrown(() => hkdfSha256(new Uint8Array(32), null as unknown as Uint8Array, new Uint8Array(0), 32)).message).toContain('"salt"');
    expect(thrown(() => hkdfSha256(new Uint8Array(32), new Uint8Array(0), [1] as unknown as Uint8Array, 32)).message).toContain('"info"');
  });
});

describe('sha256', () => {
  it('matches FIPS 180-2 Appendix B.1 ("abc") and the empty string', () => {
    expect(toHex(sha256(utf8('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(toHex(sha256(new Uint8Array(0)))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('gives the same digest through WebCrypto (sha256Async) as through noble', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (data) => equalBytes(await sha256Async(data), sha256(data))), { numRuns: 50 });
  });

  it('refuses non-bytes in both forms', async () => {
    expect(thrown(() => sha256('abc' as unknown as Uint8Array)).code).toBe('INVALID_INPUT');
    await expect(sha256Async(new ArrayBuffer(3) as unknown as Uint8Array)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});

describe('hmacSha256', () => {
  it('matches RFC 4231 test case 6 (a 131-byte key, longer than the block)', () => {
    // RFC 4231 §4.7, HMAC-SHA-256 with a key longer than the block size.
    const key = new Uint8Array(131).fill(0xaa);
    const data = utf8('Test Using Larger Than Block-Size Key - Hash Key First');
    expect(toHex(hmacSha256(key, data))).toBe('60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54');
  });

  it('refuses keys shorter than 16 bytes (it is our keyed hash for record ids)', () => {
    expect(thrown(() => hmacSha256(new Uint8Array(15), new Uint8Array(0))).code).toBe('INVALID_INPUT');
    expect(thrown(() => hmacSha256(null as unknown as Uint8Array, new Uint8Array(0))).message).toContain('"key"');
  });
});

describe('sha256 backends (node:crypto under Node, noble as the reference)', () => {
  it('uses node:crypto under Node', () => {
    expect(SHA256_BACKEND).toBe('node:crypto');
  });

  it('agree with noble on the FIPS 180-4 examples and on random inputs of 0–2,000 bytes', () => {
    expect(toHex(sha256(utf8('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(toHex(sha256(new Uint8Array(0)))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (data) => {
        expect(toHex(sha256WithNode(nodeCrypto as unknown as NodeHash, data))).toBe(toHex(nobleSha256(data)));
        expect(toHex(sha256Reference(data))).toBe(toHex(nobleSha256(data)));
        expect(toHex(sha256(data))).toBe(toHex(nobleSha256(data)));
      }),
      { numRuns: 300 },
    );
  });

  it('hashes a view by its own bytes only (subarray of a larger buffer)', () => {
    const whole = new Uint8Array(100).map((_, i) => i);
    expect(toHex(sha256(whole.subarray(10, 40)))).toBe(toHex(nobleSha256(whole.slice(10, 40))));
  });

  it('returns a plain Uint8Array of 32 bytes that owns its buffer', () => {
    const digest = sha256(utf8('x'));
    expect(digest.constructor).toBe(Uint8Array);
    expect(digest.byteOffset).toBe(0);
    expect(digest.buffer.byteLength).toBe(32);
  });
});
