/**
 * End-to-end benchmarks of the extension in real Chromium (the e2e harness: Debian's chromium,
 * the built extension, the demo sites, `pvault relay`). `npm run bench:e2e` runs only these.
 *
 * - `e2e_import_1k_to_timeline`: from clicking "Save to Patient Vault" on the hospital portal (a
 *   1,000-resource synthetic bundle; the approvals are clicked as soon as they show) to the vault
 *   tab's timeline listing the new records. Baseline: the same bundle through the same engine
 *   code (createEngineBackend: preview + import) in Node, in this run — so the ratio is what the
 *   browser, the bridge, IndexedDB and the UI add.
 * - `e2e_share_to_first_record`: from the patient approving the clinic's share request to the
 *   clinic's staff page (the provider's own browser, already connected) showing the first record,
 *   through the relay. Baseline: the same offer → redeem → first record between two engines in
 *   Node over loopback TCP, in this run.
 * - `store_put_10k_chromium_idb`: issue 3's `store_put_10k` in a Chromium page against the
 *   browser's own IndexedDB on the profile's disk (bench/idb-page/page.ts): 10,000 × 2 KB records
 *   sealed through `Vault.batchSealed` (WebCrypto AES-GCM), ratio to the same plaintext through the
 *   same storage's `batch`, in this run. What a patient's browser pays for sealing at rest.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { median, type Benchmark } from './harness.js';

const RESOURCES = 1000;
const PASS = 'orbit lantern cactus velvet harbor';

/** Node baselines: the engine the extension hosts, over memory storage and loopback libp2p. */
async function nodeEngines() {
  const { nodeEngineBackend: make } = await import('../src/api/test-support.js');
  const address: { current?: string | undefined } = {};
  const patient = await make(() => address.current);
  const provider = await make();
  await patient.create({ passphrase: PASS, displayName: 'Alex Example' });
  await provider.create({ passphrase: PASS, displayName: 'Example Clinic' });
  address.current = (await patient.addresses())[0];
  return { patient, provider, close: () => Promise.all([patient.close(), provider.close()]) };
}

async function syntheticBundle(resources: number): Promise<{ resourceType: string }> {
  const { generatePatientBundle } = await import('../test/fixtures/generator.js');
  return generatePatientBundle({ resources, seed: 7, attachmentEvery: 0 }).bundle;
}

async function browserImport(): Promise<number> {
  const h = await import('../test/e2e/harness.js');
  const { startDemoSites } = await import('../demo/sites.js');
  h.buildExtension();
  const sites = await startDemoSites({ resources: RESOURCES });
  const dir = await h.newProfileDir('bench-import');
  const profile = await h.launchProfile('patient', dir);
  try {
    const tab = await h.createVault(profile);
    const portal = await profile.open(`${sites.hospitalUrl}/?resources=${RESOURCES}`);
    await portal.getByText('Patient Vault is installed.').waitFor();
    // Connect first, so the timed run is the save itself.
    const connecting = h.pageCall(portal, 'vault_connect');
    await h.approve(profile, 'connect', 'Connect');
    await connecting;
    await tab.goto(profile.url('vault.html#records'));
    await tab.getByText('No records yet').waitFor();
    const start = performance.now();
    await portal.getByRole('button', { name: 'Save to Patient Vault' }).click();
    await h.approve(profile, 'import', 'Save to my vault');
    await portal.locator('#status').filter({ hasText: /Saved to your vault/ }).waitFor({ timeout: 300_000 });
    await tab.getByTestId('timeline').waitFor({ timeout: 120_000 });
    return performance.now() - start;
  } finally {
    await profile.close();
    await sites.close();
    await h.removeProfileDir(dir);
  }
}

async function nodeImport(): Promise<number> {
  const bundle = await syntheticBundle(RESOURCES);
  const engines = await nodeEngines();
  try {
    const start = performance.now();
    const input = { format: 'fhir' as const, data: bundle };
    await engines.patient.records!.preview(input);
    await engines.patient.records!.import(input);
    const lines = await engines.patient.records!.timeline({ limit: 200 });
    if (lines.length === 0) throw new Error('nothing imported');
    return performance.now() - start;
  } finally {
    await engines.close();
  }
}

async function browserShare(): Promise<number> {
  const h = await import('../test/e2e/harness.js');
  const { startRelayProcess } = await import('../test/e2e/relay.js');
  const { startDemoSites } = await import('../demo/sites.js');
  h.buildExtension();
  const relay = await startRelayProcess();
  const sites = await startDemoSites({ relay: relay.websocket! });
  const dirs = [await h.newProfileDir('bench-patient'), await h.newProfileDir('bench-provider')];
  const [patient, provider] = await Promise.all([h.launchProfile('patient', dirs[0]!), h.launchProfile('provider', dirs[1]!)]);
  try {
    const [pTab, qTab] = await Promise.all([h.createVault(patient, { name: 'Alex Example' }), h.createVault(provider, { name: 'Example Clinic' })]);
    await h.setRelay(pTab, patient, relay.websocket!);
    await h.setRelay(qTab, provider, relay.websocket!);
    const clinicDid = await h.identityOf(qTab, provider);
    const staff = await provider.open(`${sites.clinicUrl}/staff`);
    await staff.getByLabel('Clinic did:key').fill(clinicDid);
    await staff.getByRole('button', { name: 'Save identity' }).click();
    await staff.getByText('Saved.').waitFor();
    // The clinic's page is connected and allowed to read shares before the timed part.
    const connecting = h.pageCall(staff, 'vault_connect');
    await h.approve(provider, 'connect', 'Connect');
    await connecting;
    const listing = h.pageCall(staff, 'vault_listShared');
    await h.approve(provider, 'provider-read', 'Allow');
    await listing;
    const portal = await patient.open(sites.hospitalUrl);
    await portal.getByText('Patient Vault is installed.').waitFor();
    await portal.getByRole('button', { name: 'Save to Patient Vault' }).click();
    await h.approve(patient, 'connect', 'Connect');
    await h.approve(patient, 'import', 'Save to my vault');
    await portal.locator('#status').filter({ hasText: /Saved to your vault/ }).waitFor({ timeout: 120_000 });
    const intake = await patient.open(sites.clinicUrl);
    await intake.getByRole('button', { name: 'Share my records with Example Clinic' }).click();
    await h.approve(patient, 'connect', 'Connect');
    const prompt = await h.approvalPage(patient, 'share');
    const start = performance.now();
    await prompt.locator('[data-prompt-kind="share"]').getByRole('button', { name: 'Share' }).click();
    await intake.locator('#status').filter({ hasText: 'Thank you' }).waitFor({ timeout: 60_000 });
    await staff.getByRole('button', { name: /Accept invitations/ }).click();
    await staff.locator('#patients li').first().waitFor({ timeout: 120_000 });
    return performance.now() - start;
  } finally {
    await Promise.allSettled([patient.close(), provider.close()]);
    await sites.close();
    await relay.stop();
    for (const d of dirs) await h.removeProfileDir(d);
  }
}

async function nodeShare(): Promise<number> {
  const bundle = await syntheticBundle(120);
  const engines = await nodeEngines();
  try {
    await engines.patient.records!.import({ format: 'fhir', data: bundle });
    const providerDid = (await engines.provider.status()).did!;
    const start = performance.now();
    const { invitation, patient } = await engines.patient.sharing!.offer(
      { provider: { did: providerDid, name: 'Example Clinic' }, scopes: ['summary', 'labs'], purpose: 'treatment', expiresInDays: 30 },
      'https://clinic.example',
    );
    await engines.provider.provider!.redeem(invitation, { scopes: ['summary', 'labs'], purpose: 'treatment', expiresInDays: 30 });
    const { records } = await engines.provider.provider!.records({ patient, limit: 1 });
    if (records.length === 0) throw new Error('no record arrived');
    return performance.now() - start;
  } finally {
    await engines.close();
  }
}

/** Bundles bench/idb-page/page.ts, serves it on loopback (a secure context) and runs it in Chromium. */
async function storePutInChromium(rounds: number): Promise<{ value: number; baseline: number }> {
  const { build } = await import('esbuild');
  const { createServer } = await import('node:http');
  const { chromium } = await import('playwright-core');
  const { CHROMIUM } = await import('../test/e2e/harness.js');
  const dir = await mkdtemp(join(tmpdir(), 'pv-bench-idb-'));
  const bundled = await build({
    entryPoints: [resolve(import.meta.dirname, 'idb-page/page.ts')],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    logLevel: 'silent',
  });
  const script = bundled.outputFiles[0]!.contents;
  const server = createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><meta charset="utf-8"><title>store bench</title><script type="module" src="/page.js"></script>');
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  // A persistent profile: IndexedDB lives on disk, as in a patient's browser.
  const context = await chromium.launchPersistentContext(join(dir, 'profile'), { executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  try {
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${address.port}/`);
    await page.waitForFunction(() => 'pvBench' in globalThis);
    const { sealed, plain } = await page.evaluate(
      (n) => (globalThis as unknown as { pvBench: { run(n: number): Promise<{ sealed: number[]; plain: number[] }> } }).pvBench.run(n),
      rounds,
    );
    return { value: median(sealed), baseline: median(plain) };
  } finally {
    await context.close();
    await new Promise<void>((done) => server.close(() => done()));
    await rm(dir, { recursive: true, force: true });
  }
}

export const benchmarks: Benchmark[] = [
  {
    name: 'store_put_10k_chromium_idb',
    unit: 'ms',
    goal: 'report (issue 3 store_put_10k in real Chromium IndexedDB; sealed / plaintext puts)',
    run: () => storePutInChromium(5),
  },
  {
    name: 'e2e_import_1k_to_timeline',
    unit: 'ms',
    goal: 'report (ratio = browser / the same engine in Node)',
    async run() {
      const baseline = await nodeImport();
      const value = await browserImport();
      return { value, baseline };
    },
  },
  {
    name: 'e2e_share_to_first_record',
    unit: 'ms',
    goal: 'report (ratio = two browsers through the relay / two Node engines on loopback)',
    async run() {
      const baseline = await nodeShare();
      const value = await browserShare();
      return { value, baseline };
    },
  },
];
