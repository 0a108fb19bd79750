/**
 * Command-line parsing for subcommands, on `node:util` parseArgs, with a usage error that names
 * the bad flag.
 * @module
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

export type { ParseArgsConfig };

import { HubbubError } from '@hubbub/kernel';

export class UsageError extends HubbubError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('CLI_USAGE', message, options);
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends Options>(
  args: string[],
  options: O,
  allowPositionals = true,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: boolean; strict: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err), { cause: err });
  }
}
