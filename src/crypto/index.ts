/**
 * src/crypto: every cryptographic operation of Patient Vault, behind a few named functions.
 * Identities are Ed25519 (did:key); sealing is AES-256-GCM with associated data; sealing to a
 * recipient is X25519 + HKDF + AEAD; passphrases go through Argon2id; everything signed or hashed
 * is DAG-CBOR. Every function checks its input and throws {@link CryptoError} with a stable code.
 * @packageDocumentation
 */
export { CryptoError, type CryptoErrorCode } from './errors.js';
export type { Brand, Did, Ciphertext, SymmetricKey, Digest, Signature } from './types.js';
export {
  assertBytes,
  assertString,
  concatBytes,
  equalBytes,
  randomBytes,
  utf8,
  fromUtf8,
  toHex,
  fromHex,
  toBase64Url,
  fromBase64Url,
  toBase58,
  fromBase58,
} from './bytes.js';
export { sha256, sha256Async, hmacSha256, hkdfSha256 } from './hash.js';
export { didFromPublicKey, publicKeyFromDid, parseDid } from './did.js';
export {
  type Identity,
  type SignedMessage,
  generateIdentity,
  identityFromSecretKey,
  sign,
  verify,
  verifyBatch,
  verifyByDid,
  signReference,
  verifyReference,
} from './identity.js';
export { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES, AEAD_MAX_PLAINTEXT, generateKey, asSymmetricKey, seal, open } from './aead.js';
export { sealTo, openSealed } from './seal-to.js';
/**
 * Batch fast paths for writers of thousands of small values: `sealMany` (AES-256-GCM, each value its
 * own ciphertext, fresh nonce and associated data, the format of `seal`) and `keyedHasher`
 * (HMAC-SHA-256 under one key set up once).
 */
export { sealMany, keyedHasher, type SealItem } from './batch.js';
export {
  type KdfParams,
  DEFAULT_KDF_COST,
  MIN_KDF_COST,
  MAX_KDF_COST,
  MAX_KDF_WORK,
  newKdfParams,
  checkKdfParams,
  kdfNeedsUpgrade,
  deriveKeyFromPassphrase,
} from './kdf.js';
export { encodeCanonical, decodeCanonical, MAX_CANONICAL_BYTES, MAX_CANONICAL_DEPTH } from './canonical.js';
export { libp2pPrivateKey, peerIdOf, peerIdFromDid, didFromPeerId } from './peer-id.js';
