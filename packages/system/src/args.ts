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
    throw new UsageError(usageMessage(err, options), { cause: err });
  }
}

/** Says what `parseArgs` refused in the CLI's words, naming the flag, instead of Node's text. */
function usageMessage(err: unknown, options: Options): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  const named = /'(-{1,2}[^' <=]+)/.exec(message)?.[1] ?? /'([^']+)'/.exec(message)?.[1] ?? '';
  const flags = Object.keys(options)
    .map((name) => `--${name}`)
    .join(', ');
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${named}': this command takes ${flags} (see --help)`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const type = options[named.replace(/^-+/, '')]?.type;
      return type === 'boolean' ? `${named} takes no value` : `${named} needs a value: ${named} VALUE`;
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument '${named}': this command takes no arguments, only ${flags}`;
    default:
      return message;
  }
}
