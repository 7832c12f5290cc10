import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, equalBytes, fromBase58, fromBase64Url, fromHex, toBase58, toHex, utf8 } from './bytes.js';
import { generateIdentity, identityFromSecretKey, type Identity } from './identity.js';
import { openSealed, sealTo } from './seal-to.js';
import { flipBit, loadVectors } from './test-support.js';

interface Rfc7748 {
  scalarMultiplication: { name: string; scalar: string; u: string; output: string }[];
  iterated: { start: string; after1: string; after1000: string };
  diffieHellman: { alicePrivate: string; alicePublic: string; bobPrivate: string; bobPublic: string; shared: string };
}
const RFC7748 = loadVectors<Rfc7748>('x25519/rfc7748.json');

interface DidKeyVector {
  seed: string;
  keyAgreementKeyPair: { id: string; publicKeyBase58?: string; privateKeyBase58?: string; publicKeyJwk?: { x: string }; privateKeyJwk?: { d: string } };
}
const DID_KEYS = Object.entries(loadVectors<Record<string, DidKeyVector>>('did-key/w3c-ccg-did-key-ed25519-x25519.json'));

const AD = utf8('grant:g-1/scope:labs/epoch:3');

describe('RFC 7748 X25519 through @noble/curves (the key agreement sealTo uses)', () => {
  it.each(RFC7748.scalarMultiplication)('$name', (v) => {
    expect(toHex(x25519.scalarMult(fromHex(v.scalar), fromHex(v.u)))).toBe(v.output);
  });

  it('§5.2 iterated: after 1 and after 1,000 iterations', () => {
    let k = fromHex(RFC7748.iterated.start);
    let u = fromHex(RFC7748.iterated.start);
    for (let i = 1; i <= 1000; i++) {
      const next = x25519.scalarMult(k, u);
      u = k;
      k = next;
      if (i === 1) expect(toHex(k)).toBe(RFC7748.iterated.after1);
    }
    expect(toHex(k)).toBe(RFC7748.iterated.after1000);
  });

  it('§6.1 Diffie-Hellman: both public keys and the shared secret, from either side', () => {
    const v = RFC7748.diffieHellman;
    expect(toHex(x25519.getPublicKey(fromHex(v.alicePrivate)))).toBe(v.alicePublic);
    expect(toHex(x25519.getPublicKey(fromHex(v.bobPrivate)))).toBe(v.bobPublic);
    expect(toHex(x25519.getSharedSecret(fromHex(v.alicePrivate), fromHex(v.bobPublic)))).toBe(v.shared);
    expect(toHex(x25519.getSharedSecret(fromHex(v.bobPrivate), fromHex(v.alicePublic)))).toBe(v.shared);
  });
});

describe('Ed25519 → X25519 conversion matches the did:key spec vectors (W3C CCG)', () => {
  it.each(DID_KEYS)('%s: X(public), X(secret) and the z6LS key-agreement id', (_, v) => {
    const id = identityFromSecretKey(fromHex(v.seed));
    const ka = v.keyAgreementKeyPair;
    const expectedPublic = ka.publicKeyBase58 !== undefined ? fromBase58(ka.publicKeyBase58) : fromBase64Url(ka.publicKeyJwk!.x);
    const expectedSecret = ka.privateKeyBase58 !== undefined ? fromBase58(ka.privateKeyBase58) : fromBase64Url(ka.privateKeyJwk!.d);
    const xPublic = ed25519.utils.toMontgomery(id.publicKey);
    expect(toHex(xPublic)).toBe(toHex(expectedPublic));
    expect(toHex(ed25519.utils.toMontgomerySecret(id.secretKey))).toBe(toHex(expectedSecret));
    // multicodec x25519-pub (0xec) as a varint, base58btc: the fragment after '#'.
    expect(ka.id.endsWith(`#z${toBase58(concatBytes(new Uint8Array([0xec, 0x01]), xPublic))}`)).toBe(true);
  });
});

describe('sealTo / openSealed', () => {
  it('opens a box built by hand from the documented construction (pins the format)', async () => {
    // box = 0x01 ‖ E ‖ AES-256-GCM(HKDF-SHA-256(X25519(e, X(B)), E ‖ X(B), "patient-vault/seal-to/v1"), m, ad)
    const recipient = identityFromSecretKey(fromHex(DID_KEYS[1]![1].seed));
    const e = fromHex(RFC7748.diffieHellman.alicePrivate);
    const E = x25519.getPublicKey(e);
    const xB = ed25519.utils.toMontgomery(recipient.publicKey);
    const key = hkdf(sha256, x25519.getSharedSecret(e, xB), concatBytes(E, xB), utf8('patient-vault/seal-to/v1'), 32);
    const nonce = fromHex('000102030405060708090a0b');
    const webKey = await globalThis.crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['encrypt']);
    const body = new Uint8Array(
      await globalThis.crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce as Uint8Array<ArrayBuffer>, additionalData: AD as Uint8Array<ArrayBuffer> }, webKey, utf8('scope key bytes') as Uint8Array<ArrayBuffer>),
    );
    const box = concatBytes(new Uint8Array([0x01]), E, nonce, body);
    expect(toHex(await openSealed(recipient, box, AD))).toBe(toHex(utf8('scope key bytes')));
  });

  it('round-trips to a did and to a raw public key, for any plaintext and associated data', async () => {
    const recipient = generateIdentity();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 64 }), fc.boolean(), async (m, ad, byDid) => {
        const box = await sealTo(byDid ? recipient.did : recipient.publicKey, m, ad);
        return equalBytes(await openSealed(recipient, box, ad), m);
      }),
      { numRuns: 50 },
    );
  });

  it('uses a fresh ephemeral key per box', async () => {
    const recipient = generateIdentity();
    const a = await sealTo(recipient.did, utf8('k'), AD);
    const b = await sealTo(recipient.did, utf8('k'), AD);
    expect(equalBytes(a.subarray(1, 33), b.subarray(1, 33))).toBe(false);
  });

  it('another identity cannot open it (DECRYPT_FAILED)', async () => {
    const box = await sealTo(generateIdentity().did, utf8('scope key'), AD);
    await expect(openSealed(generateIdentity(), box, AD)).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
  });

  it('flipping any single bit of the box or the associated data is DECRYPT_FAILED (every bit of one box)', async () => {
    const recipient = generateIdentity();
    const box = await sealTo(recipient.did, utf8('k'), AD);
    const opened: string[] = [];
    for (let bit = 0; bit < box.length * 8; bit++) {
      try {
        await openSealed(recipient, flipBit(box, bit), AD);
        opened.push(`box bit ${bit}`);
      } catch (error) {
        expect(error).toMatchObject({ code: 'DECRYPT_FAILED' });
      }
    }
    for (let bit = 0; bit < AD.length * 8; bit++) {
      try {
        await openSealed(recipient, box, flipBit(AD, bit));
        opened.push(`ad bit ${bit}`);
      } catch (error) {
        expect(error).toMatchObject({ code: 'DECRYPT_FAILED' });
      }
    }
    expect(opened).toEqual([]);
  });

  it('changing any byte by any xor, truncating or extending is DECRYPT_FAILED', async () => {
    const recipient = generateIdentity();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), fc.nat(), fc.integer({ min: 1, max: 255 }), async (m, at, xor) => {
        const box = await sealTo(recipient.publicKey, m, AD);
        const bad = box.slice();
        bad[at % bad.length]! ^= xor;
        await expect(openSealed(recipient, bad, AD)).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
        await expect(openSealed(recipient, box.subarray(0, at % box.length), AD)).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
        await expect(openSealed(recipient, concatBytes(box, new Uint8Array([xor])), AD)).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
      }),
      { numRuns: 40 },
    );
  });

  it('a box of another version is DECRYPT_FAILED', async () => {
    const recipient = generateIdentity();
    const box = await sealTo(recipient.did, utf8('k'), AD);
    for (const version of [0x00, 0x02, 0xff]) {
      const other = box.slice();
      other[0] = version;
      await expect(openSealed(recipient, other, AD)).rejects.toMatchObject({ code: 'DECRYPT_FAILED', message: expect.stringContaining('version 1') as string });
    }
  });
});

describe('low-order points are refused', () => {
  /** X25519 u-coordinates of small order (RFC 7748 §7 warns of them), with non-canonical forms. */
  const LOW_ORDER_U = [
    '0000000000000000000000000000000000000000000000000000000000000000', // 0
    '0100000000000000000000000000000000000000000000000000000000000000', // 1
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', // order 8
    '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157', // order 8
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p − 1 (order 2)
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p ≡ 0
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p + 1 ≡ 1
  ];

  it('the list really is of low order: X25519 of any scalar with them is all zeros (noble refuses it)', () => {
    const scalar = x25519.utils.randomSecretKey();
    for (const u of LOW_ORDER_U) expect(() => x25519.scalarMult(scalar, fromHex(u))).toThrow();
  });

  it.each(LOW_ORDER_U)('a box whose ephemeral key is %s is DECRYPT_FAILED, named as low order', async (u) => {
    const recipient = generateIdentity();
    const box = await sealTo(recipient.did, utf8('k'), AD);
    box.set(fromHex(u), 1);
    await expect(openSealed(recipient, box, AD)).rejects.toMatchObject({ code: 'DECRYPT_FAILED', message: expect.stringContaining('low-order') as string });
  });

  /** The 14 Ed25519 encodings of small-order points of the ZIP-215 set (canonical and not). */
  const SMALL_ORDER_ED = [...new Set(loadVectors<{ vk_bytes: string }[]>('ed25519/zip215.json').map((v) => v.vk_bytes))];

  it('there are 14 of them', () => {
    expect(SMALL_ORDER_ED).toHaveLength(14);
  });

  it.each(SMALL_ORDER_ED)('sealTo a recipient key %s is INVALID_INPUT (nothing sealed to it would be secret)', async (pk) => {
    await expect(sealTo(fromHex(pk), utf8('scope key'), AD)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('"recipient"') as string });
  });
});

describe('bad input at the door', () => {
  const recipient = generateIdentity();

  it('a malformed did is BAD_DID; a recipient of another type or length is INVALID_INPUT', async () => {
    await expect(sealTo('did:key:z6Mk', utf8('k'), AD)).rejects.toMatchObject({ code: 'BAD_DID' });
    await expect(sealTo('did:web:example.org', utf8('k'), AD)).rejects.toMatchObject({ code: 'BAD_DID' });
    for (const bad of [recipient.publicKey.subarray(0, 31), new Uint8Array(33), 42, null, [1, 2], new ArrayBuffer(32)]) {
      await expect(sealTo(bad as Uint8Array, utf8('k'), AD)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('"recipient"') as string });
    }
  });

  it('non-bytes plaintext or associated data is a labelled INVALID_INPUT', async () => {
    await expect(sealTo(recipient.did, 'scope key' as unknown as Uint8Array, AD)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('"plaintext"') as string });
    await expect(sealTo(recipient.did, utf8('k'), null as unknown as Uint8Array)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('"associatedData"') as string });
  });

  it('openSealed refuses a non-identity, a non-bytes box or associated data with a labelled INVALID_INPUT', async () => {
    const box = await sealTo(recipient.did, utf8('k'), AD);
    await expect(openSealed(null as unknown as Identity, box, AD)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('"identity"') as string });
    await expect(openSealed({ ...recipient, secretKey: new Uint8Array(31) }, box, AD)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(openSealed(recipient, Array.from(box) as unknown as Uint8Array, AD)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('"box"') as string });
    await expect(openSealed(recipient, box, 'ad' as unknown as Uint8Array)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('"associatedData"') as string });
  });
});
