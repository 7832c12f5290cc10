import { describe, expect, it } from 'vitest';
import { encodeCanonical, sha256, toBase64Url, utf8 } from '../crypto/index.js';
import { decodeBody, encodeBody } from './bodies.js';
import { party } from './testkit.js';
import type { BodyOf, EntryId, EntryType } from './types.js';
import { Invalid, idBytes } from './validate.js';

const a = party('a').did;
const b = party('b').did;
const [first, second] = [a, b].sort();
const someId = toBase64Url(sha256(utf8('some entry'))) as EntryId;
const box = new Uint8Array(93).fill(7);

const valid: { [T in EntryType]: BodyOf[T] } = {
  genesis: { subject: a, devices: [b], delegates: [], label: 'vault' },
  'device.add': { device: b, label: null, keys: [{ scope: 'labs', epoch: 0, box }] },
  'device.remove': { device: b },
  delegate: { delegate: b, role: 'guardian', expires: 1_800_000_000_000, scopes: [], wait: null, keys: [] },
  undelegate: { delegation: someId, delegate: b },
  grant: { grantee: b, scopes: ['labs', 'summary'], actions: ['append', 'read'], purpose: 'treatment', expires: null, keys: [{ scope: 'labs', epoch: 0, box }, { scope: 'labs', epoch: 1, box }] },
  revoke: { grant: someId, reason: null },
  rekey: { grant: someId, keys: [{ scope: 'summary', epoch: 3, box }] },
  consent: { grant: null, consent: { resourceType: 'Consent', status: 'active' } },
  access: { grant: someId, scope: 'labs', heads: ['0'.repeat(64), 'f'.repeat(64)] },
  erase: { grant: someId },
  handover: { subject: a, devices: [b], guardians: 'read' },
  protect: { scopes: ['reproductive'], from: 1_800_000_000_000 },
  'emergency.request': { delegation: someId, reason: 'fell ill' },
  'emergency.deny': { request: someId, reason: null },
};

function refused<T extends EntryType>(type: T, body: unknown): boolean {
  try {
    encodeBody(type, body as BodyOf[T]);
    return false;
  } catch (error) {
    if (error instanceof Invalid) return true;
    throw error;
  }
}

describe('entry bodies', () => {
  it('round-trips a valid body of every type', () => {
    for (const type of Object.keys(valid) as EntryType[]) {
      expect(decodeBody(type, encodeBody(type, valid[type]))).toEqual(valid[type]);
    }
  });

  it('refuses fields that are missing, extra or of the wrong kind', () => {
    expect(refused('grant', { ...valid.grant, extra: 1 })).toBe(true);
    const { purpose: _purpose, ...noPurpose } = valid.grant;
    expect(refused('grant', noPurpose)).toBe(true);
    expect(refused('grant', { ...valid.grant, purpose: 'marketing' })).toBe(true);
    expect(refused('grant', { ...valid.grant, grantee: 'did:web:example.org' })).toBe(true);
    expect(refused('grant', { ...valid.grant, expires: -1 })).toBe(true);
    expect(refused('delegate', { ...valid.delegate, role: 'owner' })).toBe(true);
    expect(refused('device.add', { ...valid['device.add'], label: '' })).toBe(true);
    expect(refused('device.add', { ...valid['device.add'], label: 'x'.repeat(257) })).toBe(true);
    expect(refused('revoke', { ...valid.revoke, grant: 'short' })).toBe(true);
    expect(refused('access', { ...valid.access, heads: ['XYZ'] })).toBe(true);
    expect(refused('access', { ...valid.access, scope: 'everything' })).toBe(true);
    expect(refused('consent', { grant: null, consent: { resourceType: 'Patient' } })).toBe(true);
    expect(refused('consent', { grant: null, consent: [] })).toBe(true);
    expect(refused('rekey', { ...valid.rekey, keys: [] })).toBe(true);
    expect(refused('delegate', { ...valid.delegate, scopes: ['labs'] })).toBe(true);
    expect(refused('delegate', { ...valid.delegate, wait: 0 })).toBe(true);
    expect(refused('delegate', { ...valid.delegate, role: 'emergency' })).toBe(true);
    expect(refused('delegate', { ...valid.delegate, role: 'emergency', scopes: ['labs'], wait: 3_600_000 })).toBe(false);
    expect(refused('genesis', { ...valid.genesis, delegates: [{ delegate: b, role: 'emergency', expires: null }] })).toBe(true);
    expect(refused('handover', { ...valid.handover, devices: [] })).toBe(true);
    expect(refused('handover', { ...valid.handover, guardians: 'keep' })).toBe(true);
    expect(refused('protect', { ...valid.protect, scopes: [] })).toBe(true);
    expect(refused('emergency.deny', { ...valid['emergency.deny'], request: null })).toBe(true);
    expect(refused('grant', { ...valid.grant, keys: [{ scope: 'labs', epoch: 0, box: new Uint8Array(0) }] })).toBe(true);
  });

  it('refuses lists that are unsorted, repeated, empty where they must not be, or too long', () => {
    expect(refused('grant', { ...valid.grant, scopes: ['summary', 'labs'] })).toBe(true);
    expect(refused('grant', { ...valid.grant, scopes: ['labs', 'labs'] })).toBe(true);
    expect(refused('grant', { ...valid.grant, scopes: [] })).toBe(true);
    expect(refused('grant', { ...valid.grant, actions: ['read', 'append'] })).toBe(true);
    expect(refused('grant', { ...valid.grant, actions: [] })).toBe(true);
    expect(refused('grant', { ...valid.grant, keys: [...valid.grant.keys].reverse() })).toBe(true);
    expect(refused('grant', { ...valid.grant, keys: [{ scope: 'genomics', epoch: 0, box }] })).toBe(true);
    expect(refused('genesis', { ...valid.genesis, devices: [second, first] })).toBe(true);
    expect(refused('access', { ...valid.access, heads: Array.from({ length: 65 }, (_, i) => i.toString(16).padStart(64, '0')) })).toBe(true);
  });

  it('refuses a genesis that names nobody who could act', () => {
    expect(refused('genesis', { ...valid.genesis, devices: [], delegates: [] })).toBe(true);
    expect(refused('genesis', { ...valid.genesis, devices: [], delegates: [{ delegate: b, role: 'emergency', expires: null }] })).toBe(true);
    expect(refused('genesis', { ...valid.genesis, devices: [], delegates: [{ delegate: b, role: 'guardian', expires: null }] })).toBe(false);
  });

  it('decodes only canonical bytes', () => {
    const bytes = encodeBody('erase', valid.erase);
    expect(() => decodeBody('erase', new Uint8Array([...bytes, 0]))).toThrow(expect.objectContaining({ code: 'NON_CANONICAL' }));
    // A map with the same content written with a long-form length head.
    const long = new Uint8Array([0xb8, 0x01, ...bytes.subarray(1)]);
    expect(() => decodeBody('erase', long)).toThrow(expect.objectContaining({ code: 'NON_CANONICAL' }));
    expect(decodeBody('erase', encodeCanonical({ grant: idBytes(someId) }))).toEqual(valid.erase);
    expect(() => decodeBody('erase', encodeCanonical({ grant: sha256(utf8('x')).subarray(0, 31) }))).toThrow(Invalid);
  });
});
