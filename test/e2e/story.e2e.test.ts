/**
 * The story of issue 7, as far as the engine in this build goes, in two real Chromium profiles
 * (patient and provider) with the relay running: onboarding, the patient saving from the
 * hospital portal, every view (screenshot to docs/screenshots/ and axe-core on each), connected
 * sites, lock/unlock, and a restart of both browsers (vaults persist and start locked).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startDemoSites, type DemoSites } from '../../demo/sites.js';
import {
  approvalPage,
  createVault,
  launchProfile,
  newProfileDir,
  pageCall,
  removeProfileDir,
  screenshot,
  seriousA11yViolations,
  TEST_PASSPHRASE,
  type Profile,
} from './harness.js';
import { relayAvailable, startRelayProcess, type RelayProcess } from './relay.js';

let sites: DemoSites;
let relay: RelayProcess | undefined;
let patient: Profile;
let provider: Profile;
const dirs: string[] = [];
let vaultTab: Page;

/** Screenshot plus axe: the view must have no serious or critical violation. */
async function checkView(page: Page, name: string): Promise<void> {
  await page.waitForLoadState('networkidle').catch(() => undefined);
  await screenshot(page, name);
  expect(await seriousA11yViolations(page), `axe on ${name}`).toEqual([]);
}

beforeAll(async () => {
  if (relayAvailable()) relay = await startRelayProcess();
  sites = await startDemoSites({ ...(relay?.websocket !== undefined && { relay: relay.websocket }) });
  dirs.push(await newProfileDir('patient'), await newProfileDir('provider'));
  [patient, provider] = await Promise.all([launchProfile('patient', dirs[0]!), launchProfile('provider', dirs[1]!)]);
});

afterAll(async () => {
  await Promise.allSettled([patient?.close(), provider?.close()]);
  await sites?.close();
  await relay?.stop();
  for (const d of dirs) await removeProfileDir(d);
});

describe('the patient and the provider set up', () => {
  it('the relay runs (pvault relay) and prints a WebSocket address for browsers', () => {
    expect(relayAvailable()).toBe(true);
    expect(relay?.websocket).toMatch(/\/ws\/p2p\//);
  });

  it('onboarding shows a strength meter and creates each vault', async () => {
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
    expect(await page.getByText('Signed in as Example Clinic').count()).toBe(1);
    await page.close();
    vaultTab = await createVault(patient, { name: 'Alex Example' });
  });
});

describe('the patient at the hospital portal', () => {
  it('connects the portal after approving it in the approval window', async () => {
    const portal = await patient.open(sites.hospitalUrl);
    await portal.getByText('Patient Vault is installed.').waitFor();
    await checkView(portal, 'hospital-portal');
    await portal.getByRole('button', { name: 'Save to Patient Vault' }).click();
    const approve = await approvalPage(patient, 'connect');
    expect(await approve.locator('.origin').first().textContent()).toBe(sites.hospitalUrl);
    await checkView(approve, 'approve-connect');
    await approve.getByRole('button', { name: 'Connect' }).click();
    await portal.locator('#status').filter({ hasText: /Saved|could not/ }).waitFor({ timeout: 60_000 });
    expect(await pageCall(portal, 'vault_status')).toEqual({ ok: true, result: { connected: true, hasVault: true, locked: false } });
    await portal.close();
  });
});

describe('every view of the vault tab', () => {
  for (const [hash, heading] of [
    ['records', 'Records'],
    ['sharing', 'Sharing'],
    ['trail', 'Access trail & inbox'],
    ['provider', 'Shared with me'],
    ['settings', 'Settings'],
  ] as const) {
    it(`${heading}: renders, screenshot, no serious axe violation`, async () => {
      await vaultTab.goto(patient.url(`vault.html#${hash}`));
      await vaultTab.getByRole('heading', { level: 1, name: heading }).waitFor();
      await checkView(vaultTab, `vault-${hash}`);
    });
  }

  it('settings lists the connected portal, and disconnecting it takes its access away', async () => {
    await vaultTab.goto(patient.url('vault.html#settings'));
    await vaultTab.locator('.origin', { hasText: sites.hospitalUrl }).waitFor();
    const portal = await patient.open(sites.hospitalUrl);
    expect(await pageCall(portal, 'vault_status')).toMatchObject({ ok: true });
    await vaultTab.getByRole('button', { name: `Disconnect ${sites.hospitalUrl}` }).click();
    await vaultTab.getByText('No site is connected.').waitFor();
    expect(await pageCall(portal, 'vault_status')).toMatchObject({ ok: false, code: 4100 });
    // Connect again for the rest of the story.
    const again = pageCall(portal, 'vault_connect');
    await (await approvalPage(patient, 'connect')).getByRole('button', { name: 'Connect' }).click();
    expect(await again).toMatchObject({ ok: true });
    await portal.close();
  });

  it('the popup shows the lock state and quick actions', async () => {
    const popup = await patient.context.newPage();
    await popup.setViewportSize({ width: 380, height: 420 });
    await popup.goto(patient.url('popup.html'));
    await popup.getByText('Unlocked').waitFor();
    await checkView(popup, 'popup');
    await popup.close();
  });

  it('locks, shows the unlock view, refuses a wrong passphrase and unlocks with the right one', async () => {
    await vaultTab.getByRole('button', { name: 'Lock now' }).click();
    await vaultTab.getByRole('heading', { name: 'Patient Vault is locked' }).waitFor();
    await checkView(vaultTab, 'unlock');
    await vaultTab.getByLabel('Passphrase').fill('not the passphrase at all');
    await vaultTab.getByRole('button', { name: 'Unlock' }).click();
    await vaultTab.getByRole('alert').filter({ hasText: 'does not open this vault' }).waitFor({ timeout: 60_000 });
    await vaultTab.getByLabel('Passphrase').fill(TEST_PASSPHRASE);
    await vaultTab.getByRole('button', { name: 'Unlock' }).click();
    await vaultTab.getByRole('navigation', { name: 'Vault sections' }).waitFor({ timeout: 60_000 });
  });
});

describe('a restart of both browsers', () => {
  it('keeps both vaults, which start locked, and the patient’s connected sites', async () => {
    await Promise.all([patient.close(), provider.close()]);
    [patient, provider] = await Promise.all([launchProfile('patient', dirs[0]!), launchProfile('provider', dirs[1]!)]);
    for (const p of [patient, provider]) {
      const page = await p.open(p.url('vault.html'));
      await page.getByRole('heading', { name: 'Patient Vault is locked' }).waitFor({ timeout: 30_000 });
      await page.close();
    }
    const portal = await patient.open(sites.hospitalUrl);
    expect(await pageCall(portal, 'vault_status')).toEqual({ ok: true, result: { connected: true, hasVault: true, locked: true } });
    expect(await pageCall(portal, 'vault_importRecords', { format: 'fhir', data: { resourceType: 'Patient' } })).toMatchObject({ ok: false, code: 4900 });
    const tab = await patient.open(patient.url('vault.html'));
    await tab.getByLabel('Passphrase').fill(TEST_PASSPHRASE);
    await tab.getByRole('button', { name: 'Unlock' }).click();
    await tab.getByRole('navigation', { name: 'Vault sections' }).waitFor({ timeout: 60_000 });
    expect(await tab.getByText('Signed in as Alex Example').count()).toBe(1);
  });
});
