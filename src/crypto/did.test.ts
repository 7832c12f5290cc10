import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromBase58, fromBase64Url, fromHex, toBase58, toHex } from './bytes.js';
import { didFromPublicKey, parseDid, publicKeyFromDid } from './did.js';
import { identityFromSecretKey } from './identity.js';
import { loadVectors, thrown } from './test-support.js';

interface DidKeyVector {
  seed: string;
  verificationKeyPair: { id: string; publicKeyBase58?: string; publicKeyJwk?: { x: string } };
  didDocument: { id: string; verificationMethod: { id: string }[] };
}
const DID_KEYS = Object.entries(loadVectors<Record<string, DidKeyVector>>('did-key/w3c-ccg-did-key-ed25519-x25519.json'));

describe('did:key vectors (W3C CCG did-method-key, Ed25519)', () => {
  it('has the five vectors', () => {
    expect(DID_KEYS).toHaveLength(5);
  });

  it.each(DID_KEYS)('%s: the seed gives this did, and the did gives back the public key', (did, v) => {
    const id = identityFromSecretKey(fromHex(v.seed));
    expect(id.did).toBe(did);
    expect(didFromPublicKey(id.publicKey)).toBe(did);
    const published = v.verificationKeyPair.publicKeyBase58 !== undefined ? fromBase58(v.verificationKeyPair.publicKeyBase58) : fromBase64Url(v.verificationKeyPair.publicKeyJwk!.x);
    expect(toHex(publicKeyFromDid(did))).toBe(toHex(published));
    expect(toHex(publicKeyFromDid(did))).toBe(toHex(id.publicKey));
    expect(parseDid(did)).toBe(did);
    expect(v.didDocument.id).toBe(did);
    expect(v.didDocument.verificationMethod[0]!.id).toBe(`${did}#${did.slice('did:key:'.length)}`);
  });
});

describe('did round trip', () => {
  it('any 32-byte key → did → the same key, and the did parses as itself', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (pk) => {
        const did = didFromPublicKey(pk);
        expect(did.startsWith('did:key:z6Mk')).toBe(true);
        expect(toHex(publicKeyFromDid(did))).toBe(toHex(pk));
        expect(parseDid(did)).toBe(did);
      }),
    );
  });
});

describe('hostile dids are BAD_DID', () => {
  const good = DID_KEYS[0]![0];
  const multibase = good.slice('did:key:z'.length);
  const key = publicKeyFromDid(good);

  it.each([
    ['another method', 'did:web:example.org'],
    ['another multibase (hex, f)', `did:key:f${'ed01' + toHex(key)}`],
    ['no multibase prefix', `did:key:${multibase}`],
    ['upper-case scheme', good.replace('did:key', 'DID:KEY')],
    ['the X25519 key-agreement key (multicodec 0xec)', `did:key:z${toBase58(concatBytes(new Uint8Array([0xec, 0x01]), key))}`],
    ['a secp256k1 multicodec (0xe7)', `did:key:z${toBase58(concatBytes(new Uint8Array([0xe7, 0x01]), new Uint8Array(33)))}`],
    ['a key one byte short', `did:key:z${toBase58(concatBytes(new Uint8Array([0xed, 0x01]), key.subarray(1)))}`],
    ['a key one byte long', `did:key:z${toBase58(concatBytes(new Uint8Array([0xed, 0x01]), key, new Uint8Array(1)))}`],
    ['a leading zero byte before the multicodec', `did:key:z1${multibase}`],
    ['a character outside base58 (0)', `${good.slice(0, -1)}0`],
    ['trailing whitespace', `${good} `],
    ['a trailing newline', `${good}\n`],
    ['a fragment', `${good}#${multibase}`],
    ['nothing after the prefix', 'did:key:z'],
    ['the empty string', ''],
    ['a 10,000-character string', `did:key:z${'2'.repeat(10_000)}`],
  ])('%s', (_, did) => {
    expect(thrown(() => publicKeyFromDid(did)).code).toBe('BAD_DID');
    expect(thrown(() => parseDid(did)).code).toBe('BAD_DID');
  });

  it.each([
    ['null', null],
    ['a number', 42],
    ['bytes', new Uint8Array(34)],
    ['an object', { did: 'did:key:z6Mk' }],
  ])('a non-string (%s) is BAD_DID', (_, value) => {
    expect(thrown(() => parseDid(value)).code).toBe('BAD_DID');
    expect(thrown(() => publicKeyFromDid(value as unknown as string)).code).toBe('BAD_DID');
  });

  it('no error message repeats the did it refused', () => {
    const hostile = `did:key:z${'3'.repeat(60)}<script>`;
    expect(thrown(() => parseDid(hostile)).message).not.toContain('<script>');
  });
});

describe('didFromPublicKey input', () => {
  it('refuses a key of the wrong length or type with INVALID_INPUT', () => {
    expect(thrown(() => didFromPublicKey(new Uint8Array(31))).message).toBe('"publicKey" expected 32 bytes, got 31');
    expect(thrown(() => didFromPublicKey('key' as unknown as Uint8Array)).code).toBe('INVALID_INPUT');
  });
});
