import { createServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../main.js';
import { initVault, tempRoot } from './records-cli.test-support.js';

function collect() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) }, out, err };
}

describe('pvault node (the running node is exercised by pvault demo and its test)', () => {
  it.each([
    ['no --vault', []],
    ['a relay that is not a multiaddr', ['--vault', '/tmp/x', '--relay', 'not an address']],
    ['a relay without its peer id', ['--vault', '/tmp/x', '--relay', '/ip4/127.0.0.1/tcp/4001']],
    ['an unknown flag', ['--vault', '/tmp/x', '--nope']],
    ['a listen address that is not a multiaddr', ['--vault', '/tmp/x', '--listen', '127.0.0.1:4001']],
  ])('refuses %s with exit code 2', async (_what, argv) => {
    const { io, err } = collect();
    expect(await main(['node', ...argv], io)).toBe(2);
    expect(err.join('')).toMatch(/pvault node/);
  });

  describe('when the network is not there', () => {
    let root: string;
    let cleanup: () => Promise<void>;
    beforeAll(async () => ({ root, cleanup } = await tempRoot('pv-node-')));
    afterAll(() => cleanup());
    afterEach(() => vi.unstubAllEnvs());

    /** A TCP port on loopback: held open by a server, or (closed) refusing connections. */
    async function port(keepOpen: boolean): Promise<{ port: number; close: () => Promise<void> }> {
      const server = createServer();
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      const close = () => new Promise<void>((done) => server.close(() => done()));
      const { port: p } = server.address() as AddressInfo;
      if (!keepOpen) await close();
      return { port: p, close: keepOpen ? close : () => Promise.resolve() };
    }

    it('says the listen address is taken, with exit code 1, and releases the vault', async () => {
      const dir = await initVault(root);
      const taken = await port(true);
      try {
        const { io, err } = collect();
        expect(await main(['node', '--vault', dir, '--listen', `/ip4/127.0.0.1/tcp/${taken.port}`], io)).toBe(1);
        expect(err.join('\n')).toBe(`pvault node: cannot listen on /ip4/127.0.0.1/tcp/${taken.port} (the address is already in use (EADDRINUSE)) [LISTEN_FAILED]`);
      } finally {
        await taken.close();
      }
      // The database was closed: another command opens it.
      expect(await main(['status', '--vault', dir], collect().io)).toBe(0);
    });

    it('says the relay cannot be reached, with exit code 1', async () => {
      const dir = await initVault(root);
      const closed = await port(false);
      const relay = `/ip4/127.0.0.1/tcp/${closed.port}/p2p/12D3KooWQv5wEmD4jx67XYj4y8yQnRFGCCbidhLK4vwjeZDCqvji`;
      const { io, err } = collect();
      expect(await main(['node', '--vault', dir, '--relay', relay], io)).toBe(1);
      expect(err.join('\n')).toBe(`pvault node: cannot reach the relay ${relay}: connection refused (ECONNREFUSED) [RELAY_UNREACHABLE]`);
    });
  });

  it('prints its help with exit code 0', async () => {
    const { io, out } = collect();
    expect(await main(['node', '--help'], io)).toBe(0);
    expect(out.join('')).toMatch(/--control/);
  });
});
