// Firefox smoke check (manual, not part of `npm test`): loads the MV2 build (`npm run build:firefox`)
// into headless Firefox ESR as a temporary add-on over WebDriver BiDi, then from a plain web page
// calls the page API (4100 before connect), answers the approval window's Connect, opens the
// vault tab from that extension page, creates a vault through the onboarding UI and reads the
// unlocked vault's identity: the engine runs in Firefox's background page.
// Usage: node --experimental-websocket bin/run-ts.js test/e2e/firefox-smoke.ts [.output/firefox-mv2]
// (needs firefox-esr; Node 20 has a WebSocket client only behind that flag).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const EXT = resolve(process.argv[2] ?? '.output/firefox-mv2');
const ID = 'patient-vault@patientvault.org';
// A fixed moz-extension UUID (pref) so the test knows the extension's origin.
const UUID = '6b0c2f3e-5a7d-4c1e-9f00-123456789abc';
const PORT = 9333;
const PASS = 'orbit lantern cactus velvet harbor';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const profile = mkdtempSync(join(tmpdir(), 'pv-ff-'));
writeFileSync(join(profile, 'user.js'), `user_pref("extensions.webextensions.uuids", ${JSON.stringify(JSON.stringify({ [ID]: UUID }))});\n`);
const firefox = spawn('firefox-esr', ['--headless', `--remote-debugging-port=${PORT}`, '--profile', profile, '--no-remote'], { stdio: 'ignore' });
const server = createServer((_, res) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<!doctype html><title>A page</title><p>A page</p>');
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as { port: number }).port;
await sleep(4000);

type Reply = { id?: number; type?: string; error?: string; message?: string; result?: unknown };
const ws = new WebSocket(`ws://127.0.0.1:${PORT}/session`);
await new Promise((res, rej) => {
  ws.onopen = res;
  ws.onerror = rej;
});
let nextId = 0;
const waiting = new Map<number, (r: Reply) => void>();
ws.onmessage = (m: MessageEvent) => {
  const msg = JSON.parse(String(m.data)) as Reply;
  if (msg.id !== undefined) waiting.get(msg.id)?.(msg);
};
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- BiDi results are read field by field below
async function bidi(method: string, params: object): Promise<any> {
  const id = ++nextId;
  const reply = await new Promise<Reply>((res) => {
    waiting.set(id, res);
    ws.send(JSON.stringify({ id, method, params }));
  });
  waiting.delete(id);
  if (reply.type === 'error') throw new Error(`${method}: ${reply.error} ${reply.message}`);
  return reply.result;
}
type Evaluate = (expression: string) => Promise<unknown>;
const evaluateIn =
  (context: string): Evaluate =>
  async (expression) =>
    ((await bidi('script.evaluate', { expression, target: { context }, awaitPromise: true })) as { result: { value?: unknown } }).result.value;
async function findContext(test: (url: string) => boolean): Promise<string> {
  for (let i = 0; i < 40; i++) {
    const found = ((await bidi('browsingContext.getTree', {})).contexts as { url: string; context: string }[]).find((c) => test(c.url));
    if (found) return found.context;
    await sleep(500);
  }
  throw new Error('context not found');
}
async function waitText(evaluate: Evaluate, re: RegExp, ms: number): Promise<string> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const text = String(await evaluate('document.body.innerText'));
    if (re.test(text)) return text;
    await sleep(500);
  }
  throw new Error(`timed out waiting for ${re}`);
}

let ok = false;
try {
  await bidi('session.new', { capabilities: {} });
  console.log('installed:', (await bidi('webExtension.install', { extensionData: { type: 'path', path: EXT } })).extension);
  const tab = ((await bidi('browsingContext.getTree', {})).contexts as { context: string }[])[0]!.context;
  await bidi('browsingContext.navigate', { context: tab, url: `http://127.0.0.1:${port}/`, wait: 'complete' });
  await sleep(1500);
  const page = evaluateIn(tab);
  const call = (method: string) => page(`window.patientVault.request({ method: '${method}' }).then((r) => JSON.stringify(r), (e) => 'error ' + e.code)`);
  console.log('window.patientVault:', await page('typeof window.patientVault'));
  console.log('vault_status before connect:', await call('vault_status'));
  void page(`window.patientVault.request({ method: 'vault_connect' }).then(() => 'ok', (e) => 'error ' + e.code).then((r) => (window.connected = r))`);
  const approval = evaluateIn(await findContext((u) => u.startsWith(`moz-extension://${UUID}/approve.html`)));
  await waitText(approval, /A site wants to connect/, 30_000);
  await approval(`window.open('/vault.html'), true`);
  const vault = evaluateIn(await findContext((u) => u.startsWith(`moz-extension://${UUID}/vault.html`)));
  await approval(`[...document.querySelectorAll('button')].find((b) => b.textContent.trim() === 'Connect').click(), true`);
  await sleep(1500);
  console.log('vault_connect:', await page('window.connected'), '· vault_status:', await call('vault_status'));
  await waitText(vault, /Welcome to Patient Vault/, 30_000);
  const fill = (sel: string, v: string) => vault(`(() => { const el = document.querySelector('${sel}'); el.value = ${JSON.stringify(v)}; el.dispatchEvent(new Event('input', { bubbles: true })); return true; })()`);
  await fill('#display-name', 'Firefox Smoke');
  await fill('#new-passphrase', PASS);
  await fill('#confirm-passphrase', PASS);
  await sleep(1500);
  await vault(`document.querySelector('button[type=submit]').click(), true`);
  await waitText(vault, /Signed in as Firefox Smoke/, 120_000);
  await vault(`location.hash = '#settings', true`);
  await waitText(vault, /Your identity/, 30_000);
  console.log('identity:', await vault(`document.querySelector('#identity-did').value`));
  console.log('vault_status after create:', await call('vault_status'));
  ok = true;
} catch (e) {
  console.log('FAILED:', e instanceof Error ? e.message : e);
} finally {
  ws.close();
  server.close();
  firefox.kill('SIGTERM');
  await sleep(1000);
  rmSync(profile, { recursive: true, force: true });
}
process.exit(ok ? 0 : 1);
