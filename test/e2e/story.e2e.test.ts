/**
 * The story of issue 7 in two real Chromium profiles (patient and provider) with `pvault relay`
 * started by the test: create vaults; the patient saves records from the hospital portal (a FHIR
 * Bundle and a SMART Health Card); opens a lab chart; shares summary and labs with the clinic
 * through its intake page and a one-time invitation; the provider's extension verifies and shows
 * the records; the patient adds a lab and the provider sees it; the patient reads the access
 * receipts; revokes; the provider sees the grant ended and gets nothing new; both browsers restart
 * and their vaults persist, locked. Every view is screenshot to docs/screenshots/ and checked with
 * axe-core (no serious or critical violation).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { DEMO_ISSUER, startDemoSites, type DemoSites } from '../../demo/sites.js';
import {
  approvalPage,
  approve,
  checkView,
  createVault,
  identityOf,
  launchProfile,
  launchProfiles,
  newProfileDir,
  pageCall,
  setRelay,
  tearDown,
  TEST_PASSPHRASE,
  type Profile,
} from './harness.js';
import { relayAvailable, startRelayProcess, type RelayProcess } from './relay.js';

let sites: DemoSites;
let relay: RelayProcess;
let patient: Profile;
let provider: Profile;
const dirs: string[] = [];
let patientTab: Page;
let providerTab: Page;
let staff: Page;
/** The clinic's intake page in the patient's browser (it hears shareChanged for the share it asked for). */
let intake: Page;
let patientDid: string;

/** A new HbA1c result as a FHIR Bundle (synthetic). */
function newLab(date: string, value: number, id: string) {
  return JSON.stringify({
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      {
        fullUrl: `urn:uuid:7d1f3a52-0000-4000-8000-${id.padStart(12, '0')}`,
        resource: {
          resourceType: 'Observation',
          status: 'final',
          category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
          code: { coding: [{ system: 'http://loinc.org', code: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood' }] },
          effectiveDateTime: date,
          valueQuantity: { value, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
        },
      },
    ],
  });
}

/** Imports pasted FHIR JSON through the vault tab's import panel. */
async function importPasted(tab: Page, profile: Profile, json: string): Promise<string> {
  await tab.goto(profile.url('vault.html#records'));
  await tab.getByRole('tab', { name: 'Import' }).click();
  await tab.getByLabel('Or paste a health card (shc:/…) or FHIR JSON').fill(json);
  await tab.getByRole('button', { name: 'Check' }).click();
  await tab.getByRole('button', { name: /^Import \d+ records?$/ }).click();
  return (await tab.getByRole('status').filter({ hasText: 'Imported:' }).textContent({ timeout: 60_000 })) ?? '';
}

/** shareChanged events the intake page heard so far. */
function shareEvents(): Promise<unknown[]> {
  return intake.evaluate(() => (window as unknown as { __shareEvents: unknown[] }).__shareEvents);
}

/** Records the staff page's vault_getRecords returns for the patient now (0 when refused). */
async function providerRecordCount(): Promise<number> {
  const r = await pageCall(staff, 'vault_getRecords', { patient: patientDid, limit: 500 });
  return r.ok ? (r.result as { records: unknown[] }).records.length : 0;
}

beforeAll(async () => {
  expect(relayAvailable()).toBe(true);
  relay = await startRelayProcess();
  sites = await startDemoSites({ ...(relay.websocket !== undefined && { relay: relay.websocket }) });
  [patient, provider] = await launchProfiles(dirs, ['patient', 'provider']);
});

afterAll(async () => {
  await tearDown({ profiles: [patient, provider], sites, relay, dirs });
});

describe('1. both set up their vaults', () => {
  it('the relay prints a WebSocket address for browsers', () => {
    expect(relay.websocket).toMatch(/\/ws\/p2p\//);
  });

  it('onboarding measures the passphrase and creates the provider’s vault', async () => {
    const page = await provider.open(provider.url('vault.html'));
    await page.getByLabel('Passphrase', { exact: true }).fill('password1');
    await expect.poll(() => page.getByRole('meter', { name: 'Passphrase strength' }).getAttribute('aria-valuetext')).toMatch(/weak/i);
    expect(await page.getByRole('button', { name: 'Create vault' }).isDisabled()).toBe(true);
    await page.getByLabel('Passphrase', { exact: true }).fill(TEST_PASSPHRASE);
    await expect.poll(() => page.getByRole('meter', { name: 'Passphrase strength' }).getAttribute('aria-valuetext')).toMatch(/strong/i);
    await page.getByLabel('Your name').fill('Example Clinic');
    await page.getByLabel('Passphrase again').fill(TEST_PASSPHRASE);
    await checkView(page, 'onboarding');
    await page.getByRole('button', { name: 'Create vault' }).click();
    await page.getByRole('navigation', { name: 'Vault sections' }).waitFor({ timeout: 90_000 });
    providerTab = page;
    patientTab = await createVault(patient, { name: 'Alex Example' });
  });

  it('both reach the relay, and the clinic registers its identity on its staff page', async () => {
    await setRelay(patientTab, patient, relay.websocket!);
    await setRelay(providerTab, provider, relay.websocket!);
    const clinicDid = await identityOf(providerTab, provider);
    expect(clinicDid).toMatch(/^did:key:z6Mk/);
    patientDid = await identityOf(patientTab, patient);
    staff = await provider.open(`${sites.clinicUrl}/staff`);
    await staff.getByLabel('Clinic did:key').fill(clinicDid);
    await staff.getByRole('button', { name: 'Save identity' }).click();
    await staff.getByText('Saved.').waitFor();
  });
});

describe('2. the patient saves records from the hospital portal', () => {
  it('connects the portal and imports its FHIR Bundle after seeing what it holds', async () => {
    const portal = await patient.open(sites.hospitalUrl);
    await portal.getByText('Patient Vault is installed.').waitFor();
    await checkView(portal, 'hospital-portal');
    await portal.getByRole('button', { name: 'Save to Patient Vault' }).click();
    const connect = await approvalPage(patient, 'connect');
    expect(await connect.locator('.origin').first().textContent()).toBe(sites.hospitalUrl);
    await checkView(connect, 'approve-connect');
    await approve(patient, 'connect', 'Connect');
    const importPrompt = await approvalPage(patient, 'import');
    await expect.poll(() => importPrompt.locator('[data-prompt-kind="import"]').innerText()).toMatch(/offers \d+ records/);
    await checkView(importPrompt, 'approve-import');
    await approve(patient, 'import', 'Save to my vault');
    const status = portal.locator('#status').filter({ hasText: /Saved|could not/ });
    await status.waitFor({ timeout: 120_000 });
    expect(await status.textContent()).toMatch(/^Saved to your vault: \d{2,} new/);
  });

  it('imports the SMART Health Card, telling the user its issuer could not be checked', async () => {
    const portal = await patient.open(sites.hospitalUrl);
    await portal.getByRole('button', { name: 'Save vaccination card to Patient Vault' }).click();
    const prompt = await approvalPage(patient, 'import');
    // The demo issuer (https://hospital.example.org/shc) cannot be reached from this machine.
    await prompt.getByText('signature not verified').waitFor();
    expect(await prompt.getByText(`Health card issued by ${DEMO_ISSUER}`).count()).toBe(1);
    await approve(patient, 'import', 'Save to my vault');
    await portal.locator('#status').filter({ hasText: /Saved to your vault: 3 new/ }).waitFor({ timeout: 60_000 });
  });
});

describe('3. the patient reads the vault', () => {
  it('timeline renders records readably', async () => {
    await patientTab.goto(patient.url('vault.html#records'));
    await patientTab.getByTestId('timeline').waitFor();
    expect(await patientTab.getByText('Unsigned import').count()).toBeGreaterThan(0);
    await checkView(patientTab, 'vault-records');
  });

  it('records are grouped by type, each group opening to readable records', async () => {
    await patientTab.getByRole('tab', { name: 'By type' }).click();
    const observations = patientTab.locator('details', { has: patientTab.locator('summary strong', { hasText: /^Observation$/ }) });
    await observations.locator('summary').click();
    expect(await observations.locator('article').count()).toBeGreaterThan(0);
    expect(await patientTab.locator('details summary strong', { hasText: /^Immunization$/ }).count()).toBe(1);
  });

  it('the IPS summary groups problems, medications, allergies, immunizations, results', async () => {
    await patientTab.getByRole('tab', { name: 'Summary (IPS)' }).click();
    await patientTab.getByRole('heading', { name: 'Immunizations' }).waitFor();
    await checkView(patientTab, 'vault-summary');
  });

  it('a lab trend is charted for a LOINC code', async () => {
    await patientTab.getByRole('tab', { name: 'Lab trends' }).click();
    const select = patientTab.getByLabel('Lab test');
    const first = await select.locator('option').nth(1).getAttribute('value');
    await select.selectOption(first);
    await patientTab.getByRole('img', { name: /^Chart of / }).waitFor();
    expect(await patientTab.locator('canvas').count()).toBeGreaterThan(0);
    await checkView(patientTab, 'vault-labs');
  });

  it('a clinical note’s text attachment opens as text only when asked', async () => {
    const note = 'Synthetic clinical note for the e2e test.\n<b>not markup</b>';
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        {
          fullUrl: 'urn:uuid:7d1f3a52-0000-4000-8000-0000000000a1',
          resource: {
            resourceType: 'DocumentReference',
            status: 'current',
            type: { coding: [{ system: 'http://loinc.org', code: '34108-1', display: 'Outpatient Note' }] },
            date: '2025-06-15T09:00:00Z',
            content: [{ attachment: { contentType: 'text/plain; charset=utf-8', title: 'E2E visit note', data: Buffer.from(note).toString('base64') } }],
          },
        },
      ],
    };
    expect(await importPasted(patientTab, patient, JSON.stringify(bundle))).toMatch(/Imported: 1 new/);
    await patientTab.getByRole('tab', { name: 'By type' }).click();
    const notes = patientTab.locator('details', { has: patientTab.locator('summary strong', { hasText: /^DocumentReference$/ }) });
    await notes.locator('summary').click();
    const row = notes.getByTestId('attachment').filter({ hasText: 'E2E visit note' });
    expect(await row.textContent()).toContain('text/plain');
    await row.getByRole('button', { name: 'Open E2E visit note' }).click();
    // Shown as text: the markup in it is characters in a <pre>, not an element.
    expect(await row.locator('pre').textContent({ timeout: 30_000 })).toBe(note);
    expect(await row.locator('pre b').count()).toBe(0);
    await row.getByRole('button', { name: 'Close E2E visit note' }).click();
    expect(await row.locator('pre').count()).toBe(0);
  });
});

describe('4. the patient shares with the clinic through its intake page', () => {
  it('approves summary and labs for 30 days; the clinic receives a one-time invitation', async () => {
    intake = await patient.open(sites.clinicUrl);
    await intake.getByText('Patient Vault is installed.').waitFor();
    await checkView(intake, 'clinic-intake');
    await intake.getByRole('button', { name: 'Share my records with Example Clinic' }).click();
    await approve(patient, 'connect', 'Connect');
    const share = await approvalPage(patient, 'share');
    expect(await share.getByRole('checkbox', { name: /Mental health/ }).isChecked()).toBe(false);
    expect(await share.getByRole('checkbox', { name: /Lab results/ }).isChecked()).toBe(true);
    await checkView(share, 'approve-share');
    await approve(patient, 'share', 'Share');
    await intake.locator('#status').filter({ hasText: 'Thank you' }).waitFor({ timeout: 60_000 });
    expect(sites.intakes).toEqual([expect.objectContaining({ patient: patientDid, invitation: expect.stringMatching(/^pvault:/) })]);
    await intake.evaluate(() => {
      const w = window as unknown as { patientVault: { on(e: string, f: (d: unknown) => void): void }; __shareEvents: unknown[] };
      w.__shareEvents = [];
      w.patientVault.on('shareChanged', (d) => w.__shareEvents.push(d));
    });
  });

  it('the clinic’s extension redeems it, verifies the grant and shows the records', async () => {
    await staff.getByRole('button', { name: /Accept invitations/ }).click();
    await approve(provider, 'connect', 'Connect');
    await approve(provider, 'provider-read', 'Allow');
    // Polled as text, so a failure shows what the staff page said instead.
    await expect.poll(() => staff.locator('#status').textContent(), { timeout: 120_000, interval: 500 }).toMatch(/Accepted 1 new invitation/);
    expect(await staff.locator('#patients h3').first().textContent()).toContain('(live)');
    expect(await providerRecordCount()).toBeGreaterThan(10);
    await checkView(staff, 'clinic-staff');
    await providerTab.goto(provider.url('vault.html#provider'));
    await providerTab.getByText(/Verified grant, until/).waitFor({ timeout: 30_000 });
    await providerTab.getByRole('button', { name: 'Show records' }).click();
    await providerTab.locator('article').first().waitFor();
    await checkView(providerTab, 'vault-provider');
    // The intake page that asked for the share hears that its grant now exists.
    await expect.poll(shareEvents, { timeout: 30_000 }).toContainEqual({ grantId: expect.any(String), status: 'live' });
  });

  it('only summary and labs arrived: nothing from other scopes', async () => {
    const r = await pageCall(staff, 'vault_getRecords', { patient: patientDid, limit: 500 });
    const scopes = new Set((r as { result: { records: { scope: string }[] } }).result.records.map((x) => x.scope));
    expect([...scopes].sort()).toEqual(['labs', 'summary']);
  });
});

describe('5. new data, receipts, revocation', () => {
  it('the patient adds a lab and the provider receives it', async () => {
    const before = await providerRecordCount();
    expect(await importPasted(patientTab, patient, newLab('2025-07-01', 6.4, '1'))).toMatch(/Imported: 1 new/);
    await expect.poll(providerRecordCount, { timeout: 60_000, interval: 500 }).toBe(before + 1);
  });

  it('the patient sees the provider’s access receipts, filterable by scope', async () => {
    await patientTab.goto(patient.url('vault.html#trail'));
    await patientTab.locator('tbody tr').first().waitFor({ timeout: 30_000 });
    await patientTab.getByLabel('Scope').selectOption('labs');
    expect(await patientTab.locator('tbody tr').count()).toBeGreaterThan(0);
    await checkView(patientTab, 'vault-trail');
  });

  it('the sharing view lists the live grant and draws an invitation QR code', async () => {
    await patientTab.goto(patient.url('vault.html#sharing'));
    await patientTab.getByRole('cell', { name: 'live' }).waitFor({ timeout: 30_000 });
    await patientTab.getByRole('button', { name: 'Create invitation' }).click();
    await patientTab.getByRole('img', { name: /Invitation QR code/ }).waitFor();
    expect(await patientTab.getByLabel('Or send this link').inputValue()).toMatch(/^pvault:/);
    await checkView(patientTab, 'vault-sharing');
  });

  it('revoking says plainly that copied data cannot be recalled, and ends the grant', async () => {
    await patientTab.getByRole('button', { name: 'Revoke' }).click();
    const dialog = patientTab.getByRole('alertdialog');
    expect(await dialog.textContent()).toContain('cannot be recalled');
    await checkView(patientTab, 'revoke-confirm');
    await dialog.getByRole('button', { name: 'Revoke' }).click();
    await patientTab.getByRole('cell', { name: 'revoked' }).waitFor({ timeout: 30_000 });
    const [live] = (await shareEvents()) as { grantId: string }[];
    await expect.poll(shareEvents, { timeout: 30_000 }).toContainEqual({ grantId: live!.grantId, status: 'revoked' });
  });

  it('the provider sees the grant ended and gets nothing new', async () => {
    await providerTab.goto(provider.url('vault.html#provider'));
    await providerTab.getByRole('button', { name: 'Check for updates' }).click();
    await providerTab.getByText('Grant revoked').waitFor({ timeout: 60_000 });
    expect(await pageCall(staff, 'vault_getRecords', { patient: patientDid, limit: 10 })).toMatchObject({ ok: false, code: 4100 });
    expect(await importPasted(patientTab, patient, newLab('2025-08-01', 6.2, '2'))).toMatch(/Imported: 1 new/);
    await providerTab.getByRole('button', { name: 'Check for updates' }).click();
    await providerTab.waitForTimeout(3000);
    expect(await providerRecordCount()).toBe(0);
  });
});

describe('6. popup, settings, lock, restart', () => {
  it('the popup shows the lock state and quick actions', async () => {
    const popup = await patient.context.newPage();
    await popup.setViewportSize({ width: 380, height: 420 });
    await popup.goto(patient.url('popup.html'));
    await popup.getByText('Unlocked').waitFor();
    await checkView(popup, 'popup');
    await popup.close();
  });

  it('settings list connected sites, and disconnecting one takes its access away', async () => {
    await patientTab.goto(patient.url('vault.html#settings'));
    await patientTab.locator('.origin', { hasText: sites.hospitalUrl }).waitFor();
    await checkView(patientTab, 'vault-settings');
    const portal = await patient.open(sites.hospitalUrl);
    expect(await pageCall(portal, 'vault_status')).toMatchObject({ ok: true });
    await patientTab.getByRole('button', { name: `Disconnect ${sites.hospitalUrl}` }).click();
    await patientTab.locator('.origin', { hasText: sites.hospitalUrl }).waitFor({ state: 'detached' });
    expect(await pageCall(portal, 'vault_status')).toMatchObject({ ok: false, code: 4100 });
    await portal.close();
  });

  it('locks, refuses a wrong passphrase, unlocks with the right one', async () => {
    await patientTab.getByRole('button', { name: 'Lock now' }).click();
    await patientTab.getByRole('heading', { name: 'Patient Vault is locked' }).waitFor();
    await checkView(patientTab, 'unlock');
    await patientTab.getByLabel('Passphrase').fill('not the passphrase at all');
    await patientTab.getByRole('button', { name: 'Unlock' }).click();
    await patientTab.getByRole('alert').filter({ hasText: 'does not open this vault' }).waitFor({ timeout: 60_000 });
    await patientTab.getByLabel('Passphrase').fill(TEST_PASSPHRASE);
    await patientTab.getByRole('button', { name: 'Unlock' }).click();
    await patientTab.getByRole('navigation', { name: 'Vault sections' }).waitFor({ timeout: 60_000 });
  });

  it('after a restart of both browsers the vaults persist, start locked, and open with their records', async () => {
    await Promise.all([patient.close(), provider.close()]);
    [patient, provider] = await Promise.all([launchProfile('patient', dirs[0]!), launchProfile('provider', dirs[1]!)]);
    for (const p of [patient, provider]) {
      const page = await p.open(p.url('vault.html'));
      await page.getByRole('heading', { name: 'Patient Vault is locked' }).waitFor({ timeout: 30_000 });
      await page.close();
    }
    const tab = await patient.open(patient.url('vault.html'));
    await tab.getByLabel('Passphrase').fill(TEST_PASSPHRASE);
    await tab.getByRole('button', { name: 'Unlock' }).click();
    await tab.getByTestId('timeline').waitFor({ timeout: 60_000 });
    expect(await tab.getByText('Signed in as Alex Example').count()).toBe(1);
    expect(await identityOf(tab, patient)).toBe(patientDid);
  });

  it('an encrypted backup from Settings restores into a fresh profile with the same identity and records', async () => {
    const tab = await patient.open(patient.url('vault.html#settings'));
    const [download] = await Promise.all([tab.waitForEvent('download'), tab.getByRole('button', { name: 'Download encrypted backup' }).click()]);
    const file = await download.path();
    expect(download.suggestedFilename()).toMatch(/^patient-vault-\d{4}-\d{2}-\d{2}\.pvault$/);
    const freshDir = await newProfileDir('restored');
    dirs.push(freshDir);
    const fresh = await launchProfile('restored', freshDir);
    try {
      const page = await fresh.open(fresh.url('vault.html'));
      await page.getByRole('tab', { name: 'Restore from a backup' }).click();
      await page.getByLabel('Backup file').setInputFiles(file);
      await page.getByLabel('The backup’s passphrase').fill(TEST_PASSPHRASE);
      await page.getByRole('button', { name: 'Restore vault' }).click();
      await page.getByTestId('timeline').waitFor({ timeout: 90_000 });
      expect(await identityOf(page, fresh)).toBe(patientDid);
    } finally {
      await fresh.close();
    }
  });
});
