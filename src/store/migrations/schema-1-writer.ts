/**
 * The schema-1 writer, kept as it was so tests can make vaults of the previous version. Schema 1
 * stored the Argon2id parameters as flat header fields and no idle-lock setting (see
 * 0001-nest-kdf-and-idle-setting.ts). Records were sealed exactly as today. Test support only.
 */
import type { Storage } from '../storage.js';
import { concatBytes, deriveKeyFromPassphrase, encodeCanonical, generateKey, hkdfSha256, newKdfParams, seal, utf8, type SymmetricKey } from '../test-support.js';

export async function writeSchema1Vault(
  storage: Storage,
  passphrase: string,
  cost: { memoryKiB: number; iterations: number; parallelism: number },
  records: Record<string, Uint8Array>,
  createdAt = 1_700_000_000_000,
): Promise<void> {
  const kdf = newKdfParams(cost);
  const passphraseKey = await deriveKeyFromPassphrase(passphrase, kdf, { allowWeak: true });
  const vaultKey = generateKey();
  const header = encodeCanonical({
    format: 'patient-vault/store',
    schemaVersion: 1,
    createdAt,
    kdfSalt: kdf.salt,
    kdfMemoryKiB: kdf.memoryKiB,
    kdfIterations: kdf.iterations,
    kdfParallelism: kdf.parallelism,
    wrappedKey: await seal(passphraseKey, vaultKey, utf8('patient-vault/store/vault-key')),
  });
  const recordKey = hkdfSha256(vaultKey, utf8('patient-vault/store'), utf8('records'), 32) as SymmetricKey;
  const ops = [{ type: 'put' as const, key: 'vault/header', value: header }];
  for (const [key, plaintext] of Object.entries(records)) {
    const storageKey = `r/${key}`;
    const sealed = await seal(recordKey, plaintext, concatBytes(utf8('patient-vault/store/record\u0000'), utf8(storageKey)));
    ops.push({ type: 'put', key: storageKey, value: concatBytes(new Uint8Array([1]), sealed) });
  }
  await storage.batch(ops);
}
