import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const FLOOR = ['--kdf-memory', '19456', '--kdf-iterations', '2'];
const PASS = 'typed passphrase 123';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pv-cli-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Runs the real `node bin/pvault.js` with a given environment. */
function pvault(args: string[], env: Record<string, string | undefined>) {
  const childEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  const result = spawnSync(process.execPath, ['bin/pvault.js', ...args], { cwd: ROOT, env: childEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Runs `node bin/pvault.js` on a real pseudo-terminal (util-linux `script`), typing each of
 * `lines` once the prompt before it has appeared — a person at a terminal. Returns everything the
 * terminal showed, and the exit code.
 */
function onTerminal(args: string[], prompts: string[], lines: string[]): Promise<{ code: number | null; screen: string }> {
  const command = ['node', 'bin/pvault.js', ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const env = { ...process.env };
  delete env.PVAULT_PASSPHRASE;
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let next = 0;
  return new Promise((resolvePromise, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      screen += chunk;
      while (next < prompts.length && screen.split(prompts[next]!).length - 1 >= countUpTo(prompts, next)) {
        child.stdin.write(`${lines[next]}\r`);
        next++;
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => resolvePromise({ code, screen }));
  });
}

/** How many times prompts[i] must have appeared before line i is typed (prompts may repeat). */
function countUpTo(prompts: string[], i: number): number {
  return prompts.slice(0, i + 1).filter((p) => p === prompts[i]).length;
}

const hasScript = spawnSync('script', ['--version']).status === 0;

describe('the pvault process', () => {
  it('init then status, with PVAULT_PASSPHRASE, exit codes 0 / 1 / 2', () => {
    const dir = join(root, 'env-vault');
    const init = pvault(['init', '--vault', dir, ...FLOOR], { PVAULT_PASSPHRASE: PASS });
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    expect(init.stdout).toContain(`Created a vault at ${dir}`);

    const status = pvault(['status', '--vault', dir, '--json'], { PVAULT_PASSPHRASE: PASS });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ schemaVersion: 2, records: 0, passphrase: 'opens', locked: false });

    const wrong = pvault(['status', '--vault', dir], { PVAULT_PASSPHRASE: 'not the one' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('[WRONG_PASSPHRASE]');

    const again = pvault(['init', '--vault', dir, ...FLOOR], { PVAULT_PASSPHRASE: PASS });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('[VAULT_EXISTS]');

    // No variable and no terminal (stdin is /dev/null here): usage error, exit 2.
    const noPass = pvault(['init', '--vault', join(root, 'never')], { PVAULT_PASSPHRASE: undefined });
    expect(noPass.code).toBe(2);
    expect(noPass.stderr).toContain('no passphrase: set PVAULT_PASSPHRASE, or run in a terminal');
  });

  it.runIf(hasScript)('asks twice on a terminal without echoing, then status checks it on the terminal', async () => {
    const dir = join(root, 'tty-vault');
    const init = await onTerminal(['init', '--vault', dir, ...FLOOR], ['New vault passphrase: ', 'Repeat the passphrase: '], [PASS, PASS]);
    expect(init.screen).toContain('New vault passphrase: ');
    expect(init.screen).toContain('Repeat the passphrase: ');
    expect(init.screen).toContain(`Created a vault at ${dir}`);
    expect(init.screen).not.toContain(PASS);
    expect(init.screen).not.toContain('typed');
    expect(init.code).toBe(0);

    const status = await onTerminal(['status', '--vault', dir, '--check-passphrase'], ['Vault passphrase: '], [PASS]);
    expect(status.screen).toMatch(/passphrase\s+opens this vault/);
    expect(status.screen).not.toContain(PASS);
    expect(status.code).toBe(0);
  });

  it.runIf(hasScript)('refuses two different passphrases typed at init with exit 1, creating nothing', async () => {
    const dir = join(root, 'mismatch');
    const init = await onTerminal(['init', '--vault', dir, ...FLOOR], ['New vault passphrase: ', 'Repeat the passphrase: '], [PASS, `${PASS}x`]);
    expect(init.code).toBe(1);
    expect(init.screen).toContain('[PASSPHRASE_MISMATCH]');
    expect(init.screen).not.toContain(PASS);
    expect(pvault(['status', '--vault', dir], {}).code).toBe(1);
  });
});
