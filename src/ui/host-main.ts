import { initializeWasm } from '@automerge/automerge/slim';
import automergeWasmUrl from '@automerge/automerge/automerge.wasm?url';
import { browser } from 'wxt/browser';
import { createEngineBackend, startEngineHost, type HostRuntime, type HostSettings, type HostSettingsStore, type PermissionPersistence, type OriginRecord } from '../api/index.js';
import { httpFetchJwks } from '../records/index.js';
import { openIndexedDbStorage, type Storage } from '../store/index.js';
import { createBrowserLibp2p } from '../sync/index.js';
import { openApprovalWindow, setBadge } from './extension-windows.js';

/** IndexedDB database of the vault. */
export const VAULT_DB = 'patient-vault';
/** IndexedDB database of the connected-origins list (outside the vault so pages can connect while it is locked). */
export const ORIGINS_DB = 'patient-vault-origins';
const ORIGINS_KEY = 'origins';
const SETTINGS_KEY = 'settings';

/**
 * Starts the engine host: in the offscreen document on Chromium (`offscreen`), in the background
 * page on Firefox (`background`). Nothing runs at import time.
 */
export function startHostMain(mode: 'offscreen' | 'background'): void {
  const runtime = browser.runtime as unknown as HostRuntime & { getURL(path: string): string; id: string };
  const hostRuntime: HostRuntime = { id: runtime.id, extensionUrl: runtime.getURL('/'), onConnect: runtime.onConnect };
  const hostDb = openIndexedDbStorage({ name: ORIGINS_DB });
  const settings = storageSettings(hostDb);
  // The extension bundles Automerge's slim build (wxt.config.ts aliases it): its wasm is a file of
  // the extension, compiled under the 'wasm-unsafe-eval' CSP before any scope document is touched.
  // A test build (WXT_PV_TEST_CLOCK=1 at build time, test/e2e/harness.ts) lets the e2e test move the
  // engine's clock forward, e.g. past an emergency contact's 48-hour wait; other builds have no such knob.
  const testBuild = (import.meta.env as Record<string, string | undefined>)['WXT_PV_TEST_CLOCK'] === '1';
  let clockOffset = 0;
  const backend = Promise.all([openIndexedDbStorage({ name: VAULT_DB }), settings.loaded, initializeWasm(automergeWasmUrl)]).then(([storage]) =>
    createEngineBackend({
      storage,
      ...(testBuild && { now: () => Date.now() + clockOffset }),
      relay: () => settings.get().relay ?? undefined,
      createLibp2p: (identity, relay) => createBrowserLibp2p({ identity, ...(relay !== undefined && { relay }) }),
      // SMART Health Card issuer keys, fetched over https from iss + /.well-known/jwks.json.
      fetchJwks: httpFetchJwks(),
    }),
  );
  startEngineHost({
    runtime: hostRuntime,
    ...(testBuild && {
      now: () => Date.now() + clockOffset,
      testClock: (offsetMs: number) => {
        clockOffset = offsetMs;
      },
    }),
    backend,
    settings,
    permissions: storagePermissions(hostDb),
    openApprovalWindow:
      mode === 'offscreen'
        ? () => void browser.runtime.sendMessage({ type: 'patientVault/open-approval' }).catch(() => undefined)
        : () => void openApprovalWindow().catch(() => undefined),
    setBadge:
      mode === 'offscreen'
        ? (count) => void browser.runtime.sendMessage({ type: 'patientVault/badge', count }).catch(() => undefined)
        : (count) => void setBadge(count).catch(() => undefined),
  });
  if (mode === 'offscreen') void browser.runtime.sendMessage({ type: 'patientVault/host-ready' }).catch(() => undefined);
}

/** Host settings in the host's database, readable before the vault is unlocked. */
function storageSettings(storage: Promise<Storage>): HostSettingsStore & { loaded: Promise<void> } {
  let current: HostSettings = { relay: null };
  const loaded = (async () => {
    const bytes = await (await storage).get(SETTINGS_KEY);
    if (bytes === undefined) return;
    try {
      const value = JSON.parse(new TextDecoder().decode(bytes)) as { relay?: unknown };
      if (typeof value.relay === 'string' && value.relay.length <= 300) current = { relay: value.relay };
    } catch {
      // Unreadable settings are the defaults.
    }
  })();
  return {
    loaded,
    get: () => current,
    async set(next) {
      await (await storage).put(SETTINGS_KEY, new TextEncoder().encode(JSON.stringify(next)));
      current = next;
    },
  };
}

function storagePermissions(storage: Promise<Storage>): PermissionPersistence {
  return {
    async load() {
      const bytes = await (await storage).get(ORIGINS_KEY);
      if (bytes === undefined) return [];
      try {
        return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
      } catch {
        return [];
      }
    },
    async save(records: readonly OriginRecord[]) {
      await (await storage).put(ORIGINS_KEY, new TextEncoder().encode(JSON.stringify(records)));
    },
  };
}
