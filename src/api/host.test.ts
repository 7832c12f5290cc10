import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStorage, WEAK_TEST_KDF_COST } from '../store/index.js';
import { startEngineHost } from './host.js';
import { PAGE_PORT, UI_PORT } from './messages.js';
import { memoryPermissionPersistence } from './permissions.js';
import type { HostRuntime, PortSender, RuntimePort } from './runtime.js';
import { createStoreBackend, type StoreBackend } from './store-backend.js';

/**
 * The engine host as Firefox's background page (and Chromium's offscreen document) runs it,
 * driven over in-process runtime ports: each end delivers to the other asynchronously and
 * reports who opened it, as `runtime.connect` does.
 */
type Listener<F> = Set<F>;
function event<F extends (...args: never[]) => unknown>() {
  const set: Listener<F> = new Set();
  return { set, api: { addListener: (f: F) => set.add(f), removeListener: (f: F) => set.delete(f) } };
}

function portPair(name: string, sender: PortSender): { client: RuntimePort; host: RuntimePort } {
  const make = (s: PortSender | undefined) => {
    const onMessage = event<(m: unknown, p: RuntimePort) => void>();
    const onDisconnect = event<(p: RuntimePort) => void>();
    return { onMessage, onDisconnect, sender: s };
  };
  const a = make(undefined);
  const b = make(sender);
  let open = true;
  const port = (self: ReturnType<typeof make>, other: ReturnType<typeof make>): RuntimePort => {
    const p: RuntimePort = {
      name,
      ...(self.sender !== undefined && { sender: self.sender }),
      postMessage(message) {
        if (!open) throw new Error('Attempting to use a disconnected port object');
        // JSON round trip, as Chromium's messaging does.
        const copy: unknown = JSON.parse(JSON.stringify(message));
        setTimeout(() => open && other.onMessage.set.forEach((f) => f(copy, peer())), 0);
      },
      disconnect() {
        if (!open) return;
        open = false;
        setTimeout(() => other.onDisconnect.set.forEach((f) => f(peer())), 0);
      },
      onMessage: self.onMessage.api,
      onDisconnect: self.onDisconnect.api,
    };
    return p;
  };
  const ports: { host?: RuntimePort } = {};
  const peer = () => ports.host!;
  const clientPort = port(a, b);
  const hostPort = port(b, a);
  ports.host = hostPort;
  return { client: clientPort, host: hostPort };
}

function memorySettings() {
  let current: { relay: string | null } = { relay: null };
  return {
    get: () => current,
    set: (next: { relay: string | null }) => {
      current = next;
      return Promise.resolve();
    },
  };
}

const EXT = 'chrome-extension://abcdefghijklmnop/';
const EXT_ID = 'abcdefghijklmnop';
const PORTAL = 'https://portal.example-hospital.org';
const PASS = 'correct horse battery staple';

const backends: StoreBackend[] = [];
afterEach(() => backends.splice(0).forEach((b) => b.close()));

async function setup() {
  const onConnect = event<(p: RuntimePort) => void>();
  const runtime: HostRuntime = { id: EXT_ID, extensionUrl: EXT, onConnect: onConnect.api };
  const backend = createStoreBackend({ storage: new MemoryStorage(), kdfCost: WEAK_TEST_KDF_COST, allowWeakKdf: true, idleCheckMs: 0 });
  void backend.then((b) => backends.push(b));
  const badges: number[] = [];
  let windowsOpened = 0;
  const host = startEngineHost({
    runtime,
    backend,
    permissions: memoryPermissionPersistence(),
    openApprovalWindow: () => windowsOpened++,
    setBadge: (n) => badges.push(n),
    settings: memorySettings(),
  });
  await host.ready;
  const connect = (name: string, sender: PortSender) => {
    const { client, host: hostSide } = portPair(name, sender);
    const messages: unknown[] = [];
    let disconnected = false;
    client.onMessage.addListener((m) => messages.push(m));
    client.onDisconnect.addListener(() => (disconnected = true));
    onConnect.set.forEach((f) => f(hostSide));
    return { port: client, messages, isDisconnected: () => disconnected };
  };
  let nextId = 1;
  const ui = (sender: PortSender = { id: EXT_ID, url: `${EXT}vault.html` }) => {
    const c = connect(UI_PORT, sender);
    const call = async (command: object) => {
      const id = nextId++;
      c.port.postMessage({ kind: 'call', id, command });
      for (let i = 0; i < 500; i++) {
        const r = c.messages.find((m) => (m as { id?: number }).id === id) as { ok: boolean; value?: unknown; error?: { code: string } } | undefined;
        if (r) return r;
        await new Promise((res) => setTimeout(res, 5));
      }
      throw new Error('no answer');
    };
    return { ...c, call };
  };
  const page = (origin: string, sender: PortSender = { id: EXT_ID, url: `${origin}/intake`, origin, frameId: 0 }) => {
    const c = connect(PAGE_PORT, sender);
    const request = async (method: string, params?: unknown, stamp = origin) => {
      const id = nextId++;
      c.port.postMessage({ kind: 'request', id, origin: stamp, body: JSON.stringify({ method, params }) });
      for (let i = 0; i < 400; i++) {
        const r = c.messages.find((m) => (m as { id?: number }).id === id) as { response: { ok: boolean; result?: unknown; error?: { code: number } } } | undefined;
        if (r) return r.response;
        await new Promise((res) => setTimeout(res, 5));
      }
      return undefined;
    };
    return { ...c, request };
  };
  return { ui, page, badges, windows: () => windowsOpened };
}

describe('engine host: extension pages', () => {
  it('creates, locks and unlocks a vault by UI command and reports status', async () => {
    const { ui } = await setup();
    const tab = ui();
    expect((await tab.call({ type: 'status' })).value).toMatchObject({ state: 'none' });
    expect((await tab.call({ type: 'create', passphrase: PASS, displayName: 'Alex Example' })).ok).toBe(true);
    expect((await tab.call({ type: 'status' })).value).toMatchObject({ state: 'unlocked', displayName: 'Alex Example' });
    await tab.call({ type: 'lock' });
    expect((await tab.call({ type: 'status' })).value).toMatchObject({ state: 'locked' });
    expect(await tab.call({ type: 'unlock', passphrase: 'wrong passphrase' })).toMatchObject({ ok: false, error: { code: 'WRONG_PASSPHRASE' } });
    expect((await tab.call({ type: 'unlock', passphrase: PASS })).ok).toBe(true);
  });

  it('answers a malformed command with INVALID_MESSAGE and ignores garbage without an id', async () => {
    const { ui } = await setup();
    const tab = ui();
    expect(await tab.call({ type: 'create', passphrase: '' })).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
    expect(await tab.call({ type: 'selfDestruct' })).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
    // Inbox and send-a-result commands are checked at the door too.
    const did = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK';
    for (const command of [
      { type: 'acceptResult', from: 'not a did', id: 'abcdefgh12', scope: 'labs' },
      { type: 'acceptResult', from: did, id: '../../etc', scope: 'labs' },
      { type: 'acceptResult', from: did, id: 'abcdefgh12', scope: 'everything' },
      { type: 'rejectResult', from: did, id: 'abcdefgh12', extra: true },
      { type: 'providerSendResult', patient: did, resource: { status: 'final' } },
      { type: 'providerSendResult', patient: did, resource: { resourceType: '<script>' } },
      { type: 'providerSendResult', patient: did, resource: [{ resourceType: 'Observation' }] },
      { type: 'decide', promptId: 'x', decision: { approved: true, edits: { scopes: ['labs'], purpose: 'treatment', expiresInDays: 30, allowResults: 'yes' } } },
      { type: 'useFamilyLink', link: 'short' },
      { type: 'addEmergencyContact', vault: 'A'.repeat(43), did, scopes: ['summary'], waitHours: -1 },
      { type: 'createDependent', label: '   ' },
      { type: 'setTestClock', offsetMs: -5 },
    ]) {
      expect(await tab.call(command), JSON.stringify(command)).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
    }
    // Moving the engine's clock exists in test builds only: this host was given no test clock.
    expect(await tab.call({ type: 'setTestClock', offsetMs: 1000 })).toMatchObject({ ok: false, error: { code: 'NOT_AVAILABLE' } });
    tab.port.postMessage('garbage');
    tab.port.postMessage({ kind: 'call', id: -1, command: { type: 'status' } });
    expect((await tab.call({ type: 'status' })).ok).toBe(true);
  });

  it('refuses a UI port opened by a web page or another extension', async () => {
    const { ui } = await setup();
    const fromWeb = ui({ id: EXT_ID, url: `${PORTAL}/`, origin: PORTAL });
    const fromOther = ui({ id: 'someotherextension', url: 'chrome-extension://someotherextension/page.html' });
    await new Promise((r) => setTimeout(r, 20));
    expect(fromWeb.isDisconnected()).toBe(true);
    expect(fromOther.isDisconnected()).toBe(true);
  });

  it('exports a backup as base64url that restores elsewhere', async () => {
    const { ui } = await setup();
    const tab = ui();
    await tab.call({ type: 'create', passphrase: PASS });
    const backup = (await tab.call({ type: 'exportBackup' })).value as string;
    expect(backup).toMatch(/^[A-Za-z0-9_-]+$/);
    const other = (await setup()).ui();
    expect(await other.call({ type: 'restoreBackup', backup, passphrase: 'wrong passphrase' })).toMatchObject({ ok: false });
    expect((await other.call({ type: 'restoreBackup', backup, passphrase: PASS })).ok).toBe(true);
    expect((await other.call({ type: 'status' })).value).toMatchObject({ state: 'unlocked' });
  });
});

describe('engine host: pages', () => {
  it('takes the origin from the browser’s sender, asks the user through the approval window, and connects', async () => {
    const { ui, page, badges, windows } = await setup();
    const tab = ui();
    await tab.call({ type: 'create', passphrase: PASS });
    const portal = page(PORTAL);
    const answer = portal.request('vault_connect');
    let prompts: { id: string; origin: string }[] = [];
    for (let i = 0; i < 100 && prompts.length === 0; i++) {
      prompts = (await tab.call({ type: 'prompts' })).value as typeof prompts;
    }
    expect(prompts).toEqual([expect.objectContaining({ origin: PORTAL })]);
    expect(windows()).toBe(1);
    expect(badges.at(-1)).toBe(1);
    await tab.call({ type: 'decide', promptId: prompts[0]!.id, decision: { approved: true } });
    expect(await answer).toEqual({ ok: true, result: { connected: true, origin: PORTAL } });
    expect(badges.at(-1)).toBe(0);
    expect((await tab.call({ type: 'origins' })).value).toEqual([expect.objectContaining({ origin: PORTAL })]);
  });

  it('drops a request whose content-script stamp disagrees with the sender', async () => {
    const { page } = await setup();
    const portal = page(PORTAL);
    expect(await portal.request('vault_status', undefined, 'https://other.example')).toBeUndefined();
  });

  it('disconnects page ports from frames, bad origins and other extensions', async () => {
    const { page } = await setup();
    const framed = page(PORTAL, { id: EXT_ID, url: `${PORTAL}/`, origin: PORTAL, frameId: 3 });
    const plainHttp = page('http://evil.example', { id: EXT_ID, url: 'http://evil.example/', origin: 'http://evil.example', frameId: 0 });
    const other = page(PORTAL, { id: 'someotherextension', url: `${PORTAL}/`, origin: PORTAL, frameId: 0 });
    await new Promise((r) => setTimeout(r, 20));
    expect([framed.isDisconnected(), plainHttp.isDisconnected(), other.isDisconnected()]).toEqual([true, true, true]);
  });

  it('withdraws an origin’s prompt when its last page goes away', async () => {
    const { ui, page } = await setup();
    const tab = ui();
    await tab.call({ type: 'create', passphrase: PASS });
    const portal = page(PORTAL);
    void portal.request('vault_connect');
    let prompts: unknown[] = [];
    for (let i = 0; i < 100 && prompts.length === 0; i++) prompts = (await tab.call({ type: 'prompts' })).value as unknown[];
    expect(prompts).toHaveLength(1);
    portal.port.disconnect();
    for (let i = 0; i < 100 && prompts.length > 0; i++) prompts = (await tab.call({ type: 'prompts' })).value as unknown[];
    expect(prompts).toEqual([]);
  });

  it('pushes lockChanged to a subscribed, connected page', async () => {
    const { ui, page } = await setup();
    const tab = ui();
    await tab.call({ type: 'create', passphrase: PASS });
    const portal = page(PORTAL);
    const connecting = portal.request('vault_connect');
    let prompts: { id: string }[] = [];
    for (let i = 0; i < 100 && prompts.length === 0; i++) prompts = (await tab.call({ type: 'prompts' })).value as typeof prompts;
    await tab.call({ type: 'decide', promptId: prompts[0]!.id, decision: { approved: true } });
    await connecting;
    portal.port.postMessage({ kind: 'subscribe', origin: PORTAL });
    await new Promise((r) => setTimeout(r, 20));
    await tab.call({ type: 'lock' });
    await new Promise((r) => setTimeout(r, 20));
    expect(portal.messages).toContainEqual({ kind: 'event', event: { event: 'lockChanged', data: { locked: true } } });
  });
});
