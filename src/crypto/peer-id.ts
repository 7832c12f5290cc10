import { privateKeyFromRaw, publicKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey, peerIdFromPublicKey } from '@libp2p/peer-id';
import type { Ed25519PeerId, PrivateKey } from '@libp2p/interface';
import { didFromPublicKey, publicKeyFromDid } from './did.js';
import { CryptoError } from './errors.js';
import { libp2pRawPrivateKey, type Identity } from './identity.js';
import type { Did } from './types.js';

/** The libp2p private key of an identity: the device key is its PeerId, so Noise proves the did. */
export function libp2pPrivateKey(identity: Identity): PrivateKey {
  return privateKeyFromRaw(libp2pRawPrivateKey(identity));
}

/** The PeerId of an identity. */
export function peerIdOf(identity: Identity): Ed25519PeerId {
  return peerIdFromPrivateKey(libp2pPrivateKey(identity)) as Ed25519PeerId;
}

/** The PeerId of the key a did:key names. */
export function peerIdFromDid(did: string): Ed25519PeerId {
  return peerIdFromPublicKey(publicKeyFromRaw(publicKeyFromDid(did))) as Ed25519PeerId;
}

/** The did:key of an Ed25519 PeerId; other key types are refused. */
export function didFromPeerId(peerId: { type: string; publicKey?: { raw: Uint8Array } | undefined }): Did {
  if (peerId.type !== 'Ed25519' || !peerId.publicKey) throw new CryptoError('BAD_DID', 'peer is not identified by an Ed25519 key');
  return didFromPublicKey(peerId.publicKey.raw);
}
