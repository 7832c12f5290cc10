import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  MAX_LOG_ENTRIES,
  MIN_SYNTHETIC_ENTRIES,
  encodeLogFile,
  exportLog,
  generateSyntheticLog,
} from '../../../src/grants/index.js';
import { parseCommandArgs } from '../args.js';
import { EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE, UsageError, type CommandIo } from '../io.js';

const HELP = `Usage: pvault log generate --entries N --out FILE [--seed TEXT]

Writes a synthetic but real grant log as an export file (docs/log-format.md): every entry is
signed by the real writer and verified as it is added. It has three devices (one removed), a
guardian whose delegation expires, an emergency contact (one request denied in time, one not),
grants by devices and by the guardian,
revocations, erasures, key rotations, consents and access receipts, spread over the last year.
Its parties' keys are derived from the seed: it holds no real data and no real key.

Options:
  --entries N     number of entries, ${MIN_SYNTHETIC_ENTRIES}..${MAX_LOG_ENTRIES} (required)
  --out FILE      where to write the export file (required)
  --seed TEXT     derives every key and choice (default: pvault-synthetic)
  -h, --help      show this help

Exit codes: 0 written, 1 the file could not be written, 2 wrong usage.
`;

const YEAR = 365 * 24 * 60 * 60 * 1000;

/** `pvault log generate --entries N --out FILE`: a synthetic, signed, verifiable grant log. */
export async function run(argv: string[], io: CommandIo): Promise<number> {
  let values;
  try {
    ({ values } = parseCommandArgs(argv, { entries: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' } }));
    if (values.help === true) {
      io.stdout(HELP);
      return EXIT_OK;
    }
    if (values.entries === undefined) throw new UsageError('--entries N is required');
    if (!/^[0-9]+$/.test(values.entries)) throw new UsageError('--entries expects a whole number');
    const n = Number(values.entries);
    if (n < MIN_SYNTHETIC_ENTRIES || n > MAX_LOG_ENTRIES) throw new UsageError(`--entries must be ${MIN_SYNTHETIC_ENTRIES}..${MAX_LOG_ENTRIES}`);
    if (values.out === undefined || values.out.length === 0) throw new UsageError('--out FILE is required');
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`pvault log generate: ${error.message}\nRun 'pvault log generate --help' for usage.`);
      return EXIT_USAGE;
    }
    throw error;
  }
  const entries = Number(values.entries);
  const out = resolve(values.out);
  const end = Date.now();
  const start = end - YEAR;
  const started = performance.now();
  const synthetic = await generateSyntheticLog({ entries, start, end, ...(values.seed === undefined ? {} : { seed: values.seed }) });
  const file = await exportLog(synthetic.log, { now: end, signer: synthetic.parties.devices[0]! });
  const bytes = encodeLogFile(file);
  try {
    await writeFile(out, bytes);
  } catch (error) {
    io.stderr(`pvault log generate: cannot write ${out}: ${(error as NodeJS.ErrnoException).code ?? 'write failed'}`);
    return EXIT_BAD_INPUT;
  }
  const c = synthetic.counts;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  io.stdout(
    [
      `wrote ${file.entries.length} entries of vault ${file.vault} to ${out} (${bytes.length} bytes, ${seconds} s)`,
      `  devices: 3 (1 removed); guardian delegation expiring ${new Date(synthetic.guardianExpires).toISOString()}; 1 emergency contact`,
      `  grants ${c.grant}, revocations ${c.revoke}, erasures ${c.erase}, key rotations ${c.rekey}, consents ${c.consent}, access receipts ${c.access}`,
      `  emergency requests ${c['emergency.request']} (denied: ${c['emergency.deny']})`,
      `  signed tree head: size ${file.entries.length}, by the first device`,
    ].join('\n'),
  );
  return EXIT_OK;
}
