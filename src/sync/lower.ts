/**
 * What src/sync uses from the layers below, re-exported for its protocol folders. The lint rule
 * that keeps other layers behind their index.ts reads `../../crypto/index.js` from a nested folder
 * as a deep import, so nested folders import it from here.
 */
export {
  didFromPeerId,
  decodeCanonical,
  encodeCanonical,
  generateIdentity,
  identityFromSecretKey,
  libp2pPrivateKey,
  peerIdFromDid,
  randomBytes,
  toBase64Url,
  fromBase64Url,
  equalBytes,
  toHex,
  sha256,
  sign,
  verify,
  publicKeyFromDid,
  didFromPublicKey,
  concatBytes,
  CryptoError,
  type Did,
  type Identity,
} from '../crypto/index.js';

export { MemoryStorage, type Storage, type StorageEntry, type BatchOperation } from '../store/index.js';
