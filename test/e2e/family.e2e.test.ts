/**
 * Issue 8 in the browser, three real Chromium profiles with `pvault relay`:
 * - guardian flow: Pat creates Sam's vault and keeps records in it, names Chris a second guardian
 *   (Chris's extension joins by link and reads Sam's records), marks a scope dependent-only, and
 *   hands the vault over to Sam's own extension, guardians kept read-only;
 * - emergency flow: Pat names Chris a trusted contact with a 48-hour wait; Chris asks, Pat denies;
 *   Chris asks again, nobody denies, and when both engines' clocks are 49 hours on, access is open
 *   and Chris reads Pat's summary.
 * The clock: the e2e build (WXT_PV_TEST_CLOCK=1, test/e2e/harness.ts) accepts a `setTestClock`
 * command from the extension's own pages that moves the engine's clock forward; the test sends it
 * through a runtime port from the vault tab. Nothing else in the browser is faked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { checkView, createVault, identityOf, launchProfile, launchProfiles, newProfileDir, setRelay, tearDown, vaultOnRelay, type Profile } from './harness.js';
import { relayAvailable, startRelayProcess, type RelayProcess } from './relay.js';

let relay: RelayProcess;
let pat: Profile;
let chris: Profile;
let sam: Profile | undefined;
const dirs: string[] = [];
let patTab: Page;
let chrisTab: Page;
let chrisDid: string;

/** A small synthetic record: an immunization and a condition (summary scope). */
function summaryBundle(id: string, vaccine: string) {
  return JSON.stringify({
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      {
        fullUrl: `urn:uuid:5a0e7c3e-0000-4000-8000-${id.padStart(12, '0')}`,
        resource: {
          resourceType: 'Immunization',
          status: 'completed',
          vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '03', display: vaccine }] },
          occurrenceDateTime: '2024-03-01',
          patient: { display: 'synthetic' },
        },
      },
    ],
  });
}

/** Imports pasted FHIR JSON into the vault the switcher shows. */
async function importPasted(tab: Page, profile: Profile, json: string): Promise<void> {
  await tab.goto(profile.url('vault.html#records'));
  await tab.getByRole('tab', { name: 'Import' }).click();
  await tab.getByLabel('Or paste a health card (shc:/…) or FHIR JSON').fill(json);
  await tab.getByRole('button', { name: 'Check' }).click();
  await tab.getByRole('button', { name: /^Import \d+ records?$/ }).click();
  await tab.getByRole('status').filter({ hasText: 'Imported:' }).waitFor({ timeout: 60_000 });
  await tab.getByRole('tab', { name: 'Timeline' }).click();
}

/** Chooses a vault in the navigation's switcher by its visible name. */
async function switchTo(tab: Page, name: string | RegExp): Promise<void> {
  const select = tab.getByLabel('Vault', { exact: true });
  await expect.poll(async () => (await select.locator('option').allTextContents()).some((t) => (typeof name === 'string' ? t === name : name.test(t))), { timeout: 30_000 }).toBe(true);
  const label = (await select.locator('option').allTextContents()).find((t) => (typeof name === 'string' ? t === name : name.test(t)))!;
  await select.selectOption({ label });
}

/** Moves this browser's engine clock `offsetMs` ahead (test build only), through the host's UI port. */
async function setEngineClock(tab: Page, offsetMs: number): Promise<void> {
  const r = await tab.evaluate(async (offset) => {
    const rt = (globalThis as unknown as { chrome: { runtime: { connect(o: { name: string }): { postMessage(m: unknown): void; onMessage: { addListener(f: (m: unknown) => void): void }; disconnect(): void } } } }).chrome.runtime;
    const port = rt.connect({ name: 'patientVault/ui' });
    return new Promise<unknown>((resolve) => {
      port.onMessage.addListener((m) => {
        if ((m as { id?: number }).id === 1) {
          port.disconnect();
          resolve(m);
        }
      });
      port.postMessage({ kind: 'call', id: 1, command: { type: 'setTestClock', offsetMs: offset } });
    });
  }, offsetMs);
  expect(r).toMatchObject({ ok: true });
}

/** The link shown in the input labelled `label` after an action. */
async function linkIn(tab: Page, label: string): Promise<string> {
  const input = tab.getByLabel(label);
  await input.waitFor({ timeout: 60_000 });
  const link = await input.inputValue();
  expect(link).toMatch(/^pvault-family:/);
  return link;
}

async function useLink(tab: Page, profile: Profile, link: string): Promise<void> {
  await tab.goto(profile.url('vault.html#family'));
  await tab.getByLabel('Link (pvault-family:…)').fill(link);
  await tab.getByRole('button', { name: 'Use link' }).click();
  await tab.getByRole('status').filter({ hasText: 'Connected.' }).waitFor({ timeout: 90_000 });
}

beforeAll(async () => {
  expect(relayAvailable()).toBe(true);
  relay = await startRelayProcess();
  [pat, chris] = await launchProfiles(dirs, ['pat', 'chris']);
  [patTab, chrisTab] = await Promise.all([vaultOnRelay(pat, 'Pat Example', relay.websocket!), vaultOnRelay(chris, 'Chris Example', relay.websocket!)]);
  chrisDid = await identityOf(chrisTab, chris);
});

afterAll(async () => {
  await tearDown({ profiles: [pat, chris, sam], relay, dirs });
});

describe('guardian flow', () => {
  it('Pat creates Sam’s vault, switches to it and keeps Sam’s records there (not in Pat’s own)', async () => {
    await patTab.goto(pat.url('vault.html#family'));
    const card = patTab.getByRole('region', { name: 'Dependents’ vaults you hold' });
    await card.getByLabel('Their name').fill('Sam Example');
    await card.getByRole('button', { name: 'Create vault' }).click();
    await patTab.getByRole('status').filter({ hasText: 'Created Sam Example’s vault' }).waitFor({ timeout: 60_000 });
    await expect.poll(() => patTab.getByLabel('Vault', { exact: true }).locator('option:checked').textContent()).toBe('Sam Example (guardian)');
    await importPasted(patTab, pat, summaryBundle('1', 'Measles vaccine (synthetic)'));
    await patTab.getByTestId('timeline').getByText('Measles vaccine (synthetic)').waitFor();
    await switchTo(patTab, 'My vault');
    await patTab.getByText('No records yet.').waitFor();
    await switchTo(patTab, 'Sam Example (guardian)');
  });

  it('Pat names Chris a second guardian; Chris’s extension joins by link and reads Sam’s records', async () => {
    await patTab.goto(pat.url('vault.html#family'));
    const card = patTab.getByRole('region', { name: 'Add a second guardian' });
    await card.getByLabel('Their name').fill('Chris Example');
    await card.getByLabel('Their identity (did:key)').fill(chrisDid);
    await card.getByRole('button', { name: 'Add guardian' }).click();
    const link = await linkIn(patTab, 'Link for the new guardian (they open Family → Use a link)');
    await useLink(chrisTab, chris, link);
    await expect.poll(() => chrisTab.getByLabel('Vault', { exact: true }).locator('option:checked').textContent()).toBe('Sam Example (guardian)');
    await chrisTab.goto(chris.url('vault.html#records'));
    await chrisTab.getByTestId('timeline').getByText('Measles vaccine (synthetic)').waitFor({ timeout: 30_000 });
  });

  it('Pat marks reproductive health dependent-only; the vault’s page says who holds it', async () => {
    await patTab.goto(pat.url('vault.html#family'));
    const card = patTab.getByRole('region', { name: 'Dependent-only scopes' });
    await card.getByRole('checkbox', { name: /Reproductive health/ }).check();
    await card.getByRole('button', { name: 'Mark dependent-only' }).click();
    const holder = patTab.getByRole('region', { name: 'Who holds this vault' });
    await holder.getByText('Reproductive health').waitFor({ timeout: 30_000 });
    expect(await holder.getByText('Chris Example').count()).toBe(1);
    await holder.evaluate((el) => el.scrollIntoView());
    await checkView(patTab, 'family-guardian');
  });

  it('Pat hands the vault to Sam’s own extension; guardians are kept read-only', async () => {
    dirs.push(await newProfileDir('sam'));
    sam = await launchProfile('sam', dirs[2]!);
    const samTab = await createVault(sam, { name: 'Sam Example' });
    await setRelay(samTab, sam, relay.websocket!);
    const samDid = await identityOf(samTab, sam);

    await patTab.goto(pat.url('vault.html#family'));
    const card = patTab.getByRole('region', { name: 'Hand the vault over' });
    await card.getByLabel(/Their own identity/).fill(samDid);
    await card.getByRole('radio', { name: /keep reading/ }).check();
    await card.getByRole('button', { name: 'Hand over…' }).click();
    await patTab.getByRole('alertdialog').getByRole('button', { name: 'Hand over' }).click();
    const link = await linkIn(patTab, 'Link for the new owner (they open Family → Use a link)');
    await patTab.getByRole('region', { name: 'Who holds this vault' }).getByText(/guardians kept read-only/).waitFor({ timeout: 30_000 });

    await useLink(samTab, sam, link);
    await switchTo(samTab, 'Sam Example');
    await samTab.goto(sam.url('vault.html#records'));
    await samTab.getByTestId('timeline').getByText('Measles vaccine (synthetic)').waitFor({ timeout: 30_000 });
    await samTab.goto(sam.url('vault.html#family'));
    await samTab.getByRole('region', { name: 'Who holds this vault' }).getByText(/Yes, on/).waitFor();
    await checkView(samTab, 'family-handover');
    await sam.close();
    sam = undefined;
    // Pat is now a reader of Sam's vault.
    await patTab.reload();
    await switchTo(patTab, 'Sam Example (read-only)');
  });
});

describe('emergency flow', () => {
  it('Pat names Chris a trusted contact with a 48-hour wait; Chris follows by link', async () => {
    await switchTo(patTab, 'My vault');
    await importPasted(patTab, pat, summaryBundle('2', 'Tetanus vaccine (synthetic)'));
    await patTab.goto(pat.url('vault.html#family'));
    const card = patTab.getByRole('region', { name: 'Trusted emergency contacts' });
    await card.getByLabel('Their name').fill('Chris Example');
    await card.getByLabel('Their identity (did:key)').fill(chrisDid);
    expect(await card.getByLabel('Wait before access opens (hours)').inputValue()).toBe('48');
    await card.getByRole('button', { name: 'Add trusted contact' }).click();
    const link = await linkIn(patTab, 'Link for the trusted contact (they open Family → Use a link)');
    await card.getByRole('cell', { name: '48 hours' }).waitFor({ timeout: 30_000 });
    await useLink(chrisTab, chris, link);
    await expect.poll(() => chrisTab.getByLabel('Vault', { exact: true }).locator('option:checked').textContent()).toBe('Pat Example (emergency contact)');
  });

  it('Chris asks; Pat sees the request waiting and denies it in time', async () => {
    await chrisTab.goto(chris.url('vault.html#family'));
    await chrisTab.getByLabel('Why (the patient sees this)').fill('Pat is in hospital (synthetic)');
    await chrisTab.getByRole('button', { name: 'Ask for emergency access' }).click();
    await chrisTab.getByTestId('emergency-status').filter({ hasText: /^waiting until / }).waitFor({ timeout: 60_000 });

    await patTab.goto(pat.url('vault.html#family'));
    // Pat is told: the menu counts requests waiting for a denial.
    await patTab.getByTestId('emergency-alert').filter({ hasText: '1 emergency request' }).waitFor({ timeout: 60_000 });
    const row = patTab.getByTestId('emergency-request');
    await row.getByText('waiting').waitFor({ timeout: 60_000 });
    expect(await row.getByText('Chris Example').count()).toBe(1);
    await checkView(patTab, 'family-emergency-waiting');
    await row.getByRole('button', { name: 'Deny' }).click();
    await row.getByText('denied').waitFor({ timeout: 30_000 });

    await chrisTab.getByRole('button', { name: 'Check again' }).click();
    await chrisTab.getByTestId('emergency-status').filter({ hasText: 'last request denied' }).waitFor({ timeout: 60_000 });
  });

  it('Chris asks again; nobody denies; 49 hours later (both clocks) access is open and Chris reads Pat’s summary', async () => {
    await chrisTab.getByRole('button', { name: 'Ask for emergency access' }).click();
    await chrisTab.getByTestId('emergency-status').filter({ hasText: /^waiting until / }).waitFor({ timeout: 60_000 });
    await patTab.getByTestId('emergency-request').getByText('waiting').waitFor({ timeout: 60_000 });

    await setEngineClock(patTab, 49 * 3_600_000);
    await setEngineClock(chrisTab, 49 * 3_600_000);
    await patTab.reload();
    await patTab.getByTestId('emergency-request').getByText('open').waitFor({ timeout: 30_000 });
    await chrisTab.reload();
    await chrisTab.getByRole('button', { name: /Get records|Check again/ }).click();
    await chrisTab.getByTestId('emergency-status').filter({ hasText: 'access open' }).waitFor({ timeout: 60_000 });
    await checkView(chrisTab, 'family-emergency-open');
    await chrisTab.getByRole('button', { name: 'Get records' }).click();
    await chrisTab.getByRole('status').filter({ hasText: 'Records updated' }).waitFor({ timeout: 60_000 });
    await chrisTab.goto(chris.url('vault.html#records'));
    await chrisTab.getByTestId('timeline').getByText('Tetanus vaccine (synthetic)').waitFor({ timeout: 30_000 });
    // The trail says it: Pat reads who asked, the denial, and the opening.
    await patTab.goto(pat.url('vault.html#family'));
    const trail = patTab.getByRole('region', { name: 'What happened in this vault' });
    for (const what of ['asked for emergency access', 'denied emergency access', 'emergency access opened']) await trail.getByText(what).first().waitFor({ timeout: 30_000 });
  });
});
