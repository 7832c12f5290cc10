import { describe, expect, it } from 'vitest';
import { main } from './main.js';

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('pvault (the command table)', () => {
  it('lists every command with --help (exit 0) and on stderr without a command (exit 2)', async () => {
    const help = await run('--help');
    expect(help.code).toBe(0);
    for (const name of ['init', 'status', 'import', 'export', 'records', 'log generate', 'verify', 'relay', 'node', 'demo']) expect(help.stdout).toContain(`\n  ${name} `);
    const bare = await run();
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('Usage: pvault <command>');
  });

  it('points the first word of a two-word command at the whole command, with exit code 2', async () => {
    for (const argv of [['log'], ['log', '--help'], ['log', 'generat']]) {
      const r = await run(...argv);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe("pvault log: did you mean 'pvault log generate'?\nRun 'pvault log generate --help' for usage.");
    }
  });

  it('refuses an unknown command with the usage, exit code 2', async () => {
    const r = await run('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^pvault: unknown command 'frobnicate'\n\npvault — Patient Vault command line\n\nUsage: pvault <command>/);
  });
});
