import { installPageProvider } from '../src/api/index.js';

// MAIN world at document_start: window.patientVault exists before any page script runs.
export default defineContentScript({
  matches: ['https://*/*', 'http://localhost/*', 'http://127.0.0.1/*'],
  runAt: 'document_start',
  world: 'MAIN',
  exclude: ['firefox'],
  main() {
    installPageProvider(window);
  },
});
