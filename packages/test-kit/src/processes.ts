/**
 * Runs a script of this repository (through tsx) or the `hubbub` command as a child process, as a
 * user would, collecting what it prints. Shared by the CLI's and the apps' tests
 * (`@hubbub/test-kit`).
 */
import { type ChildProcess, spawn } from 'node:child_process';

/** The `hubbub` command, run from source as a user would run it (a path, not an import: nothing imports the CLI). */
const main = new URL('../../cli/src/main.ts', import.meta.url).pathname;

export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The exit code, once the process has exited and its output is all read. */
  exited: Promise<number | null>;
}

export interface RunOptions {
  /** Added to (or, when `undefined`, removed from) the parent's environment. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Run with plain node, not through tsx. @default false */
  plain?: boolean;
}

export function runScript(script: string, args: string[], options: RunOptions = {}): Running {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const flags = options.plain === true ? [] : ['--conditions=source', '--import', 'tsx'];
  const child = spawn(process.execPath, [...flags, script, ...args], {
    env,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** `hubbub …` as a process. */
export function hubbub(args: string[], env: Record<string, string | undefined> = {}, cwd?: string): Running {
  return runScript(main, args, { env, ...(cwd === undefined ? {} : { cwd }) });
}

/** Runs to the end: the exit code and everything printed. */
export async function ran(run: Running): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const code = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}
