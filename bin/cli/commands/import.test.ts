import { spawn } from 'node:child_process';
import { copyFile, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { generatePatientBundle } from '../../../test/fixtures/generator.js';
import { createIssuer, qrPng, shcBundle, signHealthCard } from '../../../test/fixtures/shc-issuer.js';
import { PASS, dumpVault, initVault, pvault, tempRoot } from './records-cli.test-support.js';

const SHC = join(import.meta.dirname, '../../../test/fixtures/samples/shc');
const R4 = join(import.meta.dirname, '../../../test/fixtures/samples/r4');

let root: string;
let cleanup: () => Promise<void>;
let bundleFile: string;
/** The spec's issuer JWKS with the "iss" it belongs to (its keys bound to that issuer from the start). */
let specTrust: string;
const SPEC_ISS = 'https://spec.smarthealth.cards/examples/issuer';
beforeAll(async () => {
  ({ root, cleanup } = await tempRoot('pv-import-'));
  specTrust = join(root, 'spec-trust.json');
  const jwks = JSON.parse(await readFile(join(SHC, 'issuer-jwks.json'), 'utf8')) as object;
  await writeFile(specTrust, JSON.stringify({ ...jwks, iss: SPEC_ISS }));
  bundleFile = join(root, 'patient.json');
  await writeFile(bundleFile, JSON.stringify(generatePatientBundle({ seed: 3, resources: 120, years: 3 }).bundle));
});
afterAll(() => cleanup());
afterEach(() => vi.unstubAllEnvs());

describe('pvault import', () => {
  it('imports a Bundle, prints per-scope counts, and does not duplicate it on a second run', async () => {
    const dir = await initVault(root);
    const first = await pvault('import', bundleFile, '--vault', dir);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^imported \d+ resources from 1 file: \d+ added, 0 updated, 0 unchanged/);
    expect(first.stdout).toMatch(/\n {2}labs +\d+ added, 0 updated, 0 unchanged/);
    expect(first.stdout).toMatch(/\n {2}summary +\d+ added/);
    const second = await pvault('import', bundleFile, '--vault', dir);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/: 0 added, 0 updated, \d+ unchanged/);
  });

  it('imports health cards and says which ones it could verify', async () => {
    const dir = await initVault(root);
    const card = join(SHC, 'example-00-e-file.smart-health-card');
    const r = await pvault('import', card, join(SHC, 'example-01-d-jws.txt'), '--vault', dir, '--trust', specTrust);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('health cards:');
    expect(r.stdout).toMatch(/card 1 in example-00-e-file\.smart-health-card: issuer https:\/\/\S+ — verified/);
    expect(r.stdout).toMatch(/card 2 in example-01-d-jws\.txt: issuer \S+ — verified/);
    const listed = await pvault('records', '--vault', dir, '--json');
    const lines = JSON.parse(listed.stdout) as { type: string; verified?: boolean }[];
    expect(lines.some((l) => l.type === 'Immunization' && l.verified === true)).toBe(true);
  });

  it('refuses a card from an untrusted issuer unless told to import it unverified', async () => {
    const dir = await initVault(root);
    const card = join(SHC, 'example-00-e-file.smart-health-card');
    const before = await dumpVault(dir);
    const refused = await pvault('import', card, '--vault', dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('SHC_UNTRUSTED_ISSUER');
    expect(refused.stderr).toContain('Nothing was imported');
    expect(await dumpVault(dir)).toEqual(before);
    const allowed = await pvault('import', card, '--vault', dir, '--allow-unverified');
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toMatch(/— NOT verified/);
  });

  it('imports a chunked card whose QR codes are separate files, text or images, in any order', async () => {
    const dir = await initVault(root);
    const trust = specTrust;
    // The spec's example 02: one lab card split into three QR codes, one file each.
    const chunk = (n: number) => join(SHC, `example-02-f-qr-code-numeric-value-${n}.txt`);
    const text = await pvault('import', chunk(2), chunk(0), chunk(1), '--vault', dir, '--trust', trust);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^imported \d+ resources from 3 files: \d+ added/);
    expect(text.stdout).toContain(
      'card 1 in example-02-f-qr-code-numeric-value-2.txt + example-02-f-qr-code-numeric-value-0.txt + example-02-f-qr-code-numeric-value-1.txt: issuer https://spec.smarthealth.cards/examples/issuer — verified',
    );
    // The same three codes as photos (PNG), next to a FHIR file: the same records, unchanged.
    const images: string[] = [];
    for (const n of [1, 2, 0]) {
      const png = join(root, `chunk-${n}.png`);
      await writeFile(png, await qrPng((await readFile(chunk(n), 'utf8')).trim()));
      images.push(png);
    }
    const pictures = await pvault('import', images[0]!, join(R4, 'patient-example.json'), images[1]!, images[2]!, '--vault', dir, '--trust', trust);
    expect(pictures.stderr).toBe('');
    expect(pictures.code).toBe(0);
    expect(pictures.stdout).toMatch(/from 4 files: 1 added, 0 updated, \d+ unchanged/);
    expect(pictures.stdout).toContain('card 1 in chunk-1.png + chunk-2.png + chunk-0.png: issuer https://spec.smarthealth.cards/examples/issuer — verified');
  });

  it('refuses a chunked card with a QR code missing, naming the files, and imports nothing', async () => {
    const dir = await initVault(root);
    const before = await dumpVault(dir);
    const r = await pvault('import', join(SHC, 'example-02-f-qr-code-numeric-value-0.txt'), join(SHC, 'example-02-f-qr-code-numeric-value-2.txt'), '--vault', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('example-02-f-qr-code-numeric-value-0.txt + ');
    expect(r.stderr).toMatch(/QR chunk 2 of 3 is missing \[SHC_BAD_CHUNKS\]/);
    expect(await dumpVault(dir)).toEqual(before);
  });

  it('says how to trust an issuer when a card is refused as untrusted', async () => {
    const dir = await initVault(root);
    const r = await pvault('import', join(SHC, 'example-00-d-jws.txt'), '--vault', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[SHC_UNTRUSTED_ISSUER]');
    expect(r.stderr).toContain('--trust JWKS_FILE');
    expect(r.stderr).toContain('--allow-unverified');
  });

  it('imports nothing at all when one of several files is bad, and says where', async () => {
    const dir = await initVault(root);
    await pvault('import', join(R4, 'patient-example.json'), '--vault', dir);
    const before = await dumpVault(dir);
    const broken = join(root, 'broken.json');
    await writeFile(broken, '{"resourceType": "Observation", "status": ');
    const r = await pvault('import', bundleFile, broken, '--vault', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('broken.json');
    expect(r.stderr).toMatch(/\[MALFORMED_JSON\]/);
    expect(await dumpVault(dir)).toEqual(before);
  });

  it('names the entry and the rule an invalid resource breaks, and imports nothing', async () => {
    const dir = await initVault(root);
    const before = await dumpVault(dir);
    const bad = join(root, 'bad-date.json');
    const bundle = JSON.parse(await readFile(bundleFile, 'utf8')) as { entry: { resource: Record<string, unknown> }[] };
    const obs = bundle.entry.find((e) => e.resource.resourceType === 'Observation')!;
    obs.resource.effectiveDateTime = '2020-13-45';
    await writeFile(bad, JSON.stringify(bundle));
    const r = await pvault('import', bad, '--vault', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[INVALID_RESOURCE\]/);
    expect(r.stderr).toMatch(/entry\[\d+\]/);
    expect(r.stderr).not.toContain('2020-13-45');
    expect(await dumpVault(dir)).toEqual(before);

    const partial = await pvault('import', bad, '--vault', dir, '--partial');
    expect(partial.code).toBe(1);
    expect(partial.stdout).toMatch(/^imported \d+ resources/);
    expect(partial.stderr).toMatch(/problems? not imported \(--partial\)/);
    expect(await dumpVault(dir)).not.toEqual(before);
  });

  it('refuses an oversized file before reading it', async () => {
    const dir = await initVault(root);
    const big = join(root, 'big.json');
    await writeFile(big, '');
    await truncate(big, 64 * 1024 * 1024 + 1); // sparse: no 64 MB written
    const r = await pvault('import', big, '--vault', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[FILE_TOO_LARGE\]/);
  });

  it('reports a wrong passphrase, a missing vault, a missing file and a bad trust file as bad input', async () => {
    const dir = await initVault(root);
    vi.stubEnv('PVAULT_PASSPHRASE', 'not the passphrase');
    expect((await pvault('import', bundleFile, '--vault', dir)).stderr).toMatch(/\[WRONG_PASSPHRASE\]/);
    vi.stubEnv('PVAULT_PASSPHRASE', PASS);
    const missing = await pvault('import', bundleFile, '--vault', join(root, 'nope'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/\[NOT_A_VAULT\]/);
    const noFile = await pvault('import', join(root, 'absent.json'), '--vault', dir);
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toMatch(/\[FILE_UNREADABLE\]/);
    const notJwks = join(root, 'trust.txt');
    await writeFile(notJwks, 'hello');
    const badTrust = await pvault('import', bundleFile, '--vault', dir, '--trust', notJwks);
    expect(badTrust.code).toBe(1);
    expect(badTrust.stderr).toMatch(/\[SHC_BAD_JWKS\]/);
  });

  it('trusts the bare jwks.json an issuer publishes: the spec example card imports as verified, with its issuer', async () => {
    const dir = await initVault(root);
    const bare = join(SHC, 'issuer-jwks.json'); // the spec issuer's jwks.json as published, no "iss"
    const r = await pvault('import', join(SHC, 'example-00-e-file.smart-health-card'), join(SHC, 'example-01-d-jws.txt'), '--vault', dir, '--trust', bare);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`card 1 in example-00-e-file.smart-health-card: issuer ${SPEC_ISS} — verified, 4 resources`);
    expect(r.stdout).toContain(`card 2 in example-01-d-jws.txt: issuer ${SPEC_ISS} — verified`);
    expect(r.stdout).toContain(`(keys from a --trust file without "iss" were taken as those of ${SPEC_ISS}, the first issuer whose card they verified)`);
    const lines = JSON.parse((await pvault('records', '--vault', dir, '--json')).stdout) as { type: string; verified?: boolean }[];
    expect(lines.filter((l) => l.type === 'Immunization').every((l) => l.verified === true)).toBe(true);
    // With "iss" in the file the keys are the issuer's from the start, and no such note is printed.
    const named = await pvault('import', join(SHC, 'example-00-d-jws.txt'), '--vault', dir, '--trust', specTrust);
    expect(named.code).toBe(0);
    expect(named.stdout).toContain('— verified');
    expect(named.stdout).not.toContain('without "iss"');
  });

  it('refuses a bundle type that holds no records (a transaction-response) once, without suggesting --partial', async () => {
    const dir = await initVault(root);
    const file = join(root, 'response.json');
    await writeFile(file, JSON.stringify({ resourceType: 'Bundle', type: 'transaction-response', entry: [{ response: { status: '201 Created' } }] }));
    const r = await pvault('import', file, '--vault', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[INVALID_RESOURCE]');
    expect(r.stderr).toContain('UNSUPPORTED_BUNDLE_TYPE');
    expect(r.stderr.split('Bundle.type must be').length).toBe(2);
    expect(r.stderr).not.toContain('--partial');
  });

  /** A vault, a clinic's bare JWKS, a card of the clinic, and one signed with its key naming another issuer. */
  async function forgedSetup(): Promise<{ dir: string; bare: string; genuine: string; forged: string }> {
    const dir = await initVault(root);
    const issuer = await createIssuer('https://clinic.example.org/shc');
    const bare = join(root, 'clinic-jwks.json');
    await writeFile(bare, JSON.stringify(issuer.jwks));
    const genuine = join(root, 'clinic-card.txt');
    await writeFile(genuine, await signHealthCard(issuer, shcBundle(1)));
    const forged = join(root, 'forged-card.txt');
    await writeFile(forged, await signHealthCard(issuer, shcBundle(2), { iss: 'https://elsewhere.example.org/shc' }));
    return { dir, bare, genuine, forged };
  }

  it('refuses a second card signed with a bare-JWKS key but naming another issuer, importing nothing (or it unverified when allowed)', async () => {
    const { dir, bare, genuine, forged } = await forgedSetup();
    const before = await dumpVault(dir);
    const refused = await pvault('import', genuine, forged, '--vault', dir, '--trust', bare);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/forged-card\.txt: The card issuer is not trusted \(its key is trusted for another issuer only.*\) \[SHC_UNTRUSTED_ISSUER\]/);
    expect(refused.stderr).toContain('Nothing was imported');
    expect(await dumpVault(dir)).toEqual(before);
    const allowed = await pvault('import', genuine, forged, '--vault', dir, '--trust', bare, '--allow-unverified');
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toContain('card 1 in clinic-card.txt: issuer https://clinic.example.org/shc — verified');
    expect(allowed.stdout).toMatch(/card 2 in forged-card\.txt: issuer https:\/\/elsewhere\.example\.org\/shc — NOT verified \(its key is trusted for another issuer only/);
  });

  it('keeps a bare-JWKS key bound to its first issuer across runs: a card naming another issuer in a later run is refused', async () => {
    const { dir, bare, genuine, forged } = await forgedSetup();
    const first = await pvault('import', genuine, '--vault', dir, '--trust', bare);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('issuer https://clinic.example.org/shc — verified');
    const before = await dumpVault(dir);
    const later = await pvault('import', forged, '--vault', dir, '--trust', bare);
    expect(later.code).toBe(1);
    expect(later.stderr).toMatch(/forged-card\.txt: The card issuer is not trusted \(its key is trusted for another issuer only.*\) \[SHC_UNTRUSTED_ISSUER\]/);
    expect(await dumpVault(dir)).toEqual(before);
    // The genuine issuer's cards still verify in later runs.
    const again = await pvault('import', genuine, '--vault', dir, '--trust', bare);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('issuer https://clinic.example.org/shc — verified');
  });

  it('refuses malformed, oversized and hostile trust files with SHC_BAD_JWKS, before touching the vault', async () => {
    const dir = await initVault(root);
    const before = await dumpVault(dir);
    const jwks = await readFile(join(SHC, 'issuer-jwks.json'), 'utf8');
    const key = (JSON.parse(jwks) as { keys: Record<string, unknown>[] }).keys[0]!;
    const cases: [string, string, RegExp][] = [
      ['keys-object.json', JSON.stringify({ keys: { 0: key } }), /has no "keys" array/],
      ['private.json', JSON.stringify({ keys: [{ ...key, d: 'c2VjcmV0' }] }), /holds a private key.*keep the private key secret/],
      ['proto.json', `{"__proto__":{"iss":"https://elsewhere.example.org"},${jwks.trim().slice(1)}`, /"__proto__" member/],
      ['no-signing-key.json', JSON.stringify({ keys: [{ kty: 'RSA', n: 'AQAB', e: 'AQAB' }] }), /no health-card signing key/],
      ['http-iss.json', JSON.stringify({ ...(JSON.parse(jwks) as object), iss: 'http://spec.smarthealth.cards/examples/issuer' }), /"iss".*https URL/],
    ];
    for (const [name, content, says] of cases) {
      const file = join(root, name);
      await writeFile(file, content);
      const r = await pvault('import', join(SHC, 'example-00-d-jws.txt'), '--vault', dir, '--trust', file);
      expect(r.code, name).toBe(1);
      expect(r.stderr, name).toMatch(says);
      expect(r.stderr, name).toMatch(/\[SHC_BAD_JWKS\]$/);
      expect(r.stderr, name).not.toContain(String(key.x));
    }
    const big = join(root, 'big-jwks.json');
    await writeFile(big, '');
    await truncate(big, 10 * 1024 * 1024); // sparse: 10 MB, none of it written
    const r = await pvault('import', join(SHC, 'example-00-d-jws.txt'), '--vault', dir, '--trust', big);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`pvault import: ${big}: 10485760 bytes, over the 262144-byte limit of a trust file (a JWKS is a few KiB); nothing was imported [SHC_BAD_JWKS]`);
    const folder = await pvault('import', join(SHC, 'example-00-d-jws.txt'), '--vault', dir, '--trust', root);
    expect(folder.code).toBe(1);
    expect(folder.stderr).toMatch(/cannot read the trust file \(EISDIR\) \[FILE_UNREADABLE\]/);
    expect(await dumpVault(dir)).toEqual(before);
    // A byte order mark, as some editors save a file, is not an error.
    const bom = join(root, 'bom-jwks.json');
    await writeFile(bom, `\uFEFF${jwks}`);
    expect((await pvault('import', join(SHC, 'example-00-d-jws.txt'), '--vault', dir, '--trust', bom)).code).toBe(0);
  });

  it('reports a card whose kid is not in its trusted issuer\'s key set as an unknown kid', async () => {
    const dir = await initVault(root);
    const [header, ...rest] = (await readFile(join(SHC, 'example-00-d-jws.txt'), 'utf8')).trim().split('.');
    const h = JSON.parse(Buffer.from(header!, 'base64url').toString()) as { kid: string };
    h.kid = 'x'.repeat(43);
    const card = join(root, 'other-kid.txt');
    await writeFile(card, [Buffer.from(JSON.stringify(h)).toString('base64url'), ...rest].join('.'));
    const r = await pvault('import', card, '--vault', dir, '--trust', specTrust);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[SHC_UNKNOWN_KID\]/);
    expect(r.stderr).not.toMatch(/UNTRUSTED/);
  });

  it('resolves a relative reference to a Patient given in another file of the same or an earlier run', async () => {
    for (const together of [true, false]) {
      const dir = await initVault(root);
      const files = [join(R4, 'patient-example.json'), join(R4, 'allergyintolerance-example.json')];
      if (together) expect((await pvault('import', ...files, '--vault', dir)).code).toBe(0);
      else for (const f of files) expect((await pvault('import', f, '--vault', dir)).code).toBe(0);
      const out = join(root, `refs-${together}.json`);
      expect((await pvault('export', '--vault', dir, '--out', out)).code).toBe(0);
      const bundle = JSON.parse(await readFile(out, 'utf8')) as { entry: { resource: { resourceType: string; id: string; patient?: { reference: string } } }[] };
      const patient = bundle.entry.find((e) => e.resource.resourceType === 'Patient')!.resource;
      const allergy = bundle.entry.find((e) => e.resource.resourceType === 'AllergyIntolerance')!.resource;
      expect(allergy.patient?.reference).toBe(`Patient/${patient.id}`);
    }
  });

  it('does not verify a card signed with a trusted key but claiming another issuer', async () => {
    const dir = await initVault(root);
    const otherIss = join(root, 'other-iss-trust.json');
    const jwks = JSON.parse(await readFile(join(SHC, 'issuer-jwks.json'), 'utf8')) as object;
    await writeFile(otherIss, JSON.stringify({ ...jwks, iss: 'https://other.example.org' }));
    const card = join(SHC, 'example-00-d-jws.txt');
    const r = await pvault('import', card, '--vault', dir, '--trust', otherIss);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[SHC_UNTRUSTED_ISSUER\]/);
  });

  it('is a usage error without files, without --vault, or with an unknown flag', async () => {
    expect((await pvault('import', '--vault', join(root, 'x'))).code).toBe(2);
    expect((await pvault('import', bundleFile)).code).toBe(2);
    expect((await pvault('import', bundleFile, '--vault', join(root, 'x'), '--bogus')).code).toBe(2);
    const help = await pvault('import', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: pvault import FILE… --vault DIR [--trust JWKS_FILE]… [--partial]');
  });

  it('works as a real process: node bin/pvault.js import, then records --json', async () => {
    const dir = await initVault(root);
    const file = join(root, 'obs.json');
    await copyFile(join(R4, 'observation-example-f001-glucose.json'), file);
    const run = (...args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolvePromise) => {
        const child = spawn(process.execPath, [join(import.meta.dirname, '../../pvault.js'), ...args], { env: { ...process.env, PVAULT_PASSPHRASE: PASS } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
      });
    const imported = await run('import', file, '--vault', dir);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain('imported 1 resource from 1 file: 1 added');
    const listed = await run('records', '--vault', dir, '--json');
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { type: string; scope: string }[]).map((l) => [l.type, l.scope])).toEqual([['Observation', 'labs']]);
    const usage = await run('import');
    expect(usage.code).toBe(2);
  }, 60_000);
});
