import { describe, expect, it } from 'vitest';
import { detectImport, ImportDetectError } from './import-detect.js';

describe('detectImport', () => {
  it('recognises FHIR JSON, SMART Health Card files, JWS and shc:/ text', () => {
    expect(detectImport('{"resourceType":"Bundle","type":"collection"}').format).toBe('fhir');
    expect(detectImport('{"verifiableCredential":["a.b.c"]}').format).toBe('smart-health-card');
    expect(detectImport('  eyJ6aXAiOiJERUYifQ.abc_-.sig  ')).toEqual({ format: 'smart-health-card', data: 'eyJ6aXAiOiJERUYifQ.abc_-.sig' });
    expect(detectImport('shc:/56762909524320603460292437404460').format).toBe('smart-health-card');
  });

  it('explains what is wrong with anything else', () => {
    for (const bad of ['', '   ', '{"resourceType":', '[1,2]', '{"hello":"world"}', 'hello world']) {
      expect(() => detectImport(bad)).toThrow(ImportDetectError);
    }
  });
});
