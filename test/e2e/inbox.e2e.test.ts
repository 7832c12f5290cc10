/**
 * What issue 7 built beyond the main story, in two real Chromium profiles with `pvault relay`:
 * a SMART Health Card imported from a QR *image* (a PNG made here with the `qrcode` package);
 * the inbox round trip — the patient lets a clinic send results when approving its invitation, the
 * clinic sends one result pasted and one from a file (an invalid one is refused), the patient
 * accepts one into a scope it picks and rejects the other; names instead of dids on both sides;
 * and the auto-lock timer locking the vault and telling a connected page (lockChanged).
 * New views are screenshot to docs/screenshots/ and checked with axe-core.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { startDemoSites, type DemoSites } from '../../demo/sites.js';
import { createIssuer, qrPng, shcBundle, signHealthCard, toQrLines } from '../fixtures/shc-issuer.js';
import { approvalPage, approve, checkView, identityOf, launchProfiles, pageCall, tearDown, TEST_PASSPHRASE, vaultOnRelay, type Profile } from './harness.js';
import { relayAvailable, startRelayProcess, type RelayProcess } from './relay.js';

let sites: DemoSites;
let relay: RelayProcess;
let patient: Profile;
let provider: Profile;
const dirs: string[] = [];
let patientTab: Page;
let providerTab: Page;
let patientDid: string;
let providerDid: string;

/** A synthetic glucose result (no real data). */
function glucose(value: number, date: string): string {
  return JSON.stringify({
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose [Mass/volume] in Serum or Plasma' }] },
    effectiveDateTime: date,
    valueQuantity: { value, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  });
}

beforeAll(async () => {
  expect(relayAvailable()).toBe(true);
  relay = await startRelayProcess();
  sites = await startDemoSites({ ...(relay.websocket !== undefined && { relay: relay.websocket }) });
  [patient, provider] = await launchProfiles(dirs, ['patient', 'provider']);
  [patientTab, providerTab] = await Promise.all([vaultOnRelay(patient, 'Alex Example', relay.websocket!), vaultOnRelay(provider, 'Example Clinic', relay.websocket!)]);
  patientDid = await identityOf(patientTab, patient);
  providerDid = await identityOf(providerTab, provider);
});

afterAll(async () => {
  await tearDown({ profiles: [patient, provider], sites, relay, dirs });
});

describe('import from a QR image', () => {
  it('reads a SMART Health Card from a PNG of its QR code and imports it after the preview', async () => {
    const issuer = await createIssuer('https://issuer.example.org/shc');
    const lines = toQrLines(await signHealthCard(issuer, shcBundle(1, 3)));
    expect(lines).toHaveLength(1);
    const png = join(dirs[0]!, 'card-qr.png');
    await writeFile(png, await qrPng(lines[0]!));

    await patientTab.goto(patient.url('vault.html#records'));
    await patientTab.getByRole('tab', { name: 'Import' }).click();
    await patientTab.getByLabel(/From a file/).setInputFiles(png);
    await patientTab.getByRole('heading', { name: /^This will add \d+ records$/ }).waitFor({ timeout: 60_000 });
    // The issuer is synthetic and cannot be reached: the card is read but its signature is not verified.
    expect(await patientTab.getByText('signature not verified').count()).toBe(1);
    expect(await patientTab.getByText(/Immunization/).count()).toBeGreaterThan(0);
    await checkView(patientTab, 'vault-import-qr');
    await patientTab.getByRole('button', { name: /^Import \d+ records$/ }).click();
    expect(await patientTab.getByRole('status').filter({ hasText: 'Imported:' }).textContent({ timeout: 60_000 })).toMatch(/Imported: [1-9]\d* new/);
  });

  it('says so when an image holds no QR code', async () => {
    const png = join(dirs[0]!, 'no-qr.png');
    // A valid white 120×120 PNG: it decodes, but holds no code.
    const white = new PNG({ width: 120, height: 120 });
    white.data.fill(255);
    await writeFile(png, PNG.sync.write(white));
    await patientTab.getByLabel(/From a file/).setInputFiles(png);
    await expect.poll(() => patientTab.getByRole('alert').allTextContents()).toEqual(['No QR code found in that image']);
  });

  it('reads a health card from an SVG of its QR code (as the SMART Health Cards spec ships them), told by content, not by name or type', async () => {
    const issuer = await createIssuer('https://issuer.example.org/shc');
    const [line] = toQrLines(await signHealthCard(issuer, shcBundle(2, 7)));
    const m = /^(shc:\/)(\d+)$/.exec(line!)!;
    // node-qrcode's SVG is the spec examples' form: a viewBox only, one <path> of module runs.
    const svg = await QRCode.toString(
      [
        { data: Buffer.from(m[1]!, 'latin1'), mode: 'byte' as const },
        { data: m[2]!, mode: 'numeric' as const },
      ],
      { errorCorrectionLevel: 'L', margin: 4, type: 'svg' },
    );
    expect(svg).toMatch(/^<svg [^>]*viewBox=/);
    await patientTab.goto(patient.url('vault.html#records'));
    await patientTab.getByRole('tab', { name: 'Import' }).click();
    await patientTab.getByLabel(/From a file/).setInputFiles({ name: 'card-qr', mimeType: 'application/octet-stream', buffer: Buffer.from(svg) });
    await patientTab.getByRole('heading', { name: /^This will add \d+ records$/ }).waitFor({ timeout: 60_000 });
    expect(await patientTab.getByText('signature not verified').count()).toBe(1);
  });

  it('says so when an SVG holds no QR code, and refuses one that is not well-formed', async () => {
    const blank = '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000" viewBox="0 0 50 50"><rect width="50" height="50" fill="#fff"/><circle cx="25" cy="25" r="9"/></svg>';
    await patientTab.getByLabel(/From a file/).setInputFiles({ name: 'blank.svg', mimeType: 'image/svg+xml', buffer: Buffer.from(blank) });
    await expect.poll(() => patientTab.getByRole('alert').allTextContents()).toEqual(['No QR code found in that image']);
    await patientTab.getByLabel(/From a file/).setInputFiles({ name: 'broken.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><rect></svg>') });
    await expect.poll(() => patientTab.getByRole('alert').allTextContents()).toEqual(['That SVG image could not be read']);
  });
});

describe('results a provider sends to the patient’s inbox', () => {
  it('the patient invites the clinic by QR code (summary and labs, 30 days) and, approving, lets it send results', async () => {
    await patientTab.goto(patient.url('vault.html#sharing'));
    await patientTab.getByRole('checkbox', { name: /Lab results/ }).check();
    expect(await patientTab.getByLabel('For how many days').inputValue()).toBe('30');
    await patientTab.getByRole('button', { name: 'Create invitation' }).click();
    const link = await patientTab.getByLabel('Or send this link').inputValue();
    expect(link).toMatch(/^pvault:/);
    // The clinic scans the code on the patient's screen: a picture of the QR image, decoded there.
    const qr = await patientTab.getByRole('img', { name: /Invitation QR code/ }).screenshot();

    await providerTab.goto(provider.url('vault.html#provider'));
    await providerTab.getByText('Accept a patient’s invitation').click();
    await providerTab.getByLabel('Or a picture of its QR code').setInputFiles({ name: 'invitation.png', mimeType: 'image/png', buffer: qr });
    await expect.poll(() => providerTab.getByLabel('Invitation (pvault:…)').inputValue()).toBe(link);
    await providerTab.getByRole('button', { name: 'Send request' }).click();

    const prompt = await approvalPage(patient, 'peer-request');
    // The clinic is shown by the name it asked with; its identity is proven by the connection.
    await prompt.getByText('Example Clinic', { exact: true }).waitFor();
    const allow = prompt.getByRole('checkbox', { name: /may also send new results to your inbox/ });
    expect(await allow.isChecked()).toBe(false);
    await allow.check();
    await checkView(prompt, 'approve-peer-results');
    await approve(patient, 'peer-request', 'Share');
    const shared = providerTab.getByRole('status').filter({ hasText: /^Shared with you: / });
    await shared.waitFor({ timeout: 90_000 });
    expect(await shared.textContent()).toMatch(/^Shared with you: (labs, summary|summary, labs)\.$/);
  });

  it('both sides show names, not dids (the did stays in the title)', async () => {
    await patientTab.goto(patient.url('vault.html#sharing'));
    const grantee = patientTab.locator(`td .party[data-did="${providerDid}"]`).first();
    await grantee.waitFor({ timeout: 30_000 });
    expect(await grantee.textContent()).toBe('Example Clinic');
    expect(await grantee.getAttribute('title')).toBe(providerDid);
    await patientTab.getByText('may send results').first().waitFor({ timeout: 30_000 });

    await providerTab.getByRole('button', { name: 'Check for updates' }).click();
    const section = providerTab.getByRole('region', { name: 'Patient Alex Example' });
    await section.getByText('you may send results').waitFor({ timeout: 60_000 });
    expect(await section.locator(`.party[data-did="${patientDid}"]`).textContent()).toBe('Alex Example');
  });

  it('the clinic sends one result pasted and one from a file; an invalid one is refused', async () => {
    const section = providerTab.getByRole('region', { name: 'Patient Alex Example' });
    await section.getByText('Send a result').click();
    await section.getByLabel(/Or paste one FHIR resource/).fill('{"resourceType":"Observation","status":"final","code":{"text":"x"},"effectiveDateTime":"yesterday"}');
    await section.getByRole('button', { name: 'Send to the patient’s inbox' }).click();
    await section.getByRole('alert').waitFor({ timeout: 30_000 });
    expect(await section.getByRole('alert').textContent()).toMatch(/yesterday|dateTime/i);

    await section.getByLabel(/Or paste one FHIR resource/).fill(glucose(97, '2025-09-01T08:00:00Z'));
    await section.getByRole('button', { name: 'Send to the patient’s inbox' }).click();
    await section.getByRole('status').filter({ hasText: 'Sent to Alex Example’s inbox' }).waitFor({ timeout: 60_000 });
    await section.evaluate((el) => el.scrollIntoView());
    await checkView(providerTab, 'vault-provider-send-result');

    const file = join(dirs[1]!, 'result.json');
    await writeFile(file, glucose(412, '2025-09-02T08:00:00Z'));
    await section.getByLabel('A FHIR resource file (JSON)').setInputFiles(file);
    await expect.poll(() => section.getByLabel(/Or paste one FHIR resource/).inputValue()).toContain('"value":412');
    await section.getByRole('button', { name: 'Send to the patient’s inbox' }).click();
    await section.getByRole('status').filter({ hasText: 'Sent to Alex Example’s inbox' }).waitFor({ timeout: 60_000 });
  });

  it('the patient accepts one into the scope it picks and rejects the other; only the accepted one is kept', async () => {
    await patientTab.goto(patient.url('vault.html#trail'));
    const items = patientTab.getByTestId('inbox-item');
    await expect.poll(() => items.count(), { timeout: 60_000 }).toBe(2);
    expect(await items.first().getByText('Example Clinic').count()).toBe(1);
    await checkView(patientTab, 'vault-inbox');

    const kept = items.filter({ hasText: '97 mg/dL' });
    expect(await kept.getByLabel('Add to').inputValue()).toBe('labs');
    await kept.getByRole('button', { name: 'Accept' }).click();
    await patientTab.getByRole('status').filter({ hasText: 'Added to Lab results' }).waitFor({ timeout: 60_000 });
    await expect.poll(() => items.count(), { timeout: 30_000 }).toBe(1);
    await items.filter({ hasText: '412 mg/dL' }).getByRole('button', { name: 'Reject' }).click();
    await patientTab.getByRole('status').filter({ hasText: 'Rejected and deleted.' }).waitFor({ timeout: 30_000 });
    await patientTab.getByText('No results are waiting.').waitFor({ timeout: 30_000 });

    await patientTab.goto(patient.url('vault.html#records'));
    await patientTab.getByTestId('timeline').waitFor();
    expect(await patientTab.getByText('97 mg/dL').count()).toBeGreaterThan(0);
    expect(await patientTab.getByText('412 mg/dL').count()).toBe(0);
  });
});

describe('auto-lock', () => {
  it('locks an idle vault after the shortest setting and tells a connected page (lockChanged)', async () => {
    const portal = await patient.open(sites.hospitalUrl);
    await portal.getByText('Patient Vault is installed.').waitFor();
    const connecting = pageCall(portal, 'vault_connect');
    await approve(patient, 'connect', 'Connect');
    expect(await connecting).toMatchObject({ ok: true });
    await portal.evaluate(() => {
      const w = window as unknown as { lockEvents: unknown[]; patientVault: { on(e: string, fn: (d: unknown) => void): void } };
      w.lockEvents = [];
      w.patientVault.on('lockChanged', (d) => w.lockEvents.push(d));
    });

    await patientTab.goto(patient.url('vault.html#settings'));
    await patientTab.getByLabel('Lock the vault after this long without use').selectOption('1');
    await patientTab.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    // Nobody touches the vault now: one minute of idleness, checked every 5 s by the host.
    await patientTab.getByRole('heading', { name: 'Patient Vault is locked' }).waitFor({ timeout: 100_000 });
    await expect.poll(() => portal.evaluate(() => (window as unknown as { lockEvents: unknown[] }).lockEvents), { timeout: 10_000 }).toEqual([{ locked: true }]);
    expect(await pageCall(portal, 'vault_status')).toMatchObject({ ok: true, result: { locked: true } });

    await patientTab.getByLabel('Passphrase').fill(TEST_PASSPHRASE);
    await patientTab.getByRole('button', { name: 'Unlock' }).click();
    await patientTab.getByRole('navigation', { name: 'Vault sections' }).waitFor({ timeout: 60_000 });
    await expect.poll(() => portal.evaluate(() => (window as unknown as { lockEvents: unknown[] }).lockEvents)).toEqual([{ locked: true }, { locked: false }]);
  });
});
