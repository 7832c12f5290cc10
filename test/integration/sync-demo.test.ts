import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeLogFile, verifyLogFile } from '../../src/grants/index.js';

const PVAULT = join(import.meta.dirname, '..', '..', 'bin', 'pvault.js');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [PVAULT, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('pvault demo: relay, patient and provider as real processes over loopback', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('runs the share/revoke story and writes a report and a provider log that verifies', { timeout: 180_000 }, async () => {
    const out = await mkdtemp(join(tmpdir(), 'pvault-demo-'));
    dirs.push(out);
    const result = await run(['demo', '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/The provider got the new lab/);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as {
      ok: boolean;
      steps: { step: string; ms: number }[];
      counts: Record<string, unknown> & { providerRecordsAfterShare: { labs: { records: number } }; providerRecordsAfterNewLab: { labs: { records: number } }; providerRecordsAfterRevoke: { labs: { records: number } }; receipts: number };
    };
    expect(report.ok).toBe(true);
    expect(report.steps.map((s) => s.step)).toEqual(expect.arrayContaining(['share', 'pull', 'receipts', 'revoke', 'pull-after-revoke', 'export-log']));
    const { providerRecordsAfterShare: a, providerRecordsAfterNewLab: b, providerRecordsAfterRevoke: c } = report.counts;
    expect(b.labs.records).toBe(a.labs.records + 1);
    expect(c.labs.records).toBe(b.labs.records);
    expect(report.counts.receipts).toBeGreaterThanOrEqual(2);

    // The provider's log: valid, its own grant revoked, and the patient's other grant not visible to it.
    const file = decodeLogFile(await readFile(join(out, 'provider-log.json')));
    const { verdict } = await verifyLogFile(file, { now: Date.now() });
    expect(verdict.valid).toBe(true);
    expect(verdict.grants).toEqual([]);
    expect(verdict.withheld).toBeGreaterThanOrEqual(1);
    const verify = await run(['verify', join(out, 'provider-log.json')]);
    expect(verify.code).toBe(0);
  });

  it('refuses to run without --out (exit 2)', async () => {
    const result = await run(['demo']);
    expect(result.code).toBe(2);
  });
});
