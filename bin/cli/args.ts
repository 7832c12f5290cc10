import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './io.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Strict argument parsing (node:util parseArgs): unknown flags and missing values are usage
 * errors (exit 2), never guessed at.
 */
export function parseCommandArgs<O extends Options>(argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (cause) {
    throw new UsageError(cause instanceof Error ? cause.message : 'bad arguments');
  }
}
