import { describe, expect, it } from 'vitest';
import { RpcErrorCode } from './errors.js';
import { assertSafeJson, parseRequestText } from './json-guard.js';

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: number }).code;
  }
  return undefined;
}

describe('assertSafeJson', () => {
  it('accepts plain JSON and estimates its size', () => {
    const size = assertSafeJson({ a: [1, 'two', null, true, { b: 'c' }] });
    expect(size).toBeGreaterThan(10);
  });

  it('refuses __proto__, constructor and prototype keys anywhere, as JSON.parse produces them', () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const value = JSON.parse(`{"method":"x","params":{"deep":[{"${key}":{"polluted":true}}]}}`);
      expect(codeOf(() => assertSafeJson(value))).toBe(RpcErrorCode.INVALID_PARAMS);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses nesting deeper than the limit without overflowing the stack', () => {
    let v: unknown = 1;
    for (let i = 0; i < 100_000; i++) v = [v];
    expect(codeOf(() => assertSafeJson(v))).toBe(RpcErrorCode.INVALID_PARAMS);
  });

  it('refuses values over the size limit', () => {
    expect(codeOf(() => assertSafeJson({ s: 'x'.repeat(1000) }, 500))).toBe(RpcErrorCode.INVALID_PARAMS);
  });

  it('refuses non-JSON values: functions, class instances, NaN, cycles, symbol keys, getters', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const getter = Object.defineProperty({}, 'x', { enumerable: true, get: () => 1 });
    for (const bad of [() => 1, new Date(), new Map(), NaN, Infinity, cyclic, { [Symbol('s')]: 1 }, getter, 10n]) {
      expect(codeOf(() => assertSafeJson({ p: bad }))).toBe(RpcErrorCode.INVALID_PARAMS);
    }
  });

  it('names the path of the problem, not its value', () => {
    try {
      assertSafeJson({ a: { b: [0, { constructor: 'secret-value' }] } });
      expect.unreachable();
    } catch (e) {
      expect((e as { data?: { path?: string } }).data?.path).toBe('a.b.1');
      expect(String((e as Error).message)).not.toContain('secret-value');
    }
  });
});

describe('parseRequestText', () => {
  it('refuses text over the limit before parsing it', () => {
    expect(codeOf(() => parseRequestText('"' + 'x'.repeat(100) + '"', 50))).toBe(RpcErrorCode.INVALID_REQUEST);
  });
  it('refuses text that is not JSON', () => {
    expect(codeOf(() => parseRequestText('{method:'))).toBe(RpcErrorCode.INVALID_REQUEST);
  });
  it('parses a request', () => {
    expect(parseRequestText('{"method":"vault_status"}')).toEqual({ method: 'vault_status' });
  });
});
