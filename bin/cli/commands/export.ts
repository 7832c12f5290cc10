import { rename, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { RecordStoreError, SENSITIVE_SCOPES, exportBundle, exportIps } from '../../../src/records/index.js';
import { parseCommandArgs } from '../args.js';
import { EXIT_BAD_INPUT, EXIT_OK, UsageError, type Command } from '../io.js';
import { PASSPHRASE_ENV } from '../passphrase.js';
import { openRecords, reportError, scopeFlags, vaultDir } from './records-vault.js';

const HELP = `Usage: pvault export --vault DIR [--scope S]… [--ips [--patient REF]] --out FILE

Writes the vault's records as one FHIR R4 JSON file.

Without --ips: a Bundle of type collection with every record (or those of the --scope scopes),
exactly as imported, attachments included. Importing it again — here or into another vault —
gives back the same records.
With --ips: an International Patient Summary, a Bundle of type document (HL7 IPS): Composition,
Patient, medications, allergies, problems, immunizations, procedures, latest results and vital
signs. It draws on the non-sensitive scopes unless --scope names others
(sensitive: ${SENSITIVE_SCOPES.join(', ')}), and leaves out records their producer marked restricted.
A summary is about one patient: if the vault holds several Patients, say which with --patient.

Options:
  --vault DIR      the vault (required)
  --scope S        export only scope S (repeatable)
  --ips            write an International Patient Summary instead of everything
  --patient REF    with --ips: the Patient the summary is about, by its key as
                   'pvault records --type Patient' lists it (Patient/…), or by the id
                   it had in the file it was imported from
  --out FILE       where to write the JSON (required; replaced if it exists)
  -h, --help       show this help

The passphrase comes from ${PASSPHRASE_ENV}, else it is asked on the terminal without echo.
Exit codes: 0 written, 1 bad input or data (e.g. no Patient for an IPS, or several and no
--patient, or a --patient that names none of them), 2 wrong usage.
`;

/** `pvault export --vault DIR [--scope S…] [--ips [--patient REF]] --out FILE`. */
export const run: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, {
    vault: { type: 'string' },
    scope: { type: 'string', multiple: true },
    ips: { type: 'boolean' },
    out: { type: 'string' },
    patient: { type: 'string' },
  });
  if (values.help === true) {
    io.stdout(HELP);
    return EXIT_OK;
  }
  const dir = vaultDir(values.vault);
  if (values.out === undefined || values.out.length === 0) throw new UsageError('--out FILE is required');
  const out = resolve(values.out);
  const scopes = scopeFlags(values.scope);
  const patient = values.patient;
  if (patient !== undefined && values.ips !== true) throw new UsageError('--patient REF chooses the patient of an --ips summary; give it with --ips');
  if (patient?.trim() === '') throw new UsageError('--patient needs a Patient key (Patient/…)');

  let records;
  try {
    records = await openRecords(dir);
  } catch (error) {
    return reportError(io, 'export', dir, error);
  }
  try {
    const now = new Date();
    const bundle =
      values.ips === true
        ? await exportIps(records.store, { now, ...(scopes ? { scopes } : {}), ...(patient !== undefined ? { patient: patient.trim() } : {}) })
        : await exportBundle(records.store, { now, ...(scopes ? { scopes } : {}) });
    // Write then rename: an interrupted export never leaves a half-written file under the name.
    const tmp = `${out}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, `${JSON.stringify(bundle)}\n`, { mode: 0o600 });
      await rename(tmp, out);
    } catch (error) {
      await rm(tmp, { force: true });
      const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
      io.stderr(`pvault export: ${out}: cannot write it (${code}) [FILE_UNWRITABLE]`);
      return EXIT_BAD_INPUT;
    }
    const count = bundle.entry?.length ?? 0;
    io.stdout(
      values.ips === true
        ? `wrote an International Patient Summary (${count} entries) to ${out}`
        : `wrote ${count} record${count === 1 ? '' : 's'}${scopes ? ` of ${scopes.join(', ')}` : ''} to ${out}`,
    );
    return EXIT_OK;
  } catch (error) {
    const code = reportError(io, 'export', dir, error);
    if (error instanceof RecordStoreError && error.code === 'AMBIGUOUS_PATIENT') {
      io.stderr(
        patient === undefined
          ? `Choose one with --patient KEY ('pvault records --vault ${dir} --type Patient' lists them).`
          : "--patient takes a key as 'pvault records --type Patient' lists it (Patient/…), or the Patient's id in the file it was imported from.",
      );
    }
    return code;
  } finally {
    await records.close();
  }
};
