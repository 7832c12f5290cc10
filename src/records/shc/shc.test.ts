import { readFileSync } from 'node:fs';
import { deflateSync } from 'fflate';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { RecordsError } from '../errors.js';
import { parseImport } from '../fhir/import.js';
import { createIssuer, healthCardFile, qrPng, shcBundle, signHealthCard, toQrLines, type TestIssuer } from '../../../test/fixtures/shc-issuer.js';
import { MAX_PAYLOAD_BYTES, assembleQrLines, decodeNumeric, encodeNumeric, inflateCapped, jwkThumbprint, parseJws, signingKeysOf, TrustedIssuers, verifyCard, decodeQrImage } from './index.js';

// Test vectors from the SMART Health Cards specification (github.com/smart-on-fhir/health-cards,
// branch gh-pages, examples/; CC-BY 4.0 / MIT): see test/fixtures/README.md.
const SHC = new URL('../../../test/fixtures/samples/shc/', import.meta.url);
const spec = (name: string): string => readFileSync(new URL(name, SHC), 'utf8');
const SPEC_ISS = 'https://spec.smarthealth.cards/examples/issuer';
const SPEC_NOW = new Date('2024-01-01T00:00:00Z'); // after the examples' nbf (2023-06-22), before example 03's exp
const specTrust = (): TrustedIssuers => {
  const t = new TrustedIssuers();
  t.addJwks(SPEC_ISS, JSON.parse(spec('issuer-jwks.json')));
  return t;
};

async function refusal(promise: Promise<unknown>): Promise<RecordsError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(RecordsError);
    return e as RecordsError;
  }
  throw new Error('expected a refusal');
}

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

  it('reads the spec example 00 as a QR code in a PNG and a JPEG', async () => {
    const png = await qrPng(spec('example-00-f-qr-code-numeric-value-0.txt').trim());
    expect((await parseImport(png, { now: SPEC_NOW, trust: specTrust() })).cards[0]!.verified).toBe(true);
    const img = PNG.sync.read(Buffer.from(png));
    const jpg = jpeg.encode({ data: img.data, width: img.width, height: img.height }, 92).data;
    expect((await parseImport(new Uint8Array(jpg), { now: SPEC_NOW, trust: specTrust() })).resources).toHaveLength(4);
  });
});

describe('SMART Health Cards: generated issuer', () => {
  let issuer: TestIssuer;
  let trust: TrustedIssuers;
  const now = new Date();
  beforeAll(async () => {
    issuer = await createIssuer();
    trust = new TrustedIssuers();
    trust.addJwks(issuer.iss, issuer.jwks);
  });

  it('imports a card as a raw JWS, a file, QR text and chunked QR text, with resource: references resolved', async () => {
    const jws = await signHealthCard(issuer, shcBundle(3));
    for (const input of [jws, healthCardFile([jws]), toQrLines(jws).join('\n'), toQrLines(jws, 3).reverse().join(' ')]) {
      const result = await parseImport(input, { now, trust });
      expect(result.cards).toEqual([{ issuer: issuer.iss, verified: true, resourceCount: 4 }]);
      const patientId = result.resources.find((r) => r.resource.resourceType === 'Patient')!.resource.id;
      for (const r of result.resources.filter((x) => x.resource.resourceType === 'Immunization')) {
        expect((r.resource as { patient: { reference: string } }).patient.reference).toBe(`Patient/${patientId}`);
      }
    }
  });

  it('imports a file of several cards; the shared Patient once', async () => {
    const file = healthCardFile([await signHealthCard(issuer, shcBundle(1)), await signHealthCard(issuer, shcBundle(2))]);
    const result = await parseImport(file, { now, trust });
    expect(result.cards.map((c) => c.resourceCount)).toEqual([2, 3]);
    expect(result.resources.filter((r) => r.resource.resourceType === 'Patient')).toHaveLength(1);
  });

  it('fetches the issuer JWKS through the injected fetcher, once, and caches it', async () => {
    const fetched: string[] = [];
    const cache = new TrustedIssuers();
    const fetchJwks = (iss: string): Promise<unknown> => {
      fetched.push(iss);
      return Promise.resolve(issuer.jwks);
    };
    const jws = await signHealthCard(issuer, shcBundle(1));
    await parseImport(jws, { now, trust: cache, fetchJwks });
    await parseImport(jws, { now, trust: cache, fetchJwks });
    expect(fetched).toEqual([issuer.iss]);
    expect(cache.issuers()).toEqual([issuer.iss]);
  });

  it('refetches a stale JWKS (key rotation)', async () => {
    const rotated = await createIssuer(issuer.iss);
    let served: unknown = issuer.jwks;
    const cache = new TrustedIssuers({ maxAgeMs: 1000 });
    const fetchJwks = (): Promise<unknown> => Promise.resolve(served);
    await parseImport(await signHealthCard(issuer, shcBundle(1)), { now, trust: cache, fetchJwks });
    served = rotated.jwks;
    const later = new Date(now.getTime() + 5000);
    const result = await parseImport(await signHealthCard(rotated, shcBundle(1)), { now: later, trust: cache, fetchJwks });
    expect(result.cards[0]!.verified).toBe(true);
  });

  it('trusts a JWKS file with no issuer for any iss, by exact key', async () => {
    const anyIss = new TrustedIssuers();
    expect(anyIss.addTrustFile(JSON.parse(JSON.stringify(issuer.jwks)))).toBe(1);
    const result = await parseImport(await signHealthCard(issuer, shcBundle(1), { iss: 'https://another.example.org' }), { now, trust: anyIss });
    expect(result.cards[0]).toMatchObject({ issuer: 'https://another.example.org', verified: true });
  });

  it('imports an untrusted issuer as unverified only when the caller allows it', async () => {
    const stranger = await createIssuer('https://stranger.example.org');
    const jws = await signHealthCard(stranger, shcBundle(1));
    expect((await refusal(parseImport(jws, { now, trust }))).code).toBe('SHC_UNTRUSTED_ISSUER');
    expect((await refusal(parseImport(jws, { now }))).code).toBe('SHC_UNTRUSTED_ISSUER');
    const failingFetch = (): Promise<unknown> => Promise.reject(new Error('offline'));
    expect((await refusal(parseImport(jws, { now, trust, fetchJwks: failingFetch }))).code).toBe('SHC_UNTRUSTED_ISSUER');
    const allowed = await parseImport(jws, { now, trust, allowUnverified: true });
    expect(allowed.cards[0]).toMatchObject({ issuer: stranger.iss, verified: false });
    expect(allowed.cards[0]!.reason).toBeTruthy();
    expect(allowed.resources.every((r) => !r.provenance.verified && r.provenance.verifiedAt === undefined)).toBe(true);
  });

  it('verifies about as fast as WebCrypto allows (cards verified, not timed here: see bench)', async () => {
    const jwsList = await Promise.all([1, 2, 3].map((i) => signHealthCard(issuer, shcBundle(1, i))));
    for (const jws of jwsList) expect((await verifyCard(jws, { now, trust })).verified).toBe(true);
  });
});

describe('SMART Health Cards: bad input is refused with a typed error', () => {
  let issuer: TestIssuer;
  let trust: TrustedIssuers;
  const now = new Date();
  beforeAll(async () => {
    issuer = await createIssuer();
    trust = new TrustedIssuers();
    trust.addJwks(issuer.iss, issuer.jwks);
  });
  const code = async (input: string | Uint8Array, options: { partial?: boolean } = {}): Promise<string> => (await refusal(parseImport(input, { now, trust, ...options }))).code;

  it('a bad signature (one payload byte changed)', async () => {
    const jws = await signHealthCard(issuer, shcBundle(1));
    const [h, p, s] = jws.split('.') as [string, string, string];
    const flipped = p.slice(0, 10) + (p[10] === 'A' ? 'B' : 'A') + p.slice(11);
    const e = await code(`${h}.${flipped}.${s}`);
    expect(['SHC_BAD_SIGNATURE', 'SHC_BAD_PAYLOAD']).toContain(e);
    const payload = JSON.parse(JSON.stringify(parseJws(jws).payload)) as { vc: { credentialSubject: { fhirBundle: { entry: { resource: { lotNumber?: string } }[] } } } };
    payload.vc.credentialSubject.fhirBundle.entry[1]!.resource.lotNumber = 'TAMPERED';
    const forged = `${h}.${Buffer.from(deflateSync(new TextEncoder().encode(JSON.stringify(payload)))).toString('base64url')}.${s}`;
    expect(await code(forged)).toBe('SHC_BAD_SIGNATURE');
  });

  it('a signature by another key under the issuer kid', async () => {
    const other = await createIssuer();
    expect(await code(await signHealthCard(issuer, shcBundle(1), { signingKey: other.privateKey }))).toBe('SHC_BAD_SIGNATURE');
  });

  it('an unknown kid at a known issuer', async () => {
    const other = await createIssuer();
    expect(await code(await signHealthCard(issuer, shcBundle(1), { kid: other.kid }))).toBe('SHC_UNKNOWN_KID');
  });

  it('the wrong zip: missing, zlib-wrapped, or not compressed', async () => {
    expect(await code(await signHealthCard(issuer, shcBundle(1), { header: { zip: undefined } }))).toBe('SHC_BAD_HEADER');
    expect(await code(await signHealthCard(issuer, shcBundle(1), { header: { zip: 'GZIP' } }))).toBe('SHC_BAD_HEADER');
    expect(await code(await signHealthCard(issuer, shcBundle(1), { compression: 'zlib' }))).toBe('SHC_BAD_PAYLOAD');
    expect(await code(await signHealthCard(issuer, shcBundle(1), { compression: 'none' }))).toBe('SHC_BAD_PAYLOAD');
  });

  it('another algorithm', async () => {
    expect(await code(await signHealthCard(issuer, shcBundle(1), { header: { alg: 'HS256' } }))).toBe('SHC_BAD_HEADER');
  });

  it('a future nbf, and an exp in the past', async () => {
    const in1h = Math.floor(now.getTime() / 1000) + 3600;
    expect(await code(await signHealthCard(issuer, shcBundle(1), { nbf: in1h }))).toBe('SHC_NOT_YET_VALID');
    expect(await code(await signHealthCard(issuer, shcBundle(1), { exp: Math.floor(now.getTime() / 1000) - 3600 }))).toBe('SHC_EXPIRED');
  });

  it('a payload that is not a health card', async () => {
    expect(await code(await signHealthCard(issuer, shcBundle(1), { types: ['https://example.org#other'] }))).toBe('SHC_BAD_PAYLOAD');
    expect(await code(await signHealthCard(issuer, shcBundle(1), { fhirVersion: '3.0.2' }))).toBe('SHC_BAD_PAYLOAD');
    expect(await code(await signHealthCard(issuer, shcBundle(1), { iss: 'http://insecure.example.org' }))).toBe('SHC_BAD_PAYLOAD');
    expect(await code(await signHealthCard(issuer, { resourceType: 'Bundle', type: 'transaction', entry: [] }))).toBe('SHC_BAD_PAYLOAD');
  });

  it('a card whose FHIR content breaks R4 (all-or-nothing applies inside cards too)', async () => {
    const bad = shcBundle(1);
    (bad.entry![1]!.resource as { status: string }).status = 'maybe';
    const e = await refusal(parseImport(await signHealthCard(issuer, bad), { now, trust }));
    expect(e.code).toBe('INVALID_RESOURCE');
    expect(e.problems[0]).toMatchObject({ entry: 'card 1 entry[1]', rule: 'R4_CODE_INVALID' });
  });

  it('truncated chunks: one missing', async () => {
    const lines = toQrLines(await signHealthCard(issuer, shcBundle(3)), 3);
    expect(await code([lines[0], lines[2]].join('\n'))).toBe('SHC_BAD_CHUNKS');
  });

  it('mis-ordered chunks that disagree on the count, or repeat', async () => {
    const lines = toQrLines(await signHealthCard(issuer, shcBundle(3)), 3);
    expect(await code([lines[0], lines[1], lines[2]!.replace('shc:/3/3/', 'shc:/3/4/')].join('\n'))).toBe('SHC_BAD_CHUNKS');
    expect(await code([lines[0], lines[1], lines[1]].join('\n'))).toBe('SHC_BAD_CHUNKS');
    expect(await code(lines[0]!.replace('shc:/1/3/', 'shc:/4/3/'))).toBe('SHC_BAD_CHUNKS');
  });

  it('chunks of two different cards mixed together', async () => {
    const a = toQrLines(await signHealthCard(issuer, shcBundle(3, 1)), 2);
    const b = toQrLines(await signHealthCard(issuer, shcBundle(3, 2)), 2);
    expect(['SHC_MALFORMED', 'SHC_BAD_SIGNATURE', 'SHC_BAD_PAYLOAD', 'SHC_BAD_HEADER']).toContain(await code([a[0], b[1]].join('\n')));
  });

  it('QR payloads over the spec limits (1195 characters single, 1191 per chunk, 10 chunks)', async () => {
    const big = await signHealthCard(issuer, shcBundle(1), { padding: 4000 });
    expect(big.length).toBeGreaterThan(1195);
    expect(await code(`shc:/${encodeNumeric(big)}`)).toBe('SHC_TOO_LARGE');
    expect(await code(toQrLines(big, 2).join('\n'))).toBe('SHC_TOO_LARGE');
    expect(await code('shc:/1/11/5676')).toBe('SHC_TOO_LARGE');
    // Balanced chunks within the limit are fine.
    expect((await parseImport(toQrLines(big).join('\n'), { now, trust })).cards[0]!.verified).toBe(true);
  });

  it('a DEFLATE bomb: refused at the payload cap without inflating it all', async () => {
    const bomb = deflateSync(new Uint8Array(MAX_PAYLOAD_BYTES + 1));
    expect(() => inflateCapped(bomb)).toThrow(expect.objectContaining({ code: 'SHC_TOO_LARGE' }) as Error);
  });

  it('QR text with digits outside the JWS alphabet, odd length, or no data', async () => {
    expect(() => decodeNumeric('99')).toThrow(expect.objectContaining({ code: 'SHC_MALFORMED' }) as Error);
    expect(await code('shc:/123')).toBe('SHC_MALFORMED');
    expect(await code('shc:/')).toBe('SHC_MALFORMED');
    expect(await code('shc:/abc')).toBe('SHC_MALFORMED');
  });

  it('a .smart-health-card file that is not one', async () => {
    expect(await code('{"verifiableCredential":"not-an-array"}')).toBe('SHC_MALFORMED');
    expect(await code('{"verifiableCredential":[42]}')).toBe('SHC_MALFORMED');
    expect(await code('{"verifiableCredential":["a.b.c"]}')).toBe('SHC_MALFORMED');
  });

  it('in partial mode, a bad card is reported and the good one imported', async () => {
    const good = await signHealthCard(issuer, shcBundle(1));
    const bad = await signHealthCard(issuer, shcBundle(1, 5), { nbf: Math.floor(now.getTime() / 1000) + 3600 });
    const result = await parseImport(healthCardFile([bad, good]), { now, trust, partial: true });
    expect(result.cards.map((c) => c.verified)).toEqual([false, true]);
    expect(result.cards[0]).toMatchObject({ issuer: issuer.iss, resourceCount: 0 });
    expect(result.problems).toEqual([expect.objectContaining({ entry: 'card 1', rule: 'SHC_NOT_YET_VALID' })]);
    expect(result.resources).toHaveLength(2);
    expect((await refusal(parseImport(healthCardFile([bad, good]), { now, trust }))).code).toBe('SHC_NOT_YET_VALID');
  });

  it('a JWKS whose kid is not the thumbprint of its key', () => {
    const t = new TrustedIssuers();
    const broken = { keys: [{ ...issuer.publicJwk, kid: 'not-the-thumbprint' }] };
    expect(() => t.addJwks(issuer.iss, broken)).toThrow(expect.objectContaining({ code: 'SHC_BAD_JWKS' }) as Error);
    expect(() => t.addJwks(issuer.iss, { keys: [{ ...issuer.publicJwk, d: 'private' }] })).toThrow(expect.objectContaining({ code: 'SHC_BAD_JWKS' }) as Error);
    expect(() => t.addJwks(issuer.iss, 'nope')).toThrow(expect.objectContaining({ code: 'SHC_BAD_JWKS' }) as Error);
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
});
