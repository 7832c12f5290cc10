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
