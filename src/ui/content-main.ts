import { browser } from 'wxt/browser';
import { startContentBridge, type RuntimePort } from '../api/index.js';

/** The content script's main (isolated world): the bridge between the page and the engine host. */
export function startContentScript(): void {
  // Only top-level documents with a real origin talk to the vault.
  if (window.top !== window || window.location.origin === 'null') return;
  startContentBridge({
    win: window,
    wake: async () => {
      await browser.runtime.sendMessage({ type: 'patientVault/wake' });
    },
    connect: (name) => browser.runtime.connect({ name }) as unknown as RuntimePort,
  });
}
