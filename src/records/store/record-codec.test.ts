import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seal, utf8 } from '../../crypto/index.js';
import { ENVELOPE_FORMAT, RECORD_VALUE_HEADER_BYTES } from './constants.js';
import { RecordStoreError } from './errors.js';
import { createKeyring, epochKey, rotateScopeKey, scopeKeys } from './keyring.js';
import { asRecordKey, epochOf, openRecord, sealRecord, shardOf, slotOf, type SealContext } from './record-codec.js';
import type { RecordEnvelope, Slot } from './types.js';

const keyring = createKeyring('vault-a');
const ctx = (scope: 'labs' | 'notes' = 'labs', vaultId = 'vault-a', k = keyring): SealContext => ({ vaultId, scope, keys: scopeKeys(k, scope) });
const key = asRecordKey('Observation/obs-1');
const envelope: RecordEnvelope = {
  f: ENVELOPE_FORMAT,
  key,
  ver: '00112233aabbccdd',
  n: 1,
  prev: [],
  at: '2025-01-01T00:00:00.000Z',
  resource: { resourceType: 'Observation', id: 'obs-1', status: 'final', code: { text: 'synthetic' } },
  src: ['urn:Observation|urn:uuid:1'],
  hash: 'ab'.repeat(32),
};

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return e instanceof RecordStoreError ? e.code : `other: ${String(e)}`;
  }
  return 'none';
}

describe('record values', () => {
  it('opens what it sealed, at the slot of its record key', async () => {
    const slot = slotOf(scopeKeys(keyring, 'labs').indexKey, key);
    const value = await sealRecord(ctx(), slot, envelope);
    expect(epochOf(value)).toBe(0);
    expect(await openRecord(ctx(), slot, value)).toEqual(envelope);
  });

  it('derives 128-bit slots from the index key, sharded by their first byte', () => {
    const labs = slotOf(scopeKeys(keyring, 'labs').indexKey, key);
    expect(labs).toMatch(/^[0-9a-f]{32}$/);
    expect(shardOf(labs)).toBe(labs.slice(0, 2));
    expect(slotOf(scopeKeys(keyring, 'notes').indexKey, key)).not.toBe(labs);
  });

  it('refuses a value moved to another slot, scope or vault', async () => {
    const slot = slotOf(scopeKeys(keyring, 'labs').indexKey, key);
    const value = await sealRecord(ctx(), slot, envelope);
    const other = slotOf(scopeKeys(keyring, 'labs').indexKey, asRecordKey('Observation/obs-2'));
    expect(await codeOf(openRecord(ctx(), other, value))).toBe('CORRUPT_RECORD');
    expect(await codeOf(openRecord(ctx('labs', 'vault-b'), slot, value))).toBe('CORRUPT_RECORD');
    // Same keys under another scope name: the associated data still differs.
    const shared = { ...ctx(), scope: 'notes' as const };
    expect(await codeOf(openRecord(shared, slot, value))).toBe('CORRUPT_RECORD');
  });

  it('refuses any single flipped byte', async () => {
    const slot = slotOf(scopeKeys(keyring, 'labs').indexKey, key);
    const value = await sealRecord(ctx(), slot, envelope);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: value.length - 1 }), fc.integer({ min: 1, max: 255 }), async (i, x) => {
        const bad = value.slice();
        bad[i]! ^= x;
        const c = await codeOf(openRecord(ctx(), slot, bad));
        // The format byte and the epoch are checked before decryption: other codes are possible there.
        expect(i < RECORD_VALUE_HEADER_BYTES ? ['CORRUPT_RECORD', 'UNKNOWN_EPOCH'] : ['CORRUPT_RECORD']).toContain(c);
      }),
      { numRuns: 60 },
    );
  });

  it('seals under the current epoch after a rotation and needs that epoch to open', async () => {
    const rotated = rotateScopeKey(keyring, 'labs').keyring;
    const slot = slotOf(scopeKeys(rotated, 'labs').indexKey, key);
    const value = await sealRecord(ctx('labs', 'vault-a', rotated), slot, envelope);
    expect(epochOf(value)).toBe(1);
    expect(await codeOf(openRecord(ctx('labs', 'vault-a', keyring), slot, value))).toBe('UNKNOWN_EPOCH');
    expect((await openRecord(ctx('labs', 'vault-a', rotated), slot, value)).key).toBe(key);
    // Relabelling the value with the old epoch does not make it open under the old key.
    const relabelled = value.slice();
    relabelled[4] = 0;
    expect(await codeOf(openRecord(ctx('labs', 'vault-a', rotated), slot, relabelled))).toBe('CORRUPT_RECORD');
  });

  async function sealRaw(plaintext: unknown, slot: Slot): Promise<Uint8Array> {
    const k = epochKey(scopeKeys(keyring, 'labs'), 'labs', 0);
    const ct = await seal(k, utf8(typeof plaintext === 'string' ? plaintext : JSON.stringify(plaintext)), utf8(`patient-vault/record/1\nvault-a\nlabs\n${slot}\n0`));
    const out = new Uint8Array(5 + ct.length);
    out[0] = 1;
    out.set(ct, 5);
    return out;
  }

  it('refuses authentic values whose envelope is malformed or names another record', async () => {
    const slot = slotOf(scopeKeys(keyring, 'labs').indexKey, key);
    expect(await codeOf(openRecord(ctx(), slot, await sealRaw('not json', slot)))).toBe('CORRUPT_RECORD');
    expect(await codeOf(openRecord(ctx(), slot, await sealRaw({ ...envelope, n: 0 }, slot)))).toBe('CORRUPT_RECORD');
    expect(await codeOf(openRecord(ctx(), slot, await sealRaw({ ...envelope, resource: { resourceType: 'Patient', id: 'obs-1' } }, slot)))).toBe(
      'CORRUPT_RECORD',
    );
    expect(await codeOf(openRecord(ctx(), slot, await sealRaw({ ...envelope, att: [{ path: 1 }] }, slot)))).toBe('CORRUPT_RECORD');
    const elsewhere = asRecordKey('Observation/obs-9');
    const wrongSlot = { ...envelope, key: elsewhere, resource: { ...envelope.resource, id: 'obs-9' } };
    expect(await codeOf(openRecord(ctx(), slot, await sealRaw(wrongSlot, slot)))).toBe('CORRUPT_RECORD');
    expect(await codeOf(openRecord(ctx(), slot, await sealRaw({ ...envelope, f: 2 }, slot)))).toBe('NEWER_FORMAT');
  });

  it('refuses values too short or of an unknown format', async () => {
    const slot = slotOf(scopeKeys(keyring, 'labs').indexKey, key);
    expect(await codeOf(openRecord(ctx(), slot, new Uint8Array([1, 0, 0])))).toBe('CORRUPT_RECORD');
    expect(await codeOf(openRecord(ctx(), slot, new Uint8Array(40).fill(7)))).toBe('CORRUPT_RECORD');
  });

  it('checks record keys at the door', () => {
    for (const bad of ['Observation', 'observation/1', 'Observation/a b', `Observation/${'x'.repeat(65)}`, 3]) {
      expect(() => asRecordKey(bad)).toThrow(RecordStoreError);
    }
  });
});
