import { generateIdentity, identityFromSecretKey, type Identity } from '../crypto/index.js';
import type { Vault } from '../store/index.js';

/**
 * This device's identity, kept sealed in the vault under `key`: the one stored there, or a new one
 * generated and stored on first use (so the device's did and PeerId survive restarts).
 */
export async function deviceIdentity(vault: Vault, key: string): Promise<Identity> {
  const stored = await vault.getSealed(key);
  if (stored) return identityFromSecretKey(stored);
  const identity = generateIdentity();
  await vault.putSealed(key, identity.secretKey);
  return identity;
}
