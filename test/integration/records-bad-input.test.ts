/**
 * Issue 5 "Bad input": each hostile or broken input goes through the whole import (parse, validate,
 * store) on a real vault that already holds records, and must end in a typed error with nothing
 * imported — the raw storage is byte-for-byte what it was.
 */
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { TrustedIssuers, parseImport } from '../../src/records/index.js';
import type { RecordStore } from '../../src/records/store/record-store.js';
import type { Storage } from '../../src/store/index.js';
import { generatePatientBundle } from '../fixtures/generator.js';
import { createIssuer, healthCardFile, qrPng, shcBundle, signHealthCard, toQrLines } from '../fixtures/shc-issuer.js';
import { NOW, codeOf, dumpStorage, lab, newStore, patient } from './records-support.js';

async function filledVault(): Promise<{ storage: Storage; store: RecordStore }> {
  const { storage, store } = await newStore();
  await store.importResources([patient(), lab('g1', 90, '2024-01-02')]);
  return { storage, store };
}

/** The whole import of one input, as the CLI and the extension run it. */
async function importAll(store: RecordStore, input: Uint8Array | string, trust?: TrustedIssuers): Promise<void> {
  const parsed = await parseImport(input, { now: NOW, resolveReference: store.resolveReference, ...(trust ? { trust } : {}) });
  await store.importResources(parsed.resources);
}

async function expectRefused(input: Uint8Array | string | (() => Promise<Uint8Array | string>), codes: string[], trust?: TrustedIssuers): Promise<void> {
  const { storage, store } = await filledVault();
  const before = await dumpStorage(storage);
  const data = typeof input === 'function' ? await input() : input;
  expect(codes).toContain(await codeOf(importAll(store, data, trust)));
  expect(await dumpStorage(storage)).toEqual(before);
  expect(store.list().map((l) => l.key).sort()).toEqual(['Observation/g1', 'Patient/p1']);
}

const validBundle = () => generatePatientBundle({ seed: 21, resources: 40, years: 2 }).bundle as unknown as { entry: { fullUrl?: string; resource: Record<string, unknown> }[] };

describe('bad input leaves the vault unchanged', () => {
  it('malformed JSON', () => expectRefused('{"resourceType":"Bundle","entry":[', ['MALFORMED_JSON']));

  it('a wrong or unknown resourceType', async () => {
    await expectRefused(JSON.stringify({ resourceType: 'Nonsense', id: 'x' }), ['INVALID_RESOURCE', 'UNKNOWN_FORMAT']);
    const b = validBundle();
    b.entry[3]!.resource.resourceType = 'Observationz';
    await expectRefused(JSON.stringify(b), ['INVALID_RESOURCE']);
  });

  it('resources that break R4: a missing required element, a wrong type, a bad date', async () => {
    const missing = validBundle();
    const obs = missing.entry.find((e) => e.resource.resourceType === 'Observation')!.resource;
    delete obs.status;
    await expectRefused(JSON.stringify(missing), ['INVALID_RESOURCE']);
    const wrongType = validBundle();
    wrongType.entry.find((e) => e.resource.resourceType === 'Observation')!.resource.status = 42;
    await expectRefused(JSON.stringify(wrongType), ['INVALID_RESOURCE']);
    const badDate = validBundle();
    badDate.entry.find((e) => e.resource.resourceType === 'Observation')!.resource.effectiveDateTime = '2021-02-30T25:00:00Z';
    await expectRefused(JSON.stringify(badDate), ['INVALID_RESOURCE']);
  });

  it('an oversized file and a deeply nested one', async () => {
    const big = new Uint8Array(65 * 1024 * 1024).fill(0x20);
    big[0] = 0x7b;
    await expectRefused(big, ['FILE_TOO_LARGE']);
    await expectRefused(`${'['.repeat(10_000)}${']'.repeat(10_000)}`, ['TOO_DEEP', 'MALFORMED_JSON', 'UNKNOWN_FORMAT']);
  });

  it('a dangling reference', async () => {
    const b = validBundle();
    const obs = b.entry.find((e) => e.resource.resourceType === 'Observation')!.resource;
    obs.subject = { reference: 'urn:uuid:00000000-0000-4000-8000-00000000dead' };
    await expectRefused(JSON.stringify(b), ['INVALID_RESOURCE']);
  });

  it('health cards with a bad signature, an unknown kid, a wrong zip, bad times, bad chunks, too large', async () => {
    const issuer = await createIssuer();
    const trust = new TrustedIssuers();
    trust.addJwks(issuer.iss, issuer.jwks);
    const other = await createIssuer();
    const now = Math.floor(NOW.getTime() / 1000);
    const card = (options: Parameters<typeof signHealthCard>[2] = {}) => signHealthCard(issuer, shcBundle(2), { nbf: now - 3600, ...options });
    await expectRefused(async () => healthCardFile([await card({ signingKey: other.privateKey })]), ['SHC_BAD_SIGNATURE'], trust);
    await expectRefused(async () => healthCardFile([await card({ kid: other.kid })]), ['SHC_UNKNOWN_KID'], trust);
    await expectRefused(JSON.stringify({ verifiableCredential: [] }), ['SHC_MALFORMED'], trust);
    await expectRefused(async () => healthCardFile([await card({ compression: 'zlib' })]), ['SHC_BAD_PAYLOAD', 'SHC_MALFORMED'], trust);
    await expectRefused(async () => healthCardFile([await card({ nbf: now + 86_400 })]), ['SHC_NOT_YET_VALID'], trust);
    await expectRefused(async () => healthCardFile([await card({ nbf: now - 2 * 86_400, exp: now - 86_400 })]), ['SHC_EXPIRED'], trust);
    const lines = toQrLines(await card(), 3);
    await expectRefused(lines.slice(0, 2).join('\n'), ['SHC_BAD_CHUNKS'], trust);
    await expectRefused([lines[0], lines[1], lines[1]].join('\n'), ['SHC_BAD_CHUNKS'], trust);
    // Over the spec's QR limits: more than 1195 JWS characters in one QR code, more than 10 chunks.
    const long = await card({ padding: 3000 });
    await expectRefused(toQrLines(long, 1).join('\n'), ['SHC_TOO_LARGE'], trust);
    await expectRefused(toQrLines(await card({ padding: 12_000 }), 11).join('\n'), ['SHC_TOO_LARGE'], trust);
  });

  it('an image with no QR code in it', async () => {
    const png = new PNG({ width: 64, height: 64 });
    png.data.fill(255);
    await expectRefused(new Uint8Array(PNG.sync.write(png)), ['IMAGE_NO_QR']);
  });

  it('and a good card in an image does import (the same path, to show the checks are not vacuous)', async () => {
    const issuer = await createIssuer();
    const trust = new TrustedIssuers();
    trust.addJwks(issuer.iss, issuer.jwks);
    const { store } = await filledVault();
    const [line] = toQrLines(await signHealthCard(issuer, shcBundle(1), { nbf: Math.floor(NOW.getTime() / 1000) - 60 }));
    await importAll(store, await qrPng(line!), trust);
    expect(store.list({ types: ['Immunization'] })).toHaveLength(1);
  });
});

describe('messages about bad input name the entry and the rule, never what the file holds', () => {
  it('an element R4 does not define is named by its parent only (its name is the file\'s, and may be data)', async () => {
    const b = validBundle();
    const at = b.entry.findIndex((e) => e.resource.resourceType === 'Observation');
    b.entry[at]!.resource.JaneDoeHivPositive = 'x';
    const { store } = await filledVault();
    const error = await importAll(store, JSON.stringify(b)).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string; problems: { entry: string; rule: string; message: string }[] },
    );
    expect(error?.code).toBe('INVALID_RESOURCE');
    expect(error!.problems).toContainEqual({ entry: `entry[${at}]`, rule: 'R4_UNKNOWN_ELEMENT', message: 'Observation.<unknown element>: Invalid additional property' });
    expect(JSON.stringify(error!.problems) + error!.message).not.toMatch(/JaneDoe|Hiv/i);
  });
});
