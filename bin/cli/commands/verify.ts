import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { GrantsError, MAX_LOG_FILE_BYTES, decodeLogFile, verifyLogFile, type Verdict } from '../../../src/grants/index.js';
import { parseCommandArgs } from '../args.js';
import { EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE, UsageError, type CommandIo } from '../io.js';

const HELP = `Usage: pvault verify FILE [--now ISO] [--json]

Verifies a grant log export file (docs/log-format.md): every signature, hash link and sequence
number, the authority behind every entry, equivocations, tree heads and forks; then lists the
devices, delegations and grants live at --now. Bodies withheld from the file's holder are fine.

Options:
  --now ISO     the moment to judge expiries at, e.g. 2026-01-31T12:00:00Z (default: now)
  --json        print the verdict as JSON
  -h, --help    show this help

Exit codes: 0 valid, 1 invalid or unreadable (each problem's code and entry is printed), 2 wrong usage.
`;

/** ISO 8601 date or date-time (with seconds, fraction and zone optional). */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(T(\d{2}):(\d{2})(:(\d{2})(\.\d{1,9})?)?(Z|[+-](\d{2}):(\d{2}))?)?$/;

function parseNow(text: string | undefined): number {
  if (text === undefined) return Date.now();
  const m = ISO.exec(text);
  // Date.parse rolls impossible dates over (2026-02-30 → March 2, 24:00 → the next day): a
  // verdict judged at a moment the user did not write. Each field must be in its calendar range.
  const [year, month, day] = [Number(m?.[1]), Number(m?.[2]), Number(m?.[3])];
  const inRange =
    m !== null &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= new Date(Date.UTC(year, month, 0)).getUTCDate() &&
    Number(m[5] ?? 0) <= 23 &&
    Number(m[6] ?? 0) <= 59 &&
    Number(m[8] ?? 0) <= 59 &&
    Number(m[11] ?? 0) <= 23 &&
    Number(m[12] ?? 0) <= 59;
  const ms = inRange ? Date.parse(text) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 0) throw new UsageError('--now expects an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z');
  return ms;
}

function iso(ms: number | null): string {
  return ms === null ? 'never' : new Date(ms).toISOString();
}

function report(file: string, verdict: Verdict): string {
  const lines = [
    `${file}: ${verdict.valid ? 'valid' : `INVALID (${verdict.problems.length} problem${verdict.problems.length === 1 ? '' : 's'})`}`,
    `  vault ${verdict.vault}: ${verdict.size} entries (${verdict.withheld} bodies withheld), ${verdict.heads.length} head(s), tree root ${verdict.tree.root} at size ${verdict.tree.size}`,
    `  at ${iso(verdict.now)}: ${verdict.devices.length} live device(s) incl. subject, ${verdict.delegations.length} delegation(s), ${verdict.grants.length} live grant(s)`,
  ];
  for (const g of verdict.grants.slice(0, 20)) {
    lines.push(`    grant ${g.entry} → ${g.grantee}: ${g.scopes.join(',')} (${g.actions.join(',')}, ${g.purpose}) until ${iso(g.expires)}${g.as === 'guardian' ? ' [by guardian]' : ''}`);
  }
  if (verdict.grants.length > 20) lines.push(`    … and ${verdict.grants.length - 20} more (--json lists all)`);
  for (const p of verdict.protections) lines.push(`  dependent-only from ${iso(p.from)}: ${p.scopes.join(',')}`);
  for (const e of verdict.emergencies) lines.push(`  emergency request ${e.request} by ${e.contact}: ${e.state} (opens ${iso(e.opensAt)}; ${e.scopes.join(',')})`);
  if (verdict.equivocations.length > 0) lines.push(`  equivocations: ${verdict.equivocations.map((e) => `${e.author} at seq ${e.seq}`).join('; ')}`);
  if (verdict.forks.length > 0) lines.push(`  forks: ${verdict.forks.map((f) => `${f.signer} at size ${f.size}`).join('; ')}`);
  if (verdict.undetermined.length > 0) lines.push(`  ${verdict.undetermined.length} entr${verdict.undetermined.length === 1 ? 'y' : 'ies'} whose authority rests on withheld bodies (no effect here)`);
  // Causes before consequences: tree heads that no longer match (the log lost entries) and entries
  // refused only because a parent was refused come last, so a tampered signature is the first line
  // a reader sees, not the 300th.
  const consequence = (code: string) => (code === 'MISSING_PARENT' ? 2 : code === 'TREE_HEAD_MISMATCH' ? 1 : 0);
  const problems = [...verdict.problems].sort((a, b) => consequence(a.code) - consequence(b.code));
  for (const p of problems) lines.push(`  ${p.code} ${p.entry ?? '-'} ${p.message}${p.related ? ` [${p.related.join(', ')}]` : ''}`);
  return lines.join('\n');
}

/** `pvault verify FILE [--now ISO] [--json]`: verifies an export file of a grant log. */
export async function run(argv: string[], io: CommandIo): Promise<number> {
  let file: string;
  let now: number;
  let json: boolean;
  try {
    const { values, positionals } = parseCommandArgs(argv, { now: { type: 'string' }, json: { type: 'boolean' } }, true);
    if (values.help === true) {
      io.stdout(HELP);
      return EXIT_OK;
    }
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'FILE is required' : 'exactly one FILE is verified at a time');
    file = resolve(positionals[0]!);
    now = parseNow(values.now);
    json = values.json === true;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`pvault verify: ${error.message}\nRun 'pvault verify --help' for usage.`);
      return EXIT_USAGE;
    }
    throw error;
  }
  const fail = (code: string, message: string): number => {
    if (json) io.stdout(JSON.stringify({ valid: false, error: { code, message } }, null, 2));
    io.stderr(`pvault verify: ${message} [${code}]`);
    return EXIT_BAD_INPUT;
  };
  let bytes: Uint8Array;
  try {
    // Refuse an oversized file before reading any of it.
    const info = await stat(file);
    if (!info.isFile()) return fail('BAD_FORMAT', `${file} is not a file`);
    if (info.size > MAX_LOG_FILE_BYTES) return fail('FILE_TOO_LARGE', `${file} is larger than ${MAX_LOG_FILE_BYTES} bytes`);
    bytes = new Uint8Array(await readFile(file));
  } catch (error) {
    return fail('UNREADABLE', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'read failed'}`);
  }
  let verdict: Verdict;
  try {
    verdict = (await verifyLogFile(decodeLogFile(bytes), { now })).verdict;
  } catch (error) {
    if (error instanceof GrantsError) return fail(error.code, error.message);
    throw error;
  }
  io.stdout(json ? JSON.stringify(verdict, null, 2) : report(file, verdict));
  return verdict.valid ? EXIT_OK : EXIT_BAD_INPUT;
}
