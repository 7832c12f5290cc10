import { describe, expect, it } from 'vitest';
import { SCOPES } from '../scopes.js';
import { RecordStoreError } from './errors.js';
import {
  checkVaultId,
  createKeyring,
  decodeKeyring,
  encodeKeyring,
  epochKey,
  exportScopeKeys,
  importScopeKeys,
  rotateScopeKey,
  scopeKeys,
} from './keyring.js';
import { encodeCanonical } from '../../crypto/index.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return e instanceof RecordStoreError ? e.code : `not a RecordStoreError: ${String(e)}`;
  }
  return undefined;
};

describe('keyring', () => {
  it('gives a new vault a random epoch-0 key and index key for every scope', () => {
    const k = createKeyring('vault-1');
    expect([...k.scopes.keys()].sort()).toEqual([...SCOPES].sort());
    const labs = scopeKeys(k, 'labs');
    expect(labs.current).toBe(0);
    expect(epochKey(labs, 'labs', 0)).toHaveLength(32);
    expect(labs.indexKey).not.toEqual(scopeKeys(k, 'summary').indexKey);
  });

  it('rotates a scope key to a new current epoch and keeps the old epochs readable', () => {
    const k0 = createKeyring('vault-1');
    const { keyring: k1, epoch } = rotateScopeKey(k0, 'labs');
    expect(epoch).toBe(1);
    const labs = scopeKeys(k1, 'labs');
    expect(labs.current).toBe(1);
    expect(epochKey(labs, 'labs', 0)).toEqual(epochKey(scopeKeys(k0, 'labs'), 'labs', 0));
    expect(epochKey(labs, 'labs', 1)).not.toEqual(epochKey(labs, 'labs', 0));
    expect(labs.indexKey).toEqual(scopeKeys(k0, 'labs').indexKey);
    // Other scopes and the original keyring are untouched.
    expect(scopeKeys(k1, 'summary').current).toBe(0);
    expect(scopeKeys(k0, 'labs').current).toBe(0);
  });

  it('says UNKNOWN_EPOCH for an epoch it holds no key for', () => {
    const k = createKeyring('vault-1');
    expect(code(() => epochKey(scopeKeys(k, 'labs'), 'labs', 7))).toBe('UNKNOWN_EPOCH');
  });

  it('round-trips through its encoding', () => {
    const k = rotateScopeKey(createKeyring('vault-1'), 'notes').keyring;
    const back = decodeKeyring(encodeKeyring(k));
    expect(back.vaultId).toBe('vault-1');
    expect(scopeKeys(back, 'notes').current).toBe(1);
    expect(epochKey(scopeKeys(back, 'notes'), 'notes', 1)).toEqual(epochKey(scopeKeys(k, 'notes'), 'notes', 1));
    expect(back.attachmentKey).toEqual(k.attachmentKey);
  });

  it('refuses a malformed, truncated or newer stored keyring with a typed error', () => {
    const good = encodeKeyring(createKeyring('vault-1'));
    expect(code(() => decodeKeyring(good.subarray(0, good.length - 3)))).toBe('CORRUPT_RECORD');
    expect(code(() => decodeKeyring(new Uint8Array([1, 2, 3])))).toBe('CORRUPT_RECORD');
    expect(code(() => decodeKeyring(encodeCanonical({ f: 99 })))).toBe('NEWER_FORMAT');
    expect(code(() => decodeKeyring(encodeCanonical({ f: 1, vaultId: 'v', namingKey: new Uint8Array(3), attachmentKey: new Uint8Array(32), scopes: {} })))).toBe(
      'CORRUPT_RECORD',
    );
    const noCurrent = encodeCanonical({
      f: 1,
      vaultId: 'v',
      namingKey: new Uint8Array(32),
      attachmentKey: new Uint8Array(32),
      scopes: { labs: { indexKey: new Uint8Array(32), epochs: { '0': new Uint8Array(32) }, current: 3 } },
    });
    expect(code(() => decodeKeyring(noCurrent))).toBe('CORRUPT_RECORD');
  });

  it('hands scope keys to another keyring, which then holds only those scopes', () => {
    const patient = rotateScopeKey(createKeyring('vault-1'), 'labs').keyring;
    const grantee = createKeyring('vault-1', [exportScopeKeys(patient, 'labs', [1])]);
    expect([...grantee.scopes.keys()]).toEqual(['labs']);
    expect(code(() => epochKey(scopeKeys(grantee, 'labs'), 'labs', 0))).toBe('UNKNOWN_EPOCH');
    const later = importScopeKeys(grantee, exportScopeKeys(patient, 'labs', [0]));
    expect(epochKey(scopeKeys(later, 'labs'), 'labs', 0)).toEqual(epochKey(scopeKeys(patient, 'labs'), 'labs', 0));
    expect(scopeKeys(later, 'labs').current).toBe(1);
  });

  it('refuses received keys that contradict the ones held', () => {
    const a = createKeyring('vault-1');
    const b = createKeyring('vault-1');
    expect(code(() => importScopeKeys(a, exportScopeKeys(b, 'labs')))).toBe('INVALID_INPUT');
    const sameIndex = { ...exportScopeKeys(a, 'labs'), epochs: [{ epoch: 0, key: new Uint8Array(32).fill(9) }] };
    expect(code(() => importScopeKeys(a, sameIndex))).toBe('INVALID_INPUT');
    expect(code(() => importScopeKeys(a, { ...exportScopeKeys(a, 'labs'), scope: 'everything' as 'labs' }))).toBe('INVALID_INPUT');
  });

  it('accepts only vault ids that are safe inside associated data', () => {
    expect(checkVaultId('bafy.abc:1-2_3')).toBe('bafy.abc:1-2_3');
    for (const bad of ['', 'a\nb', 'a/b', 'x'.repeat(129), 42]) expect(code(() => checkVaultId(bad))).toBe('INVALID_INPUT');
  });
});
