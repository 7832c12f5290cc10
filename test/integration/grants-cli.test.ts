import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as generate } from '../../bin/cli/commands/log-generate.js';
import { run as verifyCommand } from '../../bin/cli/commands/verify.js';
import { main } from '../../bin/cli/main.js';

/** `pvault log generate` and `pvault verify`, end to end through files on disk. */

function collector() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s) }, out, err };
}

let dir: string;
let file: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pvault-grants-'));
  file = join(dir, 'log.json');
  const c = collector();
  expect(await generate(['--entries', '80', '--out', file, '--seed', 'cli-test'], c.io)).toBe(0);
  expect(c.out.join('\n')).toMatch(/wrote 80 entries of vault [A-Za-z0-9_-]{43}/);
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('pvault log generate / pvault verify', () => {
  it('verifies a generated log: exit 0, and --json prints the verdict', async () => {
    const text = collector();
    expect(await verifyCommand([file], text.io)).toBe(0);
    expect(text.out.join('\n')).toMatch(/: valid\n/);
    const json = collector();
    expect(await verifyCommand([file, '--json'], json.io)).toBe(0);
    const verdict = JSON.parse(json.out.join('')) as { valid: boolean; size: number; grants: unknown[]; devices: unknown[] };
    expect(verdict).toMatchObject({ valid: true, size: 80 });
    expect(verdict.grants.length).toBeGreaterThan(0);
  });

  it('runs through the pvault dispatcher as `pvault log generate` and `pvault verify`', async () => {
    const other = join(dir, 'other.json');
    const c = collector();
    expect(await main(['log', 'generate', '--entries', '12', '--out', other], c.io)).toBe(0);
    expect(await main(['verify', other], c.io)).toBe(0);
  }, 60_000);

  it('exits 1 with each problem\u2019s code and entry when one byte of an entry is changed', async () => {
    const bytes = await readFile(file);
    const text = bytes.toString('utf8');
    // Change one character inside the 5th entry's signature.
    const at = text.indexOf('"s":"', text.indexOf('"h":"', text.indexOf('"entries":[') + 4 * 300)) + 10;
    const changed = Buffer.from(bytes);
    changed[at] = changed[at] === 0x41 ? 0x42 : 0x41;
    const tampered = join(dir, 'tampered.json');
    await writeFile(tampered, changed);
    const c = collector();
    expect(await verifyCommand([tampered], c.io)).toBe(1);
    expect(c.out.join('\n')).toMatch(/INVALID/);
    expect(c.out.join('\n')).toMatch(/BAD_SIGNATURE [A-Za-z0-9_-]{43} /);
    const json = collector();
    expect(await verifyCommand([tampered, '--json'], json.io)).toBe(1);
    const verdict = JSON.parse(json.out.join('')) as { valid: boolean; problems: { code: string; entry: string }[] };
    expect(verdict.valid).toBe(false);
    expect(verdict.problems.some((p) => p.code === 'BAD_SIGNATURE' && /^[A-Za-z0-9_-]{43}$/.test(p.entry))).toBe(true);
  });

  it('judges expiry at --now: the guardian\u2019s and short grants are live early, gone later', async () => {
    const early = collector();
    const late = collector();
    const nowIso = new Date().toISOString();
    await verifyCommand([file, '--json', '--now', nowIso], early.io);
    await verifyCommand([file, '--json', '--now', new Date(Date.now() + 5 * 365 * 86_400_000).toISOString()], late.io);
    const grantsEarly = (JSON.parse(early.out.join('')) as { grants: unknown[] }).grants.length;
    const grantsLate = (JSON.parse(late.out.join('')) as { grants: unknown[] }).grants.length;
    expect(grantsLate).toBeLessThan(grantsEarly);
  });

  it('exits 1 on an unreadable file with its code: truncated, too large, missing, not a log', async () => {
    const bytes = await readFile(file);
    const cut = join(dir, 'cut.json');
    await writeFile(cut, bytes.subarray(0, bytes.length >> 1));
    const c1 = collector();
    expect(await verifyCommand([cut], c1.io)).toBe(1);
    expect(c1.err.join('\n')).toMatch(/\[TRUNCATED\]/);
    const huge = join(dir, 'huge.json');
    await writeFile(huge, '');
    await truncate(huge, 100 * 1024 * 1024);
    const c2 = collector();
    expect(await verifyCommand([huge, '--json'], c2.io)).toBe(1);
    expect(JSON.parse(c2.out.join(''))).toMatchObject({ valid: false, error: { code: 'FILE_TOO_LARGE' } });
    const c3 = collector();
    expect(await verifyCommand([join(dir, 'missing.json')], c3.io)).toBe(1);
    expect(c3.err.join('\n')).toMatch(/ENOENT/);
    const notLog = join(dir, 'not-a-log.json');
    await writeFile(notLog, '{"hello":"world"}');
    const c4 = collector();
    expect(await verifyCommand([notLog], c4.io)).toBe(1);
    expect(c4.err.join('\n')).toMatch(/\[BAD_FORMAT\]/);
  });

  it('exits 2 on wrong usage', async () => {
    const c = collector();
    expect(await verifyCommand([], c.io)).toBe(2);
    expect(await verifyCommand([file, file], c.io)).toBe(2);
    expect(await verifyCommand([file, '--now', 'tomorrow'], c.io)).toBe(2);
    expect(await verifyCommand([file, '--bogus'], c.io)).toBe(2);
    expect(await generate(['--entries', '5', '--out', join(dir, 'x.json')], c.io)).toBe(2);
    expect(await generate(['--entries', 'ten', '--out', join(dir, 'x.json')], c.io)).toBe(2);
    expect(await generate(['--entries', '20'], c.io)).toBe(2);
    expect(await generate(['--out', join(dir, 'x.json')], c.io)).toBe(2);
    expect(c.err.join('\n')).toMatch(/--help/);
  });

  it('exits 1 when the output cannot be written', async () => {
    const c = collector();
    expect(await generate(['--entries', '10', '--out', join(dir, 'no-such-dir', 'log.json')], c.io)).toBe(1);
    expect(c.err.join('\n')).toMatch(/cannot write/);
  }, 60_000);
});
