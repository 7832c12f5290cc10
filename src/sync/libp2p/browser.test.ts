import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('the browser node factory', () => {
  it('bundles for the browser without any Node-only module (no TCP transport, no node: built-ins, no LevelDB)', async () => {
    const result = await build({
      entryPoints: [new URL('./browser.ts', import.meta.url).pathname],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((i) => i.includes('@libp2p/websockets'))).toBe(true);
    expect(inputs.some((i) => i.includes('@libp2p/webrtc'))).toBe(true);
    expect(inputs.filter((i) => i.includes('@libp2p/tcp/') || i.startsWith('node:') || i.includes('classic-level'))).toEqual([]);
    // The browser builds of dual packages are the ones taken.
    expect(inputs.some((i) => i.endsWith('@libp2p/websockets/dist/src/listener.js'))).toBe(false);
  }, 60_000);
});
