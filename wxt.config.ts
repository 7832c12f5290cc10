import { fileURLToPath } from 'node:url';
import { defineConfig } from 'wxt';

// Extension build configuration. The engine (Automerge wasm, libp2p) runs in extension pages,
// so the CSP must allow WebAssembly compilation ('wasm-unsafe-eval'), nothing more.
// Chromium (MV3): the engine lives in an offscreen document (permission "offscreen").
// Firefox (MV2): it lives in the persistent background page; the page-world provider is injected
// by the content script as a web-accessible script, since MV2 has no MAIN-world content scripts.
export default defineConfig({
  srcDir: '.',
  // The e2e build (WXT_PV_TEST_CLOCK=1: a test may move the engine's clock) goes to its own folder,
  // so the folder a user loads (.output/chrome-mv3, from npm start or npm run build) never holds it.
  outDir: process.env['WXT_PV_TEST_CLOCK'] === '1' ? '.output-e2e' : '.output',
  entrypointsDir: 'entrypoints',
  manifest: ({ browser }) => ({
    name: 'Patient Vault',
    description: 'Your encrypted health record, under your control, shared on your terms.',
    permissions: browser === 'firefox' ? ['storage', 'alarms'] : ['storage', 'offscreen', 'alarms'],
    content_security_policy: {
      extension_pages: "script-src 'self' 'wasm-unsafe-eval'; object-src 'self';",
    },
    ...(browser === 'firefox' && {
      web_accessible_resources: ['page-provider.js'],
      browser_specific_settings: {
        gecko: {
          id: 'patient-vault@patientvault.org',
          strict_min_version: '115.0',
          // Health data leaves the browser only when the user shares it, to parties they choose.
          data_collection_permissions: { required: ['healthInfo'] },
        },
      },
    }),
  }),
  vite: () => ({
    resolve: {
      // STACK.md: in the extension, Automerge's slim build, whose wasm the engine host loads with
      // initializeWasm() (src/ui/host-main.ts). Every layer imports '@automerge/automerge'.
      alias: [
        { find: /^@automerge\/automerge$/, replacement: '@automerge/automerge/slim' },
        // pngjs needs Node's zlib/stream/util; the extension reads QR images in the UI instead.
        { find: /^pngjs$/, replacement: fileURLToPath(new URL('./src/ui/pngjs-shim.ts', import.meta.url)) },
      ],
    },
    build: {
      target: 'es2022',
      rolldownOptions: {
        // Modules of src/ run nothing at import time (CONVENTIONS.md), so an entry point that
        // imports one function from a layer's index.ts gets that function's code only: the page
        // world and content scripts stay small and never carry the engine or the UI. The few
        // modules that exist for their effect (globals that libraries read at load) are kept.
        treeshake: {
          moduleSideEffects: (id: string) =>
            /[\\/]src[\\/][^?]*\.tsx?$/.test(id) && !/(websocket-constants|polyfill)[^/\\]*\.ts$/.test(id) ? false : undefined,
        },
      },
    },
  }),
});
