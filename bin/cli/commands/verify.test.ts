import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../main.js';

async function verify(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['verify', ...argv], { stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

// Files are generated and verified end to end in test/integration/grants-cli.test.ts; these are
// the argument checks, which come before any file is read (so no file is needed).
describe('pvault verify --now', () => {
  it.each([
    ['a day past the end of its month', '2026-02-30T00:00:00Z'],
    ['29 February of a common year', '2026-02-29'],
    ['month 13', '2026-13-01'],
    ['hour 24', '2026-01-31T24:00:00Z'],
    ['minute 60', '2026-01-31T12:60Z'],
    ['a zone offset of 25 hours', '2026-01-31T12:00:00+25:00'],
    ['a space instead of T', '2026-01-31 12:00'],
    ['words', 'yesterday'],
  ])('refuses %s as wrong usage (exit 2), before reading the file', async (_what, now) => {
    const r = await verify('/nonexistent/log.json', '--now', now);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^pvault verify: --now expects an ISO 8601 date-time, e\.g\. 2026-01-31T12:00:00Z\n/);
  });

  it.each([['2028-02-29'], ['2026-01-31T12:00Z'], ['2026-01-31T23:59:59.999+14:00'], ['2026-12-31T00:00:00-12:00']])(
    'takes %s and goes on to read the file (exit 1 for a missing one)',
    async (now) => {
      const r = await verify('/nonexistent/log.json', '--now', now);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/\[UNREADABLE\]$/);
    },
  );

  it('is wrong usage without a file or with two', async () => {
    expect((await verify()).code).toBe(2);
    expect((await verify('a.json', 'b.json')).code).toBe(2);
  });
});

describe('pvault verify FILE, a tampered log', () => {
  it('prints the cause (the bad signature) before its consequences (tree head, missing parents)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pv-verify-'));
    try {
      const file = join(dir, 'log.json');
      expect(await main(['log', 'generate', '--entries', '12', '--seed', 'verify-order', '--out', file], { stdout: () => undefined, stderr: () => undefined })).toBe(0);
      // Flip one bit of the second entry's signature (the genesis stays valid; later entries lose a parent).
      const log = JSON.parse(await readFile(file, 'utf8')) as { entries: { s: string }[] };
      const signature = Buffer.from(log.entries[1]!.s, 'base64url');
      signature[0]! ^= 0x01;
      log.entries[1]!.s = signature.toString('base64url');
      const tampered = join(dir, 'tampered.json');
      await writeFile(tampered, `${JSON.stringify(log)}\n`);
      const r = await verify(tampered);
      expect(r.code).toBe(1);
      const problems = r.stdout.split('\n').filter((l) => /^ {2}[A-Z_]+ /.test(l));
      expect(problems[0]).toMatch(/^ {2}BAD_SIGNATURE [A-Za-z0-9_-]{43} signature by did:key:z6Mk\w+ does not verify$/);
      expect(problems.map((l) => l.trim().split(' ')[0])).toContain('TREE_HEAD_MISMATCH');
      expect(problems.map((l) => l.trim().split(' ')[0])).toContain('MISSING_PARENT');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
