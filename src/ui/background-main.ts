import { browser } from 'wxt/browser';
import { controlMessage } from '../api/index.js';
import { startHostMain } from './host-main.js';
import { openApprovalWindow, setBadge } from './extension-windows.js';

const OFFSCREEN_PAGE = '/offscreen.html';
/** How long the service worker waits for a new offscreen host to say it is listening. */
const HOST_READY_TIMEOUT_MS = 10_000;

/**
 * The background's main. On Chromium it is the MV3 service worker: it only routes — creates the
 * offscreen document that hosts the engine (on demand, reason WORKERS), opens the approval
 * window, sets the badge. On Firefox it is the (persistent) background page and hosts the engine
 * itself. Nothing runs at import time.
 */
export function startBackground(): void {
  const offscreen = (browser as { offscreen?: typeof browser.offscreen }).offscreen;
  if (!offscreen) {
    startHostMain('background');
    browser.runtime.onMessage.addListener((message: unknown, sender, sendResponse: (r: unknown) => void) => {
      const parsed = controlMessage.safeParse(message);
      if (!parsed.success || sender.id !== browser.runtime.id) return;
      if (parsed.data.type === 'patientVault/wake') {
        sendResponse({ ok: true });
      }
      return undefined;
    });
    return;
  }

  let creating: Promise<void> | undefined;
  let readyWaiters: (() => void)[] = [];
  const ensureHost = async (): Promise<void> => {
    const contexts = await browser.runtime.getContexts({ contextTypes: ['OFFSCREEN_DOCUMENT'] });
    if (contexts.length > 0) return;
    creating ??= (async () => {
      const ready = new Promise<void>((resolve) => {
        readyWaiters.push(resolve);
        setTimeout(resolve, HOST_READY_TIMEOUT_MS);
      });
      await offscreen.createDocument({
        url: OFFSCREEN_PAGE,
        reasons: ['WORKERS'],
        justification: 'Runs the vault engine: keeps the unlocked vault and its peer-to-peer connections alive while the service worker sleeps.',
      });
      await ready;
    })().finally(() => (creating = undefined));
    await creating;
  };

  browser.runtime.onMessage.addListener((message: unknown, sender, sendResponse: (r: unknown) => void) => {
    const parsed = controlMessage.safeParse(message);
    if (!parsed.success || sender.id !== browser.runtime.id) return undefined;
    switch (parsed.data.type) {
      case 'patientVault/wake':
        ensureHost().then(
          () => sendResponse({ ok: true }),
          () => sendResponse({ ok: false }),
        );
        return true; // answered asynchronously
      case 'patientVault/host-ready':
        for (const resolve of readyWaiters) resolve();
        readyWaiters = [];
        return undefined;
      case 'patientVault/open-approval':
        void openApprovalWindow().catch(() => undefined);
        return undefined;
      case 'patientVault/badge':
        void setBadge(parsed.data.count).catch(() => undefined);
        return undefined;
    }
  });
  browser.runtime.onStartup.addListener(() => void ensureHost().catch(() => undefined));
  browser.runtime.onInstalled.addListener(() => void ensureHost().catch(() => undefined));
  void ensureHost().catch(() => undefined);
}
