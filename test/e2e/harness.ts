/**
 * End-to-end harness: real Chromium (Debian's /usr/bin/chromium) through playwright-core, with the
 * built extension loaded into persistent profiles (one per person), plus the demo sites.
 */
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import AxeBuilderSource from 'axe-core';
import { expect } from 'vitest';
import type { DemoSites } from '../../demo/sites.js';
import type { RelayProcess } from './relay.js';

/** The e2e build (with the test clock; wxt.config.ts sends it here, apart from what users load). */
export const EXTENSION_DIR = resolve(import.meta.dirname, '../../.output-e2e/chrome-mv3');
/** Where view screenshots go (committed, referenced from the README). */
export const SCREENSHOT_DIR = resolve(import.meta.dirname, '../../docs/screenshots');
/** Chromium binary (Debian package). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Builds the extension unless told the build is fresh (PV_E2E_SKIP_BUILD=1). */
export function buildExtension(): void {
  if (process.env.PV_E2E_SKIP_BUILD === '1' && existsSync(join(EXTENSION_DIR, 'manifest.json'))) return;
  execFileSync(process.execPath, [resolve(import.meta.dirname, '../../node_modules/wxt/bin/wxt.mjs'), 'build'], {
    cwd: resolve(import.meta.dirname, '../..'),
    stdio: 'pipe',
    // The e2e build lets a test move the engine's clock forward (setTestClock; see src/ui/host-main.ts).
    env: { ...process.env, WXT_PV_TEST_CLOCK: '1' },
  });
}

/** One person's browser: a persistent profile with the extension. */
export interface Profile {
  readonly name: string;
  readonly dir: string;
  readonly context: BrowserContext;
  readonly extensionId: string;
  /** chrome-extension://<id>/<path> */
  url(path: string): string;
  /** Opens an extension page or site in a new tab. */
  open(url: string): Promise<Page>;
  /** Closes the browser, keeping the profile on disk. */
  close(): Promise<void>;
}

/** Makes a fresh profile directory. */
export async function newProfileDir(name: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `pv-e2e-${name}-`));
}

/** Launches Chromium with the extension on profile `dir`. */
export async function launchProfile(name: string, dir: string): Promise<Profile> {
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1200, height: 860 },
    args: [`--disable-extensions-except=${EXTENSION_DIR}`, `--load-extension=${EXTENSION_DIR}`, '--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
  const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker', { timeout: 20_000 }));
  const extensionId = new URL(worker.url()).host;
  return {
    name,
    dir,
    context,
    extensionId,
    url: (path) => `chrome-extension://${extensionId}/${path.replace(/^\//, '')}`,
    async open(url) {
      const page = await context.newPage();
      await page.goto(url);
      return page;
    },
    close: () => context.close(),
  };
}

/**
 * Makes a fresh profile directory per name, appended to `dirs` (for removeProfileDir at the end),
 * and launches the profiles side by side; they come back in the order of `names`.
 */
export async function launchProfiles<const Names extends readonly string[]>(dirs: string[], names: Names): Promise<{ -readonly [K in keyof Names]: Profile }> {
  const mine: string[] = [];
  for (const name of names) mine.push(await newProfileDir(name));
  dirs.push(...mine);
  return Promise.all(names.map(async (name, i) => launchProfile(name, mine[i]!))) as Promise<{ -readonly [K in keyof Names]: Profile }>;
}

/**
 * The end of a test file: closes every browser (one failing to close does not stop the rest), then the
 * demo sites and the relay, then removes the profile directories. Takes what was started so far.
 */
export async function tearDown(started: { profiles: readonly (Profile | undefined)[]; sites?: DemoSites | undefined; relay?: RelayProcess | undefined; dirs: readonly string[] }): Promise<void> {
  await Promise.allSettled(started.profiles.map(async (p) => p?.close()));
  await started.sites?.close();
  await started.relay?.stop();
  for (const d of started.dirs) await removeProfileDir(d);
}

/** Removes a profile directory. */
export async function removeProfileDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/**
 * The approval window showing a prompt of `kind`. The window closes itself when it has nothing
 * left to show and the extension opens a new one for the next prompt, so this keeps looking until
 * an open approval page shows such a prompt.
 */
export async function approvalPage(profile: Profile, kind?: string): Promise<Page> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const pages = profile.context.pages().filter((p) => !p.isClosed() && p.url().startsWith(profile.url('approve.html')));
    for (const page of pages.reverse()) {
      try {
        await page.waitForLoadState('domcontentloaded');
        if (!kind) return page;
        await page.locator(`[data-prompt-kind="${kind}"]`).first().waitFor({ timeout: 1000 });
        return page;
      } catch {
        // Closing, or not showing it (yet): look again.
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no approval window showed a ${kind ?? ''} prompt`);
}

/** Violations of axe-core (WCAG 2.1 A/AA rules) on `page` of impact serious or critical. */
export async function seriousA11yViolations(page: Page): Promise<{ id: string; impact: string; help: string; targets: string[] }[]> {
  // Evaluated through the DevTools protocol, so the page's own CSP (the demo sites are strict) does not block it.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AxeBuilderSource.source);
  const result = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    return axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
  });
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact ?? '', help: v.help, targets: v.nodes.flatMap((n) => n.target).slice(0, 5) }));
}

/** Saves a viewport screenshot of `page` to docs/screenshots/NAME.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: false });
}

/** A strong synthetic passphrase for test vaults (never a real one). */
export const TEST_PASSPHRASE = 'orbit lantern cactus velvet harbor';

/** Creates a vault through the onboarding view; returns the vault tab, unlocked. */
export async function createVault(profile: Profile, options: { name?: string; passphrase?: string; shot?: string } = {}): Promise<Page> {
  const page = await profile.open(profile.url('vault.html'));
  await page.getByRole('heading', { name: 'Welcome to Patient Vault' }).waitFor();
  if (options.name) await page.getByLabel('Your name').fill(options.name);
  await page.getByLabel('Passphrase', { exact: true }).fill(options.passphrase ?? TEST_PASSPHRASE);
  await page.getByLabel('Passphrase again').fill(options.passphrase ?? TEST_PASSPHRASE);
  if (options.shot) await screenshot(page, options.shot);
  await page.getByRole('button', { name: 'Create vault' }).click();
  await page.getByRole('navigation', { name: 'Vault sections' }).waitFor({ timeout: 90_000 });
  return page;
}

/** Creates a vault named `name` in `profile` and points it at `relay`; returns the vault tab. */
export async function vaultOnRelay(profile: Profile, name: string, relay: string): Promise<Page> {
  const page = await createVault(profile, { name });
  await setRelay(page, profile, relay);
  return page;
}

/** Screenshot plus axe: the view must have no serious or critical violation. */
export async function checkView(page: Page, name: string): Promise<void> {
  await page.waitForTimeout(200);
  await screenshot(page, name);
  expect(await seriousA11yViolations(page), `axe on ${name}`).toEqual([]);
}

/** Result of a page API call made from inside a page. */
export type CallResult = { ok: true; result: unknown } | { ok: false; code: number | undefined; message: string };

/** Calls `window.patientVault.request` in `page` and reports the outcome. */
export function pageCall(page: Page, method: string, params?: unknown): Promise<CallResult> {
  return page.evaluate(
    async ([m, p]) => {
      const vault = (window as unknown as { patientVault: { request(a: { method: string; params?: unknown }): Promise<unknown> } }).patientVault;
      try {
        return { ok: true as const, result: await vault.request(p === undefined ? { method: m } : { method: m, params: p }) };
      } catch (e) {
        const err = e as { code?: number; message?: string };
        return { ok: false as const, code: err.code, message: String(err.message) };
      }
    },
    [method, params] as const,
  );
}

/** An approval window opened by the test (it stays open and lists prompts live). */
export async function openApprovals(profile: Profile): Promise<Page> {
  const page = await profile.open(profile.url('approve.html'));
  await page.getByRole('heading', { name: 'Requests for your vault' }).waitFor();
  return page;
}

/** Number of prompts an approval window shows. */
export async function promptCount(approve: Page): Promise<number> {
  await approve.waitForTimeout(300);
  return approve.locator('[data-prompt-kind]').count();
}

/** Sets the relay in Settings (the vault must be unlocked) and waits for the network to restart. */
export async function setRelay(page: Page, profile: Profile, relay: string): Promise<void> {
  await page.goto(profile.url('vault.html#settings'));
  await page.getByLabel('Relay address').fill(relay);
  await page.getByRole('button', { name: 'Save relay' }).click();
  await page.getByText('Saved. Reconnected through the new relay.').waitFor({ timeout: 60_000 });
}

/** This vault's did:key, read from Settings. */
export async function identityOf(page: Page, profile: Profile): Promise<string> {
  await page.goto(profile.url('vault.html#settings'));
  return page.getByLabel('Identity (did:key)').inputValue();
}

/** Answers the approval window's current prompt of `kind` with its approve button. */
export async function approve(profile: Profile, kind: string, button: string): Promise<Page> {
  const page = await approvalPage(profile, kind);
  await page.locator(`[data-prompt-kind="${kind}"]`).first().getByRole('button', { name: button }).click();
  // The window closes itself when nothing is left; wait until this prompt is gone either way.
  await page
    .locator(`[data-prompt-kind="${kind}"]`)
    .first()
    .waitFor({ state: 'detached', timeout: 60_000 })
    .catch(() => undefined);
  return page;
}
