import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { generateIdentity } from '../../../src/crypto/index.js';
import { generatePatientBundle } from '../../../test/fixtures/generator.js';
import { parseCommandArgs } from '../args.js';
import { EXIT_BAD_INPUT, EXIT_OK, UsageError, type Command, type CommandIo } from '../io.js';
import { main } from '../main.js';

const HELP = `Usage: pvault demo --out DIR

Runs the whole story on this machine with real processes over loopback: a relay, a patient node
and a provider node (each 'pvault relay' / 'pvault node --control'). The patient imports a generated
synthetic record, invites the provider, approves, shares summary and labs for 30 days; the provider
receives and verifies; the patient adds a lab and the provider gets it; the patient reads the
access receipts; the patient revokes and the next lab does not reach the provider.

Writes DIR/report.json (steps, timings, counts) and DIR/provider-log.json (the log as the provider
holds it; 'pvault verify DIR/provider-log.json' accepts it, and it shows the provider none of the
patient's other grants). All data is synthetic.

Exit codes: 0 the story ran as described, 1 a step did not, 2 wrong usage.
`;

const PVAULT = fileURLToPath(new URL('../../pvault.js', import.meta.url));
const PASSPHRASE = 'demo passphrase (synthetic data only)';

interface Step {
  step: string;
  ms: number;
  detail: Record<string, unknown>;
}

/** A child process speaking the JSON-lines control protocol of `pvault node --control`. */
class Controlled {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  readonly ready: Promise<Record<string, unknown>>;

  constructor(readonly name: string, readonly child: ChildProcessWithoutNullStreams) {
    let onReady!: (v: Record<string, unknown>) => void;
    this.ready = new Promise((res, rej) => {
      onReady = res;
      child.once('exit', (code) => rej(new Error(`${name} exited with ${code}`)));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (message.event === 'ready') onReady(message);
      const waiter = typeof message.id === 'number' ? this.pending.get(message.id) : undefined;
      if (!waiter) return;
      this.pending.delete(message.id as number);
      if (message.ok === true) waiter.resolve(message.result as Record<string, unknown>);
      else waiter.reject(new Error(`${name}: ${JSON.stringify(message.error)}`));
    });
  }

  send(cmd: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin.write(`${JSON.stringify({ id, cmd, ...args })}\n`);
    });
  }
}

function startRelay(): Promise<{ child: ChildProcessWithoutNullStreams; tcp: string }> {
  const child = spawn(process.execPath, [PVAULT, 'relay', '--port', '0', '--host', '127.0.0.1']);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('mailbox ')) {
        const tcp = out.split('\n').find((l) => l.startsWith('/') && !l.includes('/ws'));
        if (tcp) resolve({ child, tcp });
        else reject(new Error('the relay printed no TCP address'));
      }
    });
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}`)));
  });
}

function startNode(name: string, dir: string, relay: string): Controlled {
  const child = spawn(process.execPath, [PVAULT, 'node', '--vault', dir, '--create', '--relay', relay, '--control'], {
    env: { ...process.env, PVAULT_PASSPHRASE: PASSPHRASE },
  });
  child.stderr.resume();
  return new Controlled(name, child);
}

function stop(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A new synthetic lab result (serum glucose, LOINC 2345-7) as its own FHIR file. */
function newLab(n: number): Record<string, unknown> {
  return {
    resourceType: 'Observation',
    id: `demo-new-lab-${n}`,
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory', display: 'Laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose [Mass/volume] in Serum or Plasma' }], text: 'Glucose' },
    effectiveDateTime: new Date(Date.UTC(2025, 6, n, 8)).toISOString(),
    valueQuantity: { value: 90 + n, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  };
}

/** `pvault demo --out DIR`. */
export const run: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, { out: { type: 'string' } });
  if (values.help === true) {
    io.stdout(HELP);
    return EXIT_OK;
  }
  if (values.out === undefined || values.out.length === 0) throw new UsageError('--out DIR is required');
  const out = resolve(values.out);
  await mkdir(out, { recursive: true });
  const work = await mkdtemp(join(out, 'run-'));
  const steps: Step[] = [];
  const say = (text: string) => io.stdout(text);
  const children: ChildProcessWithoutNullStreams[] = [];
  try {
    const time = async (step: string, words: string, fn: () => Promise<Record<string, unknown>>) => {
      const start = performance.now();
      const detail = await fn();
      const ms = Math.round(performance.now() - start);
      steps.push({ step, ms, detail });
      say(`${words} (${ms} ms)`);
      return detail;
    };
    const relay = await time('relay', 'Started the relay', async () => {
      const r = await startRelay();
      children.push(r.child);
      return { address: r.tcp };
    });
    const relayAddress = String(relay.address);
    const patient = startNode('patient', join(work, 'patient'), relayAddress);
    const provider = startNode('provider', join(work, 'provider'), relayAddress);
    children.push(patient.child, provider.child);
    const [patientReady, providerReady] = await time('nodes', 'Started the patient node and the provider node (each its own process)', async () => {
      const ready = await Promise.all([patient.ready, provider.ready]);
      return { patient: ready[0].did, provider: ready[1].did };
    }).then((d) => [d.patient, d.provider]);

    const { vault } = await time('create-vault', 'The patient created a vault', () => patient.send('create-vault', { label: 'demo patient' }));
    const { bundle } = generatePatientBundle({ resources: 120, seed: 42, attachmentEvery: 0 });
    const bundleFile = join(work, 'record.json');
    await writeFile(bundleFile, JSON.stringify(bundle));
    const imported = await time('import', 'The patient imported a generated synthetic record', () => patient.send('import', { file: bundleFile }));
    const { invitation } = await time('invite', 'The patient made a one-time invitation (QR-sized)', () => patient.send('invite'));
    const shared = await time('share', 'The provider redeemed it; the patient approved summary and labs for 30 days; the provider received and verified', async () => {
      const [redeemed, approved] = await Promise.all([
        provider.send('redeem', { invitation, name: 'Example Clinic', scopes: ['summary', 'labs'], days: 30 }),
        patient.send('approve-next', { scopes: ['summary', 'labs'], days: 30 }),
      ]);
      return { ...redeemed, grant: approved.grant, invitationChars: String(invitation).length };
    });
    const grant = String(shared.grant);
    const before = await provider.send('records', { vault });
    // Another grant the provider must not learn about: to a second, synthetic party.
    await patient.send('grant', { grantee: generateIdentity().did, scopes: ['labs'], days: 7 });

    const lab1 = join(work, 'new-lab-1.json');
    await writeFile(lab1, JSON.stringify(newLab(1)));
    await time('add-lab', 'The patient added a lab', () => patient.send('import', { file: lab1 }));
    const afterAdd = await time('pull', 'The provider got the new lab', async () => ({ ...(await provider.send('pull', { vault })), records: (await provider.send('records', { vault })).stats }));
    const trail = await time('receipts', 'The patient read the access receipts', () => patient.send('trail'));
    const revoked = await time('revoke', 'The patient revoked the grant (keys rotated; copied data cannot be recalled)', () => patient.send('revoke', { grant }));
    const lab2 = join(work, 'new-lab-2.json');
    await writeFile(lab2, JSON.stringify(newLab(2)));
    await time('add-lab-after-revoke', 'The patient added another lab', () => patient.send('import', { file: lab2 }));
    const afterRevoke = await time('pull-after-revoke', 'The provider tried again and got nothing new', async () => ({
      ...(await provider.send('pull', { vault })),
      records: (await provider.send('records', { vault })).stats,
    }));
    const logFile = join(out, 'provider-log.json');
    const exported = await time('export-log', 'The provider exported the log as it holds it', () => provider.send('export-log', { vault, out: logFile }));
    const verifyOut: string[] = [];
    const verifyIo: CommandIo = { stdout: (t) => verifyOut.push(t), stderr: (t) => verifyOut.push(t) };
    const verifyExit = await main(['verify', logFile, '--json'], verifyIo);
    const verdict = JSON.parse(verifyOut.join('')) as { valid: boolean; grants: unknown[]; withheld: number };
    say(`pvault verify ${logFile}: ${verdict.valid ? 'valid' : 'INVALID'}, ${verdict.withheld} bodies withheld from the provider`);

    const labs = (s: unknown) => ((s as Record<string, { records: number }>).labs?.records ?? 0);
    const ok =
      verifyExit === 0 &&
      verdict.valid &&
      labs(afterAdd.records) === labs(before.stats) + 1 &&
      labs(afterRevoke.records) === labs(afterAdd.records) &&
      (afterRevoke.scopes as unknown[]).length === 0 &&
      (trail.receipts as unknown[]).length >= 2;
    const report = {
      ok,
      patient: patientReady,
      provider: providerReady,
      vault,
      steps,
      counts: {
        imported: imported.imported,
        providerRecordsAfterShare: before.stats,
        providerRecordsAfterNewLab: afterAdd.records,
        providerRecordsAfterRevoke: afterRevoke.records,
        receipts: (trail.receipts as unknown[]).length,
        rotated: revoked.rotated,
        providerLogEntries: exported.entries,
        providerLogWithheldBodies: exported.withheld,
        verify: { exit: verifyExit, valid: verdict.valid },
      },
      notice: revoked.notice,
    };
    await writeFile(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    say(ok ? `Done: ${join(out, 'report.json')} and ${logFile}` : 'The story did not run as described; see report.json');
    await Promise.all([patient.send('stop').catch(() => undefined), provider.send('stop').catch(() => undefined)]);
    return ok ? EXIT_OK : EXIT_BAD_INPUT;
  } catch (error) {
    const message = error instanceof Error ? error.message : 'failed';
    io.stderr(`pvault demo: a step failed: ${message}`);
    await writeFile(join(out, 'report.json'), `${JSON.stringify({ ok: false, failed: message, steps }, null, 2)}\n`);
    return EXIT_BAD_INPUT;
  } finally {
    await Promise.all(children.map(stop));
  }
};
