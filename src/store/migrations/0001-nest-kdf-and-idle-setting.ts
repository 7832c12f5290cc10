import { StoreError } from '../errors.js';
import type { Migration } from './index.js';

/**
 * Schema 1 → 2.
 *
 * Schema 1 stored the Argon2id parameters as flat header fields (`kdfSalt`, `kdfMemoryKiB`,
 * `kdfIterations`, `kdfParallelism`) with the algorithm implied, and had no idle-lock setting: the
 * code locked after a fixed 15 minutes.
 *
 * Schema 2 nests them as `kdf: { algorithm, memoryKiB, iterations, parallelism, salt }`, so a
 * later KDF (or a change of algorithm at a KDF upgrade) is one field, and stores the user's
 * `autoLockMs` with the vault (ARCHITECTURE.md "At rest": auto-lock after an idle time the user
 * sets). A schema-1 vault gets the 15 minutes it always had. The wrapped key and the sealed
 * records are unchanged, so nothing is re-encrypted.
 */
export const nestKdfAndIdleSetting: Migration = {
  from: 1,
  description: 'nest the KDF parameters under "kdf" and store the idle auto-lock setting',
  upgradeHeader(record) {
    const { kdfSalt, kdfMemoryKiB, kdfIterations, kdfParallelism, ...rest } = record;
    for (const [name, value] of Object.entries({ kdfMemoryKiB, kdfIterations, kdfParallelism })) {
      if (typeof value !== 'number') throw corrupt(`${name} is missing`);
    }
    if (!(kdfSalt instanceof Uint8Array)) throw corrupt('kdfSalt is missing');
    return {
      ...rest,
      kdf: { algorithm: 'argon2id', memoryKiB: kdfMemoryKiB, iterations: kdfIterations, parallelism: kdfParallelism, salt: kdfSalt },
      autoLockMs: SCHEMA_1_AUTO_LOCK_MS,
    };
  },
};

/** The idle time schema-1 code used for every vault. */
export const SCHEMA_1_AUTO_LOCK_MS = 15 * 60 * 1000;

function corrupt(what: string): StoreError {
  return new StoreError('CORRUPT_HEADER', `vault header (schema 1) is unreadable: ${what}`, { key: 'vault/header' });
}
