/** What a command writes to; tests pass collectors, the shim passes the process streams. */
export interface CommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** One subcommand: parses its own argv and returns the exit code. */
export type Command = (argv: string[], io: CommandIo) => Promise<number>;

/** Exit codes of every pvault command (ARCHITECTURE.md "Command line"). */
export const EXIT_OK = 0;
export const EXIT_BAD_INPUT = 1;
export const EXIT_USAGE = 2;

/** Thrown by argument parsing: reported with the command's usage and exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
