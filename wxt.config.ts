import { defineConfig } from 'wxt';

// Extension build configuration. The engine (Automerge wasm, libp2p) runs in extension pages,
// so the CSP must allow WebAssembly compilation ('wasm-unsafe-eval'), nothing more.
export default defineConfig({
  srcDir: '.',
  entrypointsDir: 'entrypoints',
  manifest: {
    name: 'Patient Vault',
    description: 'Your encrypted health record, under your control, shared on your terms.',
    permissions: ['storage', 'offscreen', 'alarms'],
    content_security_policy: {
      extension_pages: "script-src 'self' 'wasm-unsafe-eval'; object-src 'self';",
    },
  },
  vite: () => ({
    build: { target: 'es2022' },
  }),
});
