#!/usr/bin/env node
/**
 * The `hubbub` command. Each subcommand is a module in `commands/` named after it, exporting
 * `summary` (one line for the help) and `run(args)`; it is loaded only when invoked.
 * @module
 */
import { readdirSync } from 'node:fs';
import { isHubbubError } from '@hubbub/kernel';
import type { Command } from './command.ts';

const commandsDir = new URL('./commands/', import.meta.url);
/** `.ts` when run from source (tsx), `.js` when compiled. */
const ext = import.meta.url.slice(import.meta.url.lastIndexOf('.'));
const available = (): string[] =>
  readdirSync(commandsDir)
    .filter((f) => f.endsWith(ext) && !f.endsWith(`.test${ext}`))
    .map((f) => f.slice(0, -ext.length))
    .sort();

async function load(name: string): Promise<Command | undefined> {
  if (!available().includes(name)) return undefined;
  return (await import(new URL(`${name}${ext}`, commandsDir).href)) as Command;
}

async function help(): Promise<void> {
  const lines = ['Usage: hubbub <command> [options]', '', 'Commands:'];
  for (const name of available()) {
    const command = await load(name);
    lines.push(`  ${name.padEnd(10)} ${command?.summary ?? ''}`);
  }
  lines.push('', 'Run `hubbub <command> --help` for the options of one command.');
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    await help();
    return name === undefined ? 1 : 0;
  }
  const command = await load(name);
  if (command === undefined) {
    process.stderr.write(`hubbub: unknown command '${name}'. Run 'hubbub help' for the list.\n`);
    return 2;
  }
  return command.run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const code = isHubbubError(err) ? ` [${err.code}]` : '';
    process.stderr.write(`hubbub: ${err instanceof Error ? err.message : String(err)}${code}\n`);
    process.exitCode = 1;
  },
);
