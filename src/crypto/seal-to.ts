import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { assertBytes, concatBytes, utf8 } from './bytes.js';
import { publicKeyFromDid } from './did.js';
import { CryptoError } from './errors.js';
import { hkdfSha256 } from './hash.js';
import { checkIdentity, type Identity } from './identity.js';
import { open, seal } from './aead.js';
import type { Ciphertext, SymmetricKey } from './types.js';

/**
 * Sealing to a recipient named only by its Ed25519 did:key (an ECIES construction):
 *
 *   X25519 keys come from the Ed25519 keys by the birational map (RFC 7748 §4.1; the same
 *   conversion the did:key spec uses for its X25519 key-agreement key), so an identity publishes
 *   one key and a grant needs nothing but the grantee's did.
 *   ephemeral e, shared = X25519(e, X(recipient)); key = HKDF-SHA-256(shared,
 *   salt = E ‖ X(recipient), info = "patient-vault/seal-to/v1"); box = 0x01 ‖ E ‖ AES-256-GCM(key, m, ad).
 *
 * Using one key for signing and agreement is the choice libsodium's crypto_sign_ed25519_pk_to_curve25519
 * and did:key make; the HKDF info string separates the uses.
 */
const SEAL_TO_VERSION = 0x01;
const INFO = utf8('patient-vault/seal-to/v1');

/**
 * X25519 that refuses an all-zero shared secret (RFC 7748 §6.1: a low-order public key forces
 * it, and then the "secret" is known to everyone). noble throws a bare Error for it; the check
 * here names it and does not depend on that.
 */
function sharedSecret(secret: Uint8Array, publicU: Uint8Array): Uint8Array | null {
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(secret, publicU);
  } catch {
    return null;
  }
  return shared.every((b) => b === 0) ? null : shared;
}

function boxKey(shared: Uint8Array, ephemeralPublic: Uint8Array, recipientX: Uint8Array): SymmetricKey {
  return hkdfSha256(shared, concatBytes(ephemeralPublic, recipientX), INFO, 32) as SymmetricKey;
}

function recipientPublicKey(recipient: string | Uint8Array): Uint8Array {
  if (typeof recipient === 'string') return publicKeyFromDid(recipient);
  assertBytes(recipient, 'recipient', 32);
  return recipient;
}

/** Seals `plaintext` so only the holder of `recipient`'s secret key can open it. */
export async function sealTo(recipient: string | Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Promise<Ciphertext> {
  const edPublic = recipientPublicKey(recipient);
  let recipientX: Uint8Array;
  try {
    recipientX = ed25519.utils.toMontgomery(edPublic);
  } catch (cause) {
    throw new CryptoError('INVALID_INPUT', '"recipient" is not a valid Ed25519 public key', { cause });
  }
  const ephemeralSecret = x25519.utils.randomSecretKey();
  const ephemeralPublic = x25519.getPublicKey(ephemeralSecret);
  const shared = sharedSecret(ephemeralSecret, recipientX);
  if (!shared) throw new CryptoError('INVALID_INPUT', '"recipient" is a low-order point: nothing sealed to it would be secret');
  const key = boxKey(shared, ephemeralPublic, recipientX);
  const body = await seal(key, plaintext, associatedData);
  return concatBytes(new Uint8Array([SEAL_TO_VERSION]), ephemeralPublic, body) as Ciphertext;
}

/** Opens a box made by {@link sealTo} for `identity`. Anything else: `DECRYPT_FAILED`. */
export async function openSealed(identity: Identity, box: Uint8Array, associatedData: Uint8Array): Promise<Uint8Array> {
  checkIdentity(identity);
  assertBytes(box, 'box');
  assertBytes(associatedData, 'associatedData');
  if (box.length < 1 + 32 + 28 || box[0] !== SEAL_TO_VERSION) {
    throw new CryptoError('DECRYPT_FAILED', '"box" is not a sealed box of version 1');
  }
  const ephemeralPublic = box.subarray(1, 33);
  let recipientX: Uint8Array;
  try {
    recipientX = ed25519.utils.toMontgomery(identity.publicKey);
  } catch (cause) {
    throw new CryptoError('INVALID_INPUT', '"identity.publicKey" is not a valid Ed25519 public key', { cause });
  }
  const shared = sharedSecret(ed25519.utils.toMontgomerySecret(identity.secretKey), ephemeralPublic);
  if (!shared) throw new CryptoError('DECRYPT_FAILED', '"box" carries a low-order ephemeral key');
  return open(boxKey(shared, ephemeralPublic, recipientX), box.subarray(33), associatedData);
}
