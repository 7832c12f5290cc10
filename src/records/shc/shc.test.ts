import { deflateSync } from 'fflate';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { parseImport } from '../index.js';
import { httpFetchJwks, MAX_PAYLOAD_BYTES, assembleQrLines, decodeNumeric, encodeNumeric, inflateCapped, jwkThumbprint, parseJws, signingKeysOf, TrustedIssuers, decodeQrImage } from './index.js';
import { refusal, spec, SPEC_ISS, SPEC_NOW, specTrust } from '../../../test/fixtures/shc-spec.js';

// Test vectors from the SMART Health Cards specification (github.com/smart-on-fhir/health-cards,
// branch gh-pages, examples/; CC-BY 4.0 / MIT): see test/fixtures/README.md.

describe('SMART Health Cards: spec vectors', () => {
  it('every key of the spec example JWKS has kid = RFC 7638 thumbprint', () => {
    const jwks = JSON.parse(spec('issuer-jwks.json')) as { keys: { kid: string; x: string; y: string }[] };
    for (const k of jwks.keys) expect(jwkThumbprint({ crv: 'P-256', kty: 'EC', x: k.x, y: k.y })).toBe(k.kid);
    expect(signingKeysOf(jwks)).toHaveLength(2);
  });

  it('inflates the example JWS payloads to exactly the spec minified payloads', () => {
    for (const n of ['00', '01', '02', '03']) {
      const parsed = parseJws(spec(`example-${n}-d-jws.txt`).trim());
      expect(parsed.payload).toEqual(JSON.parse(spec(`example-${n}-c-jws-payload-minified.json`)));
    }
  });

  it('decodes the example QR numeric text to the example JWS', () => {
    const jws = spec('example-00-d-jws.txt').trim();
    expect(assembleQrLines([spec('example-00-f-qr-code-numeric-value-0.txt')])).toEqual([jws]);
    expect(encodeNumeric(jws)).toBe(spec('example-00-f-qr-code-numeric-value-0.txt').trim().slice('shc:/'.length));
  });

  it('reassembles the chunked example 02 in any order', () => {
    const jws = spec('example-02-d-jws.txt').trim();
    const chunks = [0, 1, 2].map((i) => spec(`example-02-f-qr-code-numeric-value-${i}.txt`));
    for (const order of [[0, 1, 2], [2, 0, 1], [1, 2, 0]]) expect(assembleQrLines(order.map((i) => chunks[i]!))).toEqual([jws]);
  });

  it('verifies example 00 (file), 01 (x5c key), 02 (chunked QR) and 03 (with exp) against the spec JWKS', async () => {
    const trust = specTrust();
    const file = await parseImport(spec('example-00-e-file.smart-health-card'), { now: SPEC_NOW, trust, fileName: 'example-00-e-file.smart-health-card' });
    expect(file.cards).toEqual([{ issuer: SPEC_ISS, verified: true, resourceCount: 4 }]);
    expect(file.resources.every((r) => r.provenance.source === 'shc' && r.provenance.verified && r.provenance.issuer === SPEC_ISS)).toBe(true);
    expect(file.resources[0]!.provenance.verifiedAt).toBe(SPEC_NOW.toISOString());
    const x5c = await parseImport(spec('example-01-d-jws.txt'), { now: SPEC_NOW, trust });
    expect(x5c.cards[0]!.verified).toBe(true);
    const chunked = [2, 0, 1].map((i) => spec(`example-02-f-qr-code-numeric-value-${i}.txt`)).join('\n');
    const lab = await parseImport(chunked, { now: SPEC_NOW, trust });
    expect(lab.cards[0]!.verified).toBe(true);
    expect(lab.resources.filter((r) => r.resource.resourceType === 'Observation').length).toBeGreaterThan(30);
    expect(lab.resources.every((r) => r.scope === 'labs')).toBe(true);
    const withExp = await parseImport(spec('example-03-e-file.smart-health-card'), { now: SPEC_NOW, trust });
    expect(withExp.cards[0]!.verified).toBe(true);
  });

  it('refuses example 03 once its exp has passed (SHC_EXPIRED)', async () => {
    const e = await refusal(parseImport(spec('example-03-d-jws.txt'), { now: new Date('2024-07-01T00:00:00Z'), trust: specTrust() }));
    expect(e.code).toBe('SHC_EXPIRED');
  });

  it('refuses the spec examples before their nbf (SHC_NOT_YET_VALID)', async () => {
    const e = await refusal(parseImport(spec('example-00-d-jws.txt'), { now: new Date('2023-01-01T00:00:00Z'), trust: specTrust() }));
    expect(e.code).toBe('SHC_NOT_YET_VALID');
  });
});

describe('SMART Health Cards: malformed parts are refused with a typed error', () => {
  const code = async (input: string | Uint8Array): Promise<string> => (await refusal(parseImport(input, { now: SPEC_NOW, trust: specTrust() }))).code;
  const specKey = (): Record<string, unknown> => (JSON.parse(spec('issuer-jwks.json')) as { keys: Record<string, unknown>[] }).keys[0]!;

  it('a DEFLATE bomb: refused at the payload cap without inflating it all', () => {
    const bomb = deflateSync(new Uint8Array(MAX_PAYLOAD_BYTES + 1));
    expect(() => inflateCapped(bomb)).toThrow(expect.objectContaining({ code: 'SHC_TOO_LARGE' }) as Error);
  });

  it('QR text with digits outside the JWS alphabet, odd length, or no data', async () => {
    expect(() => decodeNumeric('99')).toThrow(expect.objectContaining({ code: 'SHC_MALFORMED' }) as Error);
    expect(await code('shc:/123')).toBe('SHC_MALFORMED');
    expect(await code('shc:/')).toBe('SHC_MALFORMED');
    expect(await code('shc:/abc')).toBe('SHC_MALFORMED');
  });

  it('a JWKS whose kid is not the thumbprint of its key', () => {
    const t = new TrustedIssuers();
    const broken = { keys: [{ ...specKey(), kid: 'not-the-thumbprint' }] };
    expect(() => t.addJwks(SPEC_ISS, broken)).toThrow(expect.objectContaining({ code: 'SHC_BAD_JWKS' }) as Error);
    expect(() => t.addJwks(SPEC_ISS, { keys: [{ ...specKey(), d: 'private' }] })).toThrow(expect.objectContaining({ code: 'SHC_BAD_JWKS' }) as Error);
    expect(() => t.addJwks(SPEC_ISS, 'nope')).toThrow(expect.objectContaining({ code: 'SHC_BAD_JWKS' }) as Error);
  });

  it('an image with no QR code', async () => {
    const png = new PNG({ width: 64, height: 64 });
    for (let i = 0; i < png.data.length; i += 4) {
      const v = (i * 7919) % 251;
      png.data[i] = v;
      png.data[i + 1] = v;
      png.data[i + 2] = v;
      png.data[i + 3] = 255;
    }
    const bytes = new Uint8Array(PNG.sync.write(png));
    expect(() => decodeQrImage(bytes)).toThrow(expect.objectContaining({ code: 'IMAGE_NO_QR' }) as Error);
    expect(await code(bytes)).toBe('IMAGE_NO_QR');
  });

  it('an image that is not a valid PNG or JPEG', async () => {
    const truncatedPng = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    expect(await code(truncatedPng)).toBe('IMAGE_UNREADABLE');
    expect(await code(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]))).toBe('IMAGE_UNREADABLE');
  });

  it('a PNG claiming more pixels than we decode', async () => {
    const header = new Uint8Array(PNG.sync.write(new PNG({ width: 1, height: 1 })));
    const view = new DataView(header.buffer);
    view.setUint32(16, 100_000);
    view.setUint32(20, 100_000);
    expect(await code(header)).toBe('IMAGE_UNREADABLE');
  });

  it('httpFetchJwks asks iss + /.well-known/jwks.json over https only, and caps the size', async () => {
    const asked: string[] = [];
    const serve = (body: string, status = 200): typeof fetch => (url) => {
      asked.push(url instanceof URL ? url.href : typeof url === 'string' ? url : url.url);
      return Promise.resolve(new Response(body, { status }));
    };
    const jwks = spec('issuer-jwks.json');
    expect(await httpFetchJwks(serve(jwks))(SPEC_ISS)).toEqual(JSON.parse(jwks));
    expect(asked).toEqual([`${SPEC_ISS}/.well-known/jwks.json`]);
    await expect(httpFetchJwks(serve(jwks))('http://plain.example.org')).rejects.toMatchObject({ code: 'SHC_UNTRUSTED_ISSUER' });
    await expect(httpFetchJwks(serve('x'.repeat(300 * 1024)))(SPEC_ISS)).rejects.toMatchObject({ code: 'SHC_BAD_JWKS' });
    await expect(httpFetchJwks(serve('{}', 404))(SPEC_ISS)).rejects.toMatchObject({ code: 'SHC_UNTRUSTED_ISSUER' });
    // Through parseImport: a fetched key set verifies the spec card.
    const result = await parseImport(spec('example-00-d-jws.txt'), { now: SPEC_NOW, trust: new TrustedIssuers(), fetchJwks: httpFetchJwks(serve(jwks)) });
    expect(result.cards[0]!.verified).toBe(true);
  });
});
