import { encodeCanonical, openSealed, sealTo, type Did, type Identity, type SymmetricKey, asSymmetricKey } from '../crypto/index.js';
import { SCOPE_KEY_AD_TAG } from './constants.js';
import { GrantsError } from './errors.js';
import type { ScopeName } from './scopes.js';
import type { SealedScopeKey, VaultId } from './types.js';
import { idBytes } from './validate.js';

/**
 * Scope keys travel inside grant, rekey, device.add and delegate bodies, each sealed to its
 * recipient (sealTo: X25519 + HKDF + AES-GCM). The associated data names vault, scope, epoch and
 * recipient, so a box cannot be replayed into another vault, scope, epoch or to another party.
 */
function associatedData(vault: VaultId, scope: ScopeName, epoch: number, recipient: Did): Uint8Array {
  return encodeCanonical({ t: SCOPE_KEY_AD_TAG, vault: idBytes(vault), scope, epoch, recipient });
}

/** Seals a scope key (epoch `epoch`) of `vault` to `recipient`. */
export async function sealScopeKey(recipient: Did, vault: VaultId, scope: ScopeName, epoch: number, key: SymmetricKey): Promise<SealedScopeKey> {
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new GrantsError('INVALID_INPUT', '"epoch" expected a non-negative integer');
  const box = await sealTo(recipient, asSymmetricKey(key), associatedData(vault, scope, epoch, recipient));
  return { scope, epoch, box };
}

/** Opens a scope key sealed to `identity`. A box for anyone or anything else: CryptoError DECRYPT_FAILED. */
export async function openScopeKey(identity: Identity, vault: VaultId, sealed: SealedScopeKey): Promise<SymmetricKey> {
  const key = await openSealed(identity, sealed.box, associatedData(vault, sealed.scope, sealed.epoch, identity.did));
  return asSymmetricKey(key, 'scope key');
}
