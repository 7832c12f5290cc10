import { describe, expect, it } from 'vitest';
import { RpcErrorCode } from './errors.js';
import { isMethodName, parseEnvelope, parseParams } from './schemas.js';

const DID = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK';

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: number }).code;
  }
  return undefined;
}

describe('method names', () => {
  it('knows its methods and nothing inherited from Object.prototype', () => {
    expect(isMethodName('vault_connect')).toBe(true);
    for (const name of ['toString', '__proto__', 'constructor', 'hasOwnProperty', 'eth_accounts']) expect(isMethodName(name)).toBe(false);
  });
});

describe('parseEnvelope', () => {
  it('refuses anything that is not { method: string }', () => {
    for (const bad of [null, 'vault_status', [], { method: 1 }, { method: '' }, { method: 'x'.repeat(65) }]) {
      expect(codeOf(() => parseEnvelope(bad))).toBe(RpcErrorCode.INVALID_REQUEST);
    }
  });
});

describe('parseParams', () => {
  it('accepts no params for vault_connect and vault_status, and refuses extra fields', () => {
    expect(() => parseParams('vault_connect', undefined)).not.toThrow();
    expect(() => parseParams('vault_status', [])).not.toThrow();
    expect(codeOf(() => parseParams('vault_connect', { origin: 'https://bank.example' }))).toBe(RpcErrorCode.INVALID_PARAMS);
  });

  it('accepts a FHIR bundle and a SMART Health Card in each form', () => {
    expect(() => parseParams('vault_importRecords', { format: 'fhir', data: { resourceType: 'Bundle', type: 'collection', entry: [] } })).not.toThrow();
    expect(() => parseParams('vault_importRecords', { format: 'smart-health-card', data: 'shc:/5676' })).not.toThrow();
    expect(() => parseParams('vault_importRecords', { format: 'smart-health-card', data: { verifiableCredential: ['a.b.c'] } })).not.toThrow();
  });

  it('refuses imports of unknown format, without resourceType, or with an oversized card', () => {
    expect(codeOf(() => parseParams('vault_importRecords', { format: 'pdf', data: {} }))).toBe(RpcErrorCode.INVALID_PARAMS);
    expect(codeOf(() => parseParams('vault_importRecords', { format: 'fhir', data: { entry: [] } }))).toBe(RpcErrorCode.INVALID_PARAMS);
    expect(codeOf(() => parseParams('vault_importRecords', { format: 'smart-health-card', data: 'x'.repeat(1024 * 1024 + 1) }))).toBe(
      RpcErrorCode.INVALID_PARAMS,
    );
  });

  const share = { provider: { did: DID, name: 'Example Clinic' }, scopes: ['summary', 'labs'], purpose: 'treatment', expiresInDays: 30 };

  it('accepts a well-formed share request', () => {
    expect(parseParams('vault_requestShare', share).scopes).toEqual(['summary', 'labs']);
  });

  it('refuses share requests with unknown scopes, repeated scopes, bad dids, absurd expiry or extra fields', () => {
    const bad = [
      { ...share, scopes: ['everything'] },
      { ...share, scopes: ['labs', 'labs'] },
      { ...share, scopes: [] },
      { ...share, provider: { did: 'did:web:evil.example', name: 'x' } },
      { ...share, provider: { did: DID, name: '' } },
      { ...share, expiresInDays: 0 },
      { ...share, expiresInDays: 1e9 },
      { ...share, expiresInDays: 1.5 },
      { ...share, purpose: 'marketing' },
      { ...share, grantAll: true },
    ];
    for (const params of bad) expect(codeOf(() => parseParams('vault_requestShare', params))).toBe(RpcErrorCode.INVALID_PARAMS);
  });

  it('names the invalid field in data.path', () => {
    try {
      parseParams('vault_requestShare', { ...share, scopes: ['summary', 'nope'] });
      expect.unreachable();
    } catch (e) {
      expect((e as { data?: { path?: string } }).data?.path).toBe('scopes.1');
    }
  });

  it('bounds vault_getRecords', () => {
    expect(() => parseParams('vault_getRecords', { patient: DID, limit: 500 })).not.toThrow();
    expect(codeOf(() => parseParams('vault_getRecords', { patient: DID, limit: 501 }))).toBe(RpcErrorCode.INVALID_PARAMS);
    expect(codeOf(() => parseParams('vault_getRecords', { patient: DID, resourceType: 'obs ervation' }))).toBe(RpcErrorCode.INVALID_PARAMS);
  });
});
