import { assertBytes, concatBytes, fromBase58, toBase58 } from './bytes.js';
import { CryptoError } from './errors.js';
import type { Did } from './types.js';

/** Multicodec `ed25519-pub` (0xed) as an unsigned varint: 0xed 0x01. */
const ED25519_PUB_PREFIX = new Uint8Array([0xed, 0x01]);
const DID_KEY_PREFIX = 'did:key:z'; // 'z' = multibase base58btc
/** Longest did:key we accept: the prefix plus base58 of 34 bytes (at most 47 characters). */
const MAX_DID_LENGTH = DID_KEY_PREFIX.length + 48;

/** `did:key` of an Ed25519 public key (did:key spec §3.1; multicodec 0xed, base58btc). */
export function didFromPublicKey(publicKey: Uint8Array): Did {
  assertBytes(publicKey, 'publicKey', 32);
  return (DID_KEY_PREFIX + toBase58(concatBytes(ED25519_PUB_PREFIX, publicKey))) as Did;
}

/** The Ed25519 public key named by a `did:key`; anything else is a `BAD_DID` error. */
export function publicKeyFromDid(did: string): Uint8Array {
  if (typeof did !== 'string' || did.length > MAX_DID_LENGTH || !did.startsWith(DID_KEY_PREFIX)) {
    throw new CryptoError('BAD_DID', '"did" expected a did:key with a base58btc Ed25519 key');
  }
  let decoded: Uint8Array;
  try {
    decoded = fromBase58(did.slice(DID_KEY_PREFIX.length), 'did');
  } catch (cause) {
    throw new CryptoError('BAD_DID', '"did" is not valid base58btc', { cause });
  }
  if (decoded.length !== 34 || decoded[0] !== 0xed || decoded[1] !== 0x01) {
    throw new CryptoError('BAD_DID', '"did" does not name an Ed25519 public key (multicodec 0xed)');
  }
  return decoded.slice(2);
}

/** Parses and re-encodes: a string is a Did only if it round-trips exactly. */
export function parseDid(value: unknown): Did {
  if (typeof value !== 'string') throw new CryptoError('BAD_DID', '"did" expected a string');
  const did = didFromPublicKey(publicKeyFromDid(value));
  if (did !== value) throw new CryptoError('BAD_DID', '"did" is not in canonical form');
  return did;
}
