import { startContentScript } from '../src/ui/index.js';

// Isolated world: relays window.patientVault to the engine. Firefox (MV2) cannot declare a
// MAIN-world content script, so there the page-world provider is injected as a script tag.
export default defineContentScript({
  matches: ['https://*/*', 'http://localhost/*', 'http://127.0.0.1/*'],
  runAt: 'document_start',
  main() {
    startContentScript();
    if (import.meta.env.FIREFOX) void injectScript('/page-provider.js');
  },
});
