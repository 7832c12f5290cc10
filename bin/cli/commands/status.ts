import { resolve } from 'node:path';
import { CURRENT_SCHEMA_VERSION, Vault, openLevelDbStorage } from '../../../src/store/index.js';
import { DEFAULT_KDF_COST, kdfNeedsUpgrade } from '../../../src/crypto/index.js';
import { parseCommandArgs } from '../args.js';
import { EXIT_BAD_INPUT, EXIT_OK, UsageError, type Command } from '../io.js';
import { PASSPHRASE_ENV, readPassphrase } from '../passphrase.js';
import { reportBadInput } from './init.js';

const HELP = `Usage: pvault status --vault DIR [--check-passphrase] [--json]

Shows a vault's public header (schema version, creation time, KDF parameters, auto-lock), how
many sealed items it holds (storage entries: documents, indexes, keys — not health records, which
need the passphrase: 'pvault records' lists those), and — when a passphrase is given — whether it
opens the vault.
Nothing is written: migrations and KDF upgrades wait for a real unlock.

Options:
  --vault DIR            the vault (required)
  --check-passphrase     ask for the passphrase on the terminal if ${PASSPHRASE_ENV} is not set
  --json                 print one JSON object instead of text
  -h, --help             show this help

The passphrase is checked when ${PASSPHRASE_ENV} is set or --check-passphrase is given.
Exit codes: 0 ok, 1 bad input or data (no vault there, damaged, wrong passphrase), 2 wrong usage.
`;

/** `pvault status --vault DIR`: the public state of a vault, and whether a passphrase opens it. */
export const run: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, {
    vault: { type: 'string' },
    'check-passphrase': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help === true) {
    io.stdout(HELP);
    return EXIT_OK;
  }
  if (values.vault === undefined || values.vault.length === 0) throw new UsageError('--vault DIR is required');
  const dir = resolve(values.vault);
  const askTerminal = values['check-passphrase'] === true;
  try {
    const storage = await openLevelDbStorage(dir);
    try {
      const vault = await Vault.open(storage);
      const { header } = vault;
      const records = await vault.recordCount();
      const given = process.env[PASSPHRASE_ENV] !== undefined || askTerminal;
      const opens = given ? await vault.verifyPassphrase(await readPassphrase({ prompt: 'Vault passphrase: ' })) : undefined;
      const pending: string[] = [];
      if (header.schemaVersion < CURRENT_SCHEMA_VERSION) pending.push(`schema ${header.schemaVersion} → ${CURRENT_SCHEMA_VERSION} migration`);
      if (kdfNeedsUpgrade(header.kdf, DEFAULT_KDF_COST)) pending.push('KDF upgrade to the default cost');
      const report = {
        vault: dir,
        schemaVersion: header.schemaVersion,
        currentSchemaVersion: CURRENT_SCHEMA_VERSION,
        createdAt: new Date(header.createdAt).toISOString(),
        kdf: { algorithm: header.kdf.algorithm, memoryKiB: header.kdf.memoryKiB, iterations: header.kdf.iterations, parallelism: header.kdf.parallelism },
        autoLockMinutes: header.autoLockMs === null ? null : header.autoLockMs / 60_000,
        records,
        locked: opens !== true,
        passphrase: opens === undefined ? 'not-given' : opens ? 'opens' : 'wrong',
        pendingAtNextUnlock: pending,
      };
      if (values.json === true) {
        io.stdout(JSON.stringify(report, null, 2));
      } else {
        io.stdout(
          [
            `vault        ${dir}`,
            `schema       ${header.schemaVersion}${header.schemaVersion < CURRENT_SCHEMA_VERSION ? ` (this version writes ${CURRENT_SCHEMA_VERSION})` : ''}`,
            `created      ${report.createdAt}`,
            `kdf          ${header.kdf.algorithm}, ${header.kdf.memoryKiB} KiB, ${header.kdf.iterations} passes, parallelism ${header.kdf.parallelism}`,
            `auto-lock    ${header.autoLockMs === null ? 'never' : `${report.autoLockMinutes} min idle`}`,
            `sealed items ${records} (storage entries, not health records; 'pvault records' lists those)`,
            `state        ${opens === true ? 'unlocked by the given passphrase (checked read-only; nothing written)' : 'locked'}`,
            `passphrase   ${opens === undefined ? `not checked (set ${PASSPHRASE_ENV} or pass --check-passphrase)` : opens ? 'opens this vault' : 'does NOT open this vault'}`,
            ...(pending.length > 0 ? [`next unlock  ${pending.join('; ')}`] : []),
          ].join('\n'),
        );
      }
      if (opens === false) {
        io.stderr(`pvault status: ${dir}: the passphrase does not open this vault [WRONG_PASSPHRASE]`);
        return EXIT_BAD_INPUT;
      }
      return EXIT_OK;
    } finally {
      await storage.close();
    }
  } catch (error) {
    return reportBadInput(io, 'status', dir, error);
  }
};
