#!/usr/bin/env node
/**
 * The `hubbub` command. Each subcommand is a module in `commands/` named after it, exporting
 * `summary` (one line for the help) and `run(args)`; it is loaded only when invoked.
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isHubbubError, packageRoot } from '@hubbub/kernel';
import { discoverAppComponents, runAppComponent } from './app-components.ts';
import type { Command } from './command.ts';

/** The code of a name that is no command (exit code 2). */
const UNKNOWN_COMMAND = 'CLI_UNKNOWN_COMMAND';

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
  const app = discoverAppComponents();
  if (app.components.length > 0) {
    lines.push('', "This project's components (declared under hubbub.components in its package.json):");
    for (const c of app.components) lines.push(`  ${c.name.padEnd(10)} ${c.summary}`);
  }
  for (const reason of app.skipped) lines.push(`  (skipped: ${reason})`);
  lines.push('', 'Run `hubbub <command> --help` for the options of one command; `hubbub --version` for the version.');
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    await help();
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    const { version } = JSON.parse(readFileSync(join(packageRoot(import.meta.url), 'package.json'), 'utf8')) as {
      version: string;
    };
    process.stdout.write(`hubbub ${version} (Node.js ${process.version})\n`);
    return 0;
  }
  const command = await load(name);
  if (command === undefined) {
    const app = discoverAppComponents();
    const component = app.components.find((c) => c.name === name);
    if (component !== undefined) return runAppComponent(component, args);
    const all = [...available(), ...app.components.map((c) => c.name)];
    const hint = name.startsWith('-') ? 'options come after the command' : `the commands are ${all.join(', ')}`;
    process.stderr.write(`hubbub: unknown command '${name}': ${hint}. Run 'hubbub help'. [${UNKNOWN_COMMAND}]\n`);
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
