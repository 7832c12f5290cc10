import { browser } from 'wxt/browser';

/** The approval window's page; `popup=1` tells it to close itself when nothing is left to answer. */
const APPROVAL_PAGE = '/approve.html?popup=1';

/**
 * Brings the approval window up, reusing one that is open (found by URL, so this works after the
 * service worker restarted and forgot its window id).
 */
export async function openApprovalWindow(): Promise<void> {
  const url = browser.runtime.getURL(APPROVAL_PAGE);
  // Chromium: runtime.getContexts needs no "tabs" permission; Firefox: tabs.query on our own URL.
  const windowId =
    typeof browser.runtime.getContexts === 'function'
      ? (await browser.runtime.getContexts({ contextTypes: ['TAB'], documentUrls: [url] }))[0]?.windowId
      : (await browser.tabs.query({ url }))[0]?.windowId;
  if (windowId !== undefined && windowId !== -1) {
    await browser.windows.update(windowId, { focused: true });
    return;
  }
  await browser.windows.create({ url, type: 'popup', width: 460, height: 680, focused: true });
}

/** Shows the number of waiting prompts on the toolbar icon. */
export async function setBadge(count: number): Promise<void> {
  const action = browser.action ?? (browser as unknown as { browserAction?: typeof browser.action }).browserAction;
  if (!action) return;
  await action.setBadgeText({ text: count > 0 ? String(Math.min(count, 99)) : '' });
  await action.setBadgeBackgroundColor({ color: '#b3261e' });
}
