import { timeline } from '../../../src/records/index.js';
import { parseCommandArgs } from '../args.js';
import { EXIT_OK, UsageError, type Command } from '../io.js';
import { PASSPHRASE_ENV } from '../passphrase.js';
import { openRecords, reportError, scopeFlags, vaultDir } from './records-vault.js';

const HELP = `Usage: pvault records --vault DIR [--type T]… [--scope S]… [--json]

Lists the vault's records, newest first (records without a date last): date, scope, type,
a short description and the record's key. Read from the vault's sealed index.

Options:
  --vault DIR      the vault (required)
  --type T         only resources of FHIR type T, e.g. Observation (repeatable)
  --scope S        only scope S (repeatable)
  --json           print a JSON array of index lines instead of a table
  -h, --help       show this help

The passphrase comes from ${PASSPHRASE_ENV}, else it is asked on the terminal without echo.
Exit codes: 0 ok, 1 bad input or data, 2 wrong usage.
`;

/** `pvault records --vault DIR [--type T] [--scope S] [--json]`. */
export const run: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, {
    vault: { type: 'string' },
    type: { type: 'string', multiple: true },
    scope: { type: 'string', multiple: true },
    json: { type: 'boolean' },
  });
  if (values.help === true) {
    io.stdout(HELP);
    return EXIT_OK;
  }
  const dir = vaultDir(values.vault);
  const scopes = scopeFlags(values.scope);
  const types = values.type !== undefined && values.type.length > 0 ? values.type : undefined;
  // FHIR type names are case-sensitive: '--type observation' would silently list nothing.
  for (const t of types ?? []) if (!/^[A-Z][A-Za-z]{1,63}$/.test(t)) throw new UsageError(`--type expects a FHIR resource type such as Observation, got '${t}'`);
  let records;
  try {
    records = await openRecords(dir);
  } catch (error) {
    return reportError(io, 'records', dir, error);
  }
  try {
    const lines = timeline(records.store, { ...(scopes ? { scopes } : {}), ...(types ? { types } : {}) });
    if (values.json === true) {
      io.stdout(JSON.stringify(lines, null, 2));
      return EXIT_OK;
    }
    if (lines.length === 0) {
      io.stdout('no records');
      return EXIT_OK;
    }
    const rows = lines.map((l) => {
      const flags = [l.conflict ? 'CONFLICT' : '', l.restricted ? 'restricted' : '', l.verified ? 'verified' : ''].filter(Boolean).join(',');
      const value = l.value ? ` = ${l.value.value}${l.value.code ?? l.value.unit ? ` ${l.value.code ?? l.value.unit}` : ''}` : '';
      return [l.date?.slice(0, 10) ?? '—', l.scope, l.type, `${(l.display ?? codeText(l.system, l.code)).slice(0, 48)}${value}`, l.key, flags];
    });
    const widths = [10, 13, 20, 60];
    io.stdout(
      [
        `${lines.length} record${lines.length === 1 ? '' : 's'}`,
        ...rows.map((r) => r.map((cell, i) => (i < widths.length ? cell.padEnd(widths[i]!) : cell)).join('  ').trimEnd()),
      ].join('\n'),
    );
    return EXIT_OK;
  } catch (error) {
    return reportError(io, 'records', dir, error);
  } finally {
    await records.close();
  }
};

/** Code systems a reader recognises by name (FHIR R4 terminology page, "External code systems"). */
const SYSTEM_NAMES: Record<string, string> = {
  'http://loinc.org': 'LOINC',
  'http://snomed.info/sct': 'SNOMED CT',
  'http://hl7.org/fhir/sid/cvx': 'CVX',
  'http://www.nlm.nih.gov/research/umls/rxnorm': 'RxNorm',
  'http://hl7.org/fhir/sid/icd-10-cm': 'ICD-10-CM',
  'http://hl7.org/fhir/sid/icd-10': 'ICD-10',
  'http://unitsofmeasure.org': 'UCUM',
};

/**
 * What to show for a record whose code has no display text (health cards leave it out, e.g. an
 * Immunization with CVX 207 only): the code and its system, so the line is not blank.
 */
function codeText(system: string | undefined, code: string | undefined): string {
  if (code === undefined) return '';
  if (system === undefined) return code;
  return `${SYSTEM_NAMES[system] ?? system} ${code}`;
}
