/**
 * The service worker's main. It only routes messages; the engine is hosted elsewhere
 * (offscreen document on Chromium, background page on Firefox).
 */
export function startBackground(): void {
  // Routing is added with the engine host; nothing runs at import time.
}
