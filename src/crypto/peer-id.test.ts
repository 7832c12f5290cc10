import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from './bytes.js';
import { CryptoError } from './errors.js';
import { generateIdentity, sign, verify, type Identity } from './identity.js';
import { didFromPeerId, libp2pPrivateKey, peerIdFromDid, peerIdOf } from './peer-id.js';

describe('the device key is its PeerId', () => {
  it('peerIdOf(identity), peerIdFromDid(did) and didFromPeerId agree', () => {
    const id = generateIdentity();
    const peer = peerIdOf(id);
    expect(peer.type).toBe('Ed25519');
    expect(peer.toString()).toBe(peerIdFromDid(id.did).toString());
    expect(didFromPeerId(peer)).toBe(id.did);
    // Through the string form a remote peer would see.
    expect(didFromPeerId(peerIdFromString(peer.toString()))).toBe(id.did);
    expect(toHex(peer.publicKey.raw)).toBe(toHex(id.publicKey));
  });

  it('libp2p signs what our verify accepts, and verifies what our sign makes (one key, two libraries)', async () => {
    const id = generateIdentity();
    const key = libp2pPrivateKey(id);
    const message = utf8('noise handshake payload');
    expect(await verify(id.publicKey, message, await key.sign(message))).toBe(true);
    expect(await key.publicKey.verify(message, await sign(id, message))).toBe(true);
  });

  it('refuses an identity whose public key is not its secret key’s (it would announce the wrong PeerId)', () => {
    const a = generateIdentity();
    const b = generateIdentity();
    const mixed: Identity = { did: a.did, publicKey: b.publicKey, secretKey: a.secretKey };
    for (const make of [() => libp2pPrivateKey(mixed), () => peerIdOf(mixed)]) {
      expect(make).toThrow(CryptoError);
      expect(make).toThrow('does not belong');
    }
  });

  it('didFromPeerId refuses a PeerId that is not Ed25519 with BAD_DID', async () => {
    const secp = peerIdFromPrivateKey(await generateKeyPair('secp256k1'));
    expect(() => didFromPeerId(secp)).toThrow(expect.objectContaining({ code: 'BAD_DID' }) as Error);
    expect(() => didFromPeerId({ type: 'Ed25519' })).toThrow(expect.objectContaining({ code: 'BAD_DID' }) as Error);
  });

  it('peerIdFromDid refuses a malformed did with BAD_DID', () => {
    expect(() => peerIdFromDid('did:key:zzz')).toThrow(expect.objectContaining({ code: 'BAD_DID' }) as Error);
  });
});
