import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toBase58, toBase64Url, toHex, utf8 } from './bytes.js';
import {
  generateIdentity,
  identityFromSecretKey,
  libp2pRawPrivateKey,
  sign,
  signReference,
  verify,
  verifyBatch,
  verifyByDid,
  verifyReference,
  type Identity,
} from './identity.js';
import { flipBit, loadVectors, thrown } from './test-support.js';

interface Rfc8032Vector {
  name: string;
  secretKey: string;
  publicKey: string;
  message: string;
  signature: string;
}
const RFC8032 = loadVectors<{ vectors: Rfc8032Vector[] }>('ed25519/rfc8032-section7.1-ed25519.json').vectors;

interface WycheproofTest {
  tcId: number;
  comment: string;
  msg: string;
  sig: string;
  result: 'valid' | 'invalid';
  flags: string[];
}
const WYCHEPROOF = loadVectors<{ numberOfTests: number; testGroups: { publicKey: { pk: string }; tests: WycheproofTest[] }[] }>(
  'ed25519/wycheproof-ed25519_test.json',
);
const WYCHEPROOF_CASES = WYCHEPROOF.testGroups.flatMap((g) => g.tests.map((t) => ({ ...t, pk: g.publicKey.pk })));

const ZIP215 = loadVectors<{ vk_bytes: string; sig_bytes: string }[]>('ed25519/zip215.json');
const SPECCHECK = loadVectors<{ message: string; pub_key: string; signature: string }[]>('ed25519/speccheck-edge-cases.json');

describe('RFC 8032 §7.1 Ed25519 vectors', () => {
  it('has TEST 1, 2, 3, 1024 and SHA(abc)', () => {
    expect(RFC8032).toHaveLength(5);
  });

  it.each(RFC8032)('$name: the seed gives the public key', (v) => {
    expect(toHex(identityFromSecretKey(fromHex(v.secretKey)).publicKey)).toBe(v.publicKey);
  });

  it.each(RFC8032)('$name: sign() through WebCrypto gives the exact signature', async (v) => {
    const id = identityFromSecretKey(fromHex(v.secretKey));
    expect(toHex(await sign(id, fromHex(v.message)))).toBe(v.signature);
  });

  it.each(RFC8032)('$name: the noble reference signer gives the exact signature', (v) => {
    const id = identityFromSecretKey(fromHex(v.secretKey));
    expect(toHex(signReference(id, fromHex(v.message)))).toBe(v.signature);
  });

  it.each(RFC8032)('$name: both verifiers accept it, and refuse it for a changed message', async (v) => {
    const pk = fromHex(v.publicKey);
    const msg = fromHex(v.message);
    const sig = fromHex(v.signature);
    expect(await verify(pk, msg, sig)).toBe(true);
    expect(verifyReference(pk, msg, sig)).toBe(true);
    const other = new Uint8Array([...msg, 0]);
    expect(await verify(pk, other, sig)).toBe(false);
    expect(verifyReference(pk, other, sig)).toBe(false);
  });
});

describe('Wycheproof Ed25519 (C2SP/wycheproof ed25519_test.json)', () => {
  it('has all 151 tests', () => {
    expect(WYCHEPROOF_CASES).toHaveLength(151);
    expect(WYCHEPROOF.numberOfTests).toBe(151);
  });

  it.each(WYCHEPROOF_CASES)('tcId $tcId ($result, $flags): verify() and verifyReference() both give the expected result', async (t) => {
    const expected = t.result === 'valid';
    const pk = fromHex(t.pk);
    expect(await verify(pk, fromHex(t.msg), fromHex(t.sig))).toBe(expected);
    expect(verifyReference(pk, fromHex(t.msg), fromHex(t.sig))).toBe(expected);
  });
});

describe('one verdict on every platform (small-order and non-canonical edge cases)', () => {
  const zcash = utf8('Zcash'); // the message of the ZIP-215 vectors

  it('has the 196 ZIP-215 vectors and the 12 speccheck cases', () => {
    expect(ZIP215).toHaveLength(196);
    expect(SPECCHECK).toHaveLength(12);
  });

  it('WebCrypto and the reference agree on every ZIP-215 vector, and refuse them all (every key is of small order)', async () => {
    const verdicts: string[] = [];
    for (const v of ZIP215) {
      const web = await verify(fromHex(v.vk_bytes), zcash, fromHex(v.sig_bytes));
      const ref = verifyReference(fromHex(v.vk_bytes), zcash, fromHex(v.sig_bytes));
      if (web || ref) verdicts.push(`${v.vk_bytes}/${v.sig_bytes.slice(0, 64)}: webcrypto ${web}, reference ${ref}`);
    }
    expect(verdicts).toEqual([]);
  });

  it('WebCrypto and the reference agree on the 12 "Taming the many EdDSAs" cases, with the documented verdicts', async () => {
    // Cases (eprint 2020/1244): 0 small A and R, S = 0; 1 small A; 2–3 mixed-order A, valid
    // under both equations; 4–5 valid only under the cofactored equation; 6–7 S ≥ L;
    // 8–9 non-canonical R; 10–11 non-canonical A. We accept exactly 2 and 3.
    const expected = [false, false, true, true, false, false, false, false, false, false, false, false];
    const web: boolean[] = [];
    const ref: boolean[] = [];
    for (const v of SPECCHECK) {
      web.push(await verify(fromHex(v.pub_key), fromHex(v.message), fromHex(v.signature)));
      ref.push(verifyReference(fromHex(v.pub_key), fromHex(v.message), fromHex(v.signature)));
    }
    expect(web).toEqual(expected);
    expect(ref).toEqual(expected);
  });

  it('refuses a signature whose S is replaced by S + L (malleability), on both paths', async () => {
    const v = RFC8032[0]!;
    const sig = fromHex(v.signature);
    const order = ed25519.Point.Fn.ORDER;
    let s = 0n;
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]!);
    let sPlusL = s + order;
    const malleated = sig.slice();
    for (let i = 32; i < 64; i++) {
      malleated[i] = Number(sPlusL & 0xffn);
      sPlusL >>= 8n;
    }
    expect(await verify(fromHex(v.publicKey), new Uint8Array(0), malleated)).toBe(false);
    expect(verifyReference(fromHex(v.publicKey), new Uint8Array(0), malleated)).toBe(false);
  });
});

describe('properties', () => {
  const seed = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const message = fc.uint8Array({ maxLength: 256 });

  it('sign then verify succeeds, on both paths, and both signers give the same bytes', async () => {
    await fc.assert(
      fc.asyncProperty(seed, message, async (s, m) => {
        const id = identityFromSecretKey(s);
        const sig = await sign(id, m);
        expect(toHex(sig)).toBe(toHex(signReference(id, m)));
        expect(await verify(id.publicKey, m, sig)).toBe(true);
        expect(verifyReference(id.publicKey, m, sig)).toBe(true);
        // noble's own (cofactored, strict) verifier as a third opinion on honest signatures.
        expect(ed25519.verify(sig, m, id.publicKey, { zip215: false })).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('flipping any bit of the signature is refused (all 512 bits, one key)', async () => {
    const id = identityFromSecretKey(fromHex(RFC8032[2]!.secretKey));
    const msg = utf8('grant: scope labs to a clinic');
    const sig = await sign(id, msg);
    const accepted: number[] = [];
    for (let bit = 0; bit < 512; bit++) if (await verify(id.publicKey, msg, flipBit(sig, bit))) accepted.push(bit);
    expect(accepted).toEqual([]);
  });

  it('flipping any bit of the message is refused (all bits, one key)', async () => {
    const id = generateIdentity();
    const msg = utf8('revoke grant 7');
    const sig = await sign(id, msg);
    const accepted: number[] = [];
    for (let bit = 0; bit < msg.length * 8; bit++) if (await verify(id.publicKey, flipBit(msg, bit), sig)) accepted.push(bit);
    expect(accepted).toEqual([]);
  });

  it('flipping a random byte of signature or message is refused by both verifiers', async () => {
    await fc.assert(
      fc.asyncProperty(seed, fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (s, m, at, xor, inSignature) => {
        const id = identityFromSecretKey(s);
        const sig = await sign(id, m);
        const badSig = sig.slice();
        const badMsg = m.slice();
        if (inSignature) badSig[at % 64]! ^= xor;
        else badMsg[at % m.length]! ^= xor;
        expect(await verify(id.publicKey, badMsg, badSig)).toBe(false);
        expect(verifyReference(id.publicKey, badMsg, badSig)).toBe(false);
      }),
      { numRuns: 40 },
    );
  });

  it('a signature by one key does not verify under another', async () => {
    const a = generateIdentity();
    const b = generateIdentity();
    const msg = utf8('same message');
    const sig = await sign(a, msg);
    expect(await verify(b.publicKey, msg, sig)).toBe(false);
    expect(verifyReference(b.publicKey, msg, sig)).toBe(false);
  });

  it('WebCrypto and the reference agree on random keys, messages and signatures (mostly garbage)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), message, fc.uint8Array({ minLength: 64, maxLength: 64 }), async (pk, m, sig) => {
        expect(await verify(pk, m, sig)).toBe(verifyReference(pk, m, sig));
      }),
      { numRuns: 100 },
    );
  });

  it('WebCrypto and the reference agree on honest signatures with one random byte changed anywhere', async () => {
    await fc.assert(
      fc.asyncProperty(seed, message, fc.nat({ max: 32 + 64 - 1 }), fc.integer({ min: 1, max: 255 }), async (s, m, at, xor) => {
        const id = identityFromSecretKey(s);
        const sig = await sign(id, m);
        const pk = id.publicKey.slice();
        if (at < 32) pk[at]! ^= xor;
        else sig[at - 32]! ^= xor;
        expect(await verify(pk, m, sig)).toBe(verifyReference(pk, m, sig));
      }),
      { numRuns: 60 },
    );
  });
});

describe('verifyBatch and verifyByDid', () => {
  it('returns one verdict per item, in input order, more items than in flight at once', async () => {
    const ids = [generateIdentity(), generateIdentity(), generateIdentity()];
    const items = await Promise.all(
      Array.from({ length: 150 }, async (_, i) => {
        const id = ids[i % 3]!;
        const message = utf8(`entry ${i}`);
        const signature = await sign(id, message);
        // Every 7th item is signed by the wrong key for its claimed author.
        return { publicKey: i % 7 === 0 ? ids[(i + 1) % 3]!.publicKey : id.publicKey, message, signature };
      }),
    );
    const verdicts = await verifyBatch(items);
    expect(verdicts).toEqual(items.map((_, i) => i % 7 !== 0));
    expect(await verifyBatch([])).toEqual([]);
  });

  it('refuses a batch that is not an array of objects with a labelled INVALID_INPUT', async () => {
    await expect(verifyBatch(null as unknown as [])).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(verifyBatch([null] as unknown as [])).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('"items[0]"') as string });
  });

  it('verifies by did:key, and a malformed did is BAD_DID (a rejected promise, not a throw)', async () => {
    const id = generateIdentity();
    const msg = utf8('m');
    const sig = await sign(id, msg);
    expect(await verifyByDid(id.did, msg, sig)).toBe(true);
    expect(await verifyByDid(generateIdentity().did, msg, sig)).toBe(false);
    const pending = verifyByDid('did:key:zNotAKey', msg, sig);
    await expect(pending).rejects.toMatchObject({ code: 'BAD_DID' });
  });
});

describe('bad input at the door', () => {
  const id = identityFromSecretKey(fromHex(RFC8032[0]!.secretKey));
  const msg = utf8('m');

  const NOT_BYTES: readonly [string, unknown][] = [
    ['string', 'abc'],
    ['array', [1, 2]],
    ['null', null],
    ['number', 7],
    ['ArrayBuffer', new ArrayBuffer(32)],
  ];

  it.each(NOT_BYTES)('verify refuses a %s as publicKey, message or signature with a labelled INVALID_INPUT', async (_, bad) => {
    const sig = await sign(id, msg);
    await expect(verify(bad as Uint8Array, msg, sig)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('"publicKey"') as string });
    await expect(verify(id.publicKey, bad as Uint8Array, sig)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('"message"') as string });
    await expect(verify(id.publicKey, msg, bad as Uint8Array)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('"signature"') as string });
    expect(thrown(() => verifyReference(bad as Uint8Array, msg, sig)).code).toBe('INVALID_INPUT');
  });

  it('wrong-length keys and signatures verify as false on both paths', async () => {
    const sig = await sign(id, msg);
    for (const pk of [id.publicKey.subarray(0, 31), new Uint8Array([...id.publicKey, 0]), new Uint8Array(0)]) {
      expect(await verify(pk, msg, sig)).toBe(false);
      expect(verifyReference(pk, msg, sig)).toBe(false);
    }
    for (const s of [sig.subarray(0, 63), new Uint8Array([...sig, 0]), new Uint8Array(0)]) {
      expect(await verify(id.publicKey, msg, s)).toBe(false);
      expect(verifyReference(id.publicKey, msg, s)).toBe(false);
    }
  });

  it('a secret key of the wrong length or type is INVALID_INPUT', () => {
    expect(thrown(() => identityFromSecretKey(new Uint8Array(31))).message).toBe('"secretKey" expected 32 bytes, got 31');
    expect(thrown(() => identityFromSecretKey(new Uint8Array(64))).code).toBe('INVALID_INPUT');
    expect(thrown(() => identityFromSecretKey('seed' as unknown as Uint8Array)).code).toBe('INVALID_INPUT');
  });

  it('sign refuses a non-identity, a non-bytes message, and an identity whose halves do not match', async () => {
    await expect(sign(null as unknown as Identity, msg)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(sign({ ...id, secretKey: new Uint8Array(16) }, msg)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('identity.secretKey') as string });
    await expect(sign(id, 'text' as unknown as Uint8Array)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    const other = generateIdentity();
    const mixed: Identity = { did: id.did, publicKey: other.publicKey, secretKey: id.secretKey };
    await expect(sign(mixed, msg)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('does not belong') as string });
    expect(thrown(() => signReference(mixed, msg)).message).toContain('does not belong');
  });

  it('a secret key overwritten in place is never used from the import cache', async () => {
    const seedBytes = fromHex(RFC8032[1]!.secretKey);
    const live = identityFromSecretKey(seedBytes);
    await sign(live, msg); // imports and caches the key
    // Overwrite both halves in place with another identity's (a caller reusing its buffers).
    const next = identityFromSecretKey(fromHex(RFC8032[2]!.secretKey));
    live.secretKey.set(next.secretKey);
    live.publicKey.set(next.publicKey);
    const sig = await sign(live, msg);
    expect(await verify(next.publicKey, msg, sig)).toBe(true);
    // Zeroed on lock: the zero seed's key no longer matches the public half, so signing refuses.
    live.secretKey.fill(0);
    await expect(sign(live, msg)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('no error message carries key material', async () => {
    const secretForms = [toHex(id.secretKey), toBase64Url(id.secretKey), toBase58(id.secretKey)];
    const other = generateIdentity();
    const errors: unknown[] = [];
    await sign({ did: id.did, publicKey: other.publicKey, secretKey: id.secretKey }, msg).catch((e: unknown) => errors.push(e));
    await sign({ ...id, secretKey: id.secretKey.subarray(0, 31) }, msg).catch((e: unknown) => errors.push(e));
    try {
      signReference({ did: id.did, publicKey: other.publicKey, secretKey: id.secretKey }, msg);
    } catch (e) {
      errors.push(e);
    }
    expect(errors).toHaveLength(3);
    for (const error of errors) {
      const text = `${String(error)} ${(error as Error).stack ?? ''} ${JSON.stringify(error)}`;
      for (const form of secretForms) expect(text).not.toContain(form);
    }
  });
});

describe('libp2pRawPrivateKey', () => {
  it('is secret ‖ public, the form libp2p privateKeyFromRaw takes', () => {
    const v = RFC8032[0]!;
    const id = identityFromSecretKey(fromHex(v.secretKey));
    expect(toHex(libp2pRawPrivateKey(id))).toBe(v.secretKey + v.publicKey);
  });
});
