import { describe, expect, it } from 'vitest';
import { main } from '../main.js';

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
  ])('refuses %s with exit code 2', async (_what, argv) => {
    const { io, err } = collect();
    expect(await main(['node', ...argv], io)).toBe(2);
    expect(err.join('')).toMatch(/pvault node/);
  });

  it('prints its help with exit code 0', async () => {
    const { io, out } = collect();
    expect(await main(['node', '--help'], io)).toBe(0);
    expect(out.join('')).toMatch(/--control/);
  });
});
