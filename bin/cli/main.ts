import { EXIT_BAD_INPUT, EXIT_USAGE, UsageError, type Command, type CommandIo } from './io.js';

/**
 * Subcommands: name → loader. Each command module exports `run: Command`. Loaded lazily so that
 * `pvault --help` does not pay for libp2p or the FHIR definitions.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run: Command }> }> = {
  init: { summary: 'create an encrypted vault in a directory', load: () => import('./commands/init.js') },
  status: { summary: "show a vault's schema, KDF, record count and lock state", load: () => import('./commands/status.js') },
  relay: { summary: 'run the relay: circuit relay + store-and-forward mailbox', load: () => import('./commands/relay.js') },
  node: { summary: 'run a headless vault engine (patient or clinic)', load: () => import('./commands/node.js') },
  demo: { summary: 'run the whole share/revoke story with real processes', load: () => import('./commands/demo.js') },
  'log generate': { summary: 'write a synthetic, signed grant log export file', load: () => import('./commands/log-generate.js') },
  verify: { summary: 'verify a grant log export file', load: () => import('./commands/verify.js') },
  import: { summary: 'import FHIR R4 files and SMART Health Cards into a vault', load: () => import('./commands/import.js') },
  export: { summary: 'export records as a FHIR Bundle or an International Patient Summary', load: () => import('./commands/export.js') },
  records: { summary: "list a vault's records, newest first", load: () => import('./commands/records.js') },
};

const USAGE = () => `pvault — Patient Vault command line

Usage: pvault <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(14)} ${c.summary}`)
  .join('\n')}

Run 'pvault <command> --help' for a command's options.
Exit codes: 0 ok, 1 bad input or data, 2 wrong usage.
The passphrase comes from PVAULT_PASSPHRASE, else it is asked on the terminal without echo.
`;

const processIo: CommandIo = {
  stdout: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  stderr: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

/** Runs `pvault argv…` and returns its exit code. Two-word commands (`log generate`) are matched first. */
export async function main(argv: string[], io: CommandIo = processIo): Promise<number> {
  const [first, second] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    if (first === undefined) io.stderr(USAGE());
    else io.stdout(USAGE());
    return first === undefined ? EXIT_USAGE : 0;
  }
  const twoWord = second !== undefined ? `${first} ${second}` : undefined;
  const name = twoWord !== undefined && twoWord in COMMANDS ? twoWord : first;
  const command = COMMANDS[name];
  if (!command) {
    // `pvault log` alone, or `pvault log --help`: name the two-word command(s) it starts.
    const longer = Object.keys(COMMANDS).filter((n) => n.startsWith(`${first} `));
    if (longer.length > 0) io.stderr(`pvault ${first}: did you mean ${longer.map((n) => `'pvault ${n}'`).join(' or ')}?\nRun 'pvault ${longer[0]!} --help' for usage.`);
    else io.stderr(`pvault: unknown command '${first}'\n\n${USAGE()}`);
    return EXIT_USAGE;
  }
  const rest = argv.slice(name.split(' ').length);
  try {
    const { run } = await command.load();
    return await run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`pvault ${name}: ${error.message}\nRun 'pvault ${name} --help' for usage.`);
      return EXIT_USAGE;
    }
    // Every layer's errors carry a stable code and a message safe to show (no health data, no keys).
    if (error instanceof Error && typeof (error as { code?: unknown }).code === 'string') {
      io.stderr(`pvault ${name}: ${error.message} [${(error as Error & { code: string }).code}]`);
      return EXIT_BAD_INPUT;
    }
    throw error;
  }
}
