/**
 * Components an application declares for the `hubbub` command. The CLI depends on no application;
 * an application names the processes it can run, as the seed deploys them separately, in its
 * package.json:
 *
 *   "hubbub": { "components": { "processor": {
 *     "summary": "processOrder on topic orders (the seed's WebJob)",
 *     "entry": "dist/src/components.js", "args": ["processor"], "node": ["--max-semi-space-size=8"] } } }
 *
 * `hubbub processor [flags]` found in the package of the current directory, or in one of the
 * workspaces of the project it is in, runs `node <node…> <entry> <args…> <flags…>` in its own
 * process, handing it Ctrl-C and returning its exit code. A built-in command of the same name
 * wins; a declaration that is not of this shape is skipped with the reason (`hubbub help` shows it).
 * @module
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';

export interface AppComponent {
  readonly name: string;
  readonly summary: string;
  /** The package that declares it (its `name`, or its directory). */
  readonly from: string;
  /** Absolute path of the module to run. */
  readonly entry: string;
  readonly args: readonly string[];
  readonly nodeFlags: readonly string[];
}

export interface Discovery {
  readonly components: readonly AppComponent[];
  /** Declarations skipped, each with its reason. */
  readonly skipped: readonly string[];
}

/** A declared component whose entry module is not there (the project is not built). */
const APP_NOT_BUILT = 'CLI_APP_NOT_BUILT';
/** A component's process could not be started. */
const APP_FAILED = 'CLI_APP_FAILED';

const NAME = /^[a-z][a-z0-9-]{0,39}$/;
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

function readJson(path: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The nearest directory at or above `cwd` holding a package.json. */
function nearestPackage(cwd: string): string | undefined {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/** The project root: the nearest package whose package.json has workspaces naming `dir`, else `dir`. */
function projectOf(dir: string): { root: string; packages: string[] } {
  for (let at = dir; ; at = dirname(at)) {
    const manifest = existsSync(join(at, 'package.json')) ? readJson(join(at, 'package.json')) : undefined;
    const workspaces = manifest?.workspaces;
    const patterns = isStrings(workspaces)
      ? workspaces
      : isStrings((workspaces as { packages?: unknown } | undefined)?.packages)
        ? (workspaces as { packages: string[] }).packages
        : undefined;
    if (patterns !== undefined) {
      const packages = [at, ...patterns.flatMap((p) => expand(at, p))];
      if (packages.some((p) => p === dir || dir.startsWith(`${p}/`))) return { root: at, packages };
    }
    if (dirname(at) === at) return { root: dir, packages: [dir] };
  }
}

/** A workspace pattern: a directory, or `dir/*` (the forms npm documents for most projects). */
function expand(root: string, pattern: string): string[] {
  if (pattern.endsWith('/*')) {
    const base = join(root, pattern.slice(0, -2));
    try {
      return readdirSync(base, { withFileTypes: true })
        .filter((e) => e.isDirectory() && existsSync(join(base, e.name, 'package.json')))
        .map((e) => join(base, e.name));
    } catch {
      return [];
    }
  }
  return pattern.includes('*') ? [] : [join(root, pattern)];
}

/** The components declared by the project the current directory is in. */
export function discoverAppComponents(cwd: string = process.cwd()): Discovery {
  const start = nearestPackage(cwd);
  if (start === undefined) return { components: [], skipped: [] };
  const { packages } = projectOf(start);
  const components: AppComponent[] = [];
  const skipped: string[] = [];
  const seen = new Map<string, string>();
  for (const dir of packages) {
    const manifest = readJson(join(dir, 'package.json'));
    const declared = (manifest?.hubbub as { components?: unknown } | undefined)?.components;
    if (declared === undefined) continue;
    const from = typeof manifest?.name === 'string' ? manifest.name : dir;
    if (typeof declared !== 'object' || declared === null || Array.isArray(declared)) {
      skipped.push(`${from}: hubbub.components must be an object of name → { entry, args?, node?, summary? }`);
      continue;
    }
    for (const [name, spec] of Object.entries(declared as Record<string, unknown>)) {
      const s = spec as { entry?: unknown; args?: unknown; node?: unknown; summary?: unknown } | null;
      const why = !NAME.test(name)
        ? 'a name is lower-case letters, digits and dashes'
        : typeof s !== 'object' || s === null || typeof s.entry !== 'string' || s.entry === ''
          ? 'needs an entry (a module path in the package)'
          : s.args !== undefined && !isStrings(s.args)
            ? 'args must be strings'
            : s.node !== undefined && !isStrings(s.node)
              ? 'node must be strings'
              : s.summary !== undefined && typeof s.summary !== 'string'
                ? 'summary must be a string'
                : undefined;
      if (why !== undefined || s === null) {
        skipped.push(`${from}: component '${name}' ${why}`);
        continue;
      }
      const entry = resolve(dir, s.entry as string);
      const inside = relative(dir, entry);
      if (inside.startsWith('..') || isAbsolute(inside)) {
        skipped.push(`${from}: component '${name}' entry must be inside its package`);
        continue;
      }
      if (seen.has(name)) {
        skipped.push(`${from}: component '${name}' is also declared by ${seen.get(name)}`);
        continue;
      }
      seen.set(name, from);
      components.push({
        name,
        summary: (s.summary as string | undefined) ?? `${name} of ${from}`,
        from,
        entry,
        args: (s.args as string[] | undefined) ?? [],
        nodeFlags: (s.node as string[] | undefined) ?? [],
      });
    }
  }
  return { components, skipped };
}

/** Runs `component` with `args` in a child process; resolves with its exit code. */
export function runAppComponent(component: AppComponent, args: readonly string[]): Promise<number> {
  if (!existsSync(component.entry)) {
    process.stderr.write(
      `hubbub: ${component.name} (${component.from}) is not built: ${component.entry} is missing; run npm run build [${APP_NOT_BUILT}]\n`,
    );
    return Promise.resolve(1);
  }
  // The child has a process group of its own, so a terminal's Ctrl-C reaches it once, handed on
  // from here (in one group it would hear it twice, and a second Ctrl-C means "stop now"); a
  // signal sent to this process (kill, a process manager) is handed on the same way.
  const child = spawn(process.execPath, [...component.nodeFlags, component.entry, ...component.args, ...args], {
    stdio: 'inherit',
    detached: true,
  });
  const forward = (signal: NodeJS.Signals) => () => {
    child.kill(signal);
  };
  const orphaned = () => child.kill('SIGTERM');
  process.once('exit', orphaned);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise((resolveCode) => {
    child.once('error', (err) => {
      process.stderr.write(`hubbub: ${component.name} did not start: ${err.message} [${APP_FAILED}]\n`);
      resolveCode(1);
    });
    child.once('exit', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      process.off('exit', orphaned);
      resolveCode(code ?? (signal === 'SIGINT' ? 130 : 1));
    });
  });
}
