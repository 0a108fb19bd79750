/**
 * `hubbub func start`: the shape of Azure Functions Core Tools' `func start`, so a function app's
 * usual `npm start` runs on Hubbub with one change — `"start": "func start"` becomes
 * `"start": "hubbub func start"`. It runs the app in the working directory (or `--script-root`)
 * as `hubbub functions` does, with Core Tools' flags and defaults: the port from `--port`, else
 * local.settings.json `Host.LocalHttpPort`, else 7071; keys not checked unless `--enforce-keys`.
 * @module
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseCommandArgs, UsageError } from '@hubbub/system';
import { run as runFunctions } from './functions.ts';

export const summary = "Run the function app here as Core Tools' 'func start' would (npm start: hubbub func start)";

const usage = `Usage: hubbub func start [options]

Runs the function app in the current directory (its package.json "main", host.json,
local.settings.json) the way 'func start' does, on Hubbub: see 'hubbub functions --help' for what
it serves. In the app's package.json, "start": "func start" becomes "start": "hubbub func start".

  --port, -p N          port (default local.settings.json Host.LocalHttpPort, $PORT or 7071)
  --cors ORIGINS        origins allowed to call /api from pages elsewhere (default Host.CORS)
  --cors-credentials    accepted for compatibility (credentials are always allowed for the origins)
  --enforce-keys        check function keys on authLevel function/admin (Core Tools does not by default)
  --script-root DIR     the app directory (default the current directory)
  --functions A B ...   run only these functions
  --strict              fail the start when a function cannot be loaded (default: skip it, run the rest)
  --verbose             debug logging
  --host H, --data DIR, --bus URL, --store URL: as for 'hubbub functions'
  -h, --help            this help

Core Tools flags that do not apply here (--javascript, --typescript, --no-build, --language-worker)
are accepted and ignored.`;

export async function run(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  if (verb === '--help' || verb === '-h' || verb === 'help') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (verb !== 'start') {
    throw new UsageError(`hubbub func knows 'start' only (got '${verb ?? ''}'); run 'hubbub func start --help'`);
  }
  const { functions, others } = takeFunctions(rest);
  const { values } = parseCommandArgs(
    others,
    {
      port: { type: 'string', short: 'p' },
      cors: { type: 'string' },
      'cors-credentials': { type: 'boolean' },
      'enforce-keys': { type: 'boolean' },
      'script-root': { type: 'string' },
      strict: { type: 'boolean' },
      verbose: { type: 'boolean' },
      host: { type: 'string' },
      data: { type: 'string' },
      bus: { type: 'string' },
      store: { type: 'string' },
      javascript: { type: 'boolean' },
      typescript: { type: 'boolean' },
      'no-build': { type: 'boolean' },
      'language-worker': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const dir = resolve(values['script-root'] ?? '.');
  const port = values.port ?? localHttpPort(dir);
  const forwarded: string[] = [dir];
  const pass = (flag: string, value: string | undefined) => {
    if (value !== undefined) forwarded.push(flag, value);
  };
  pass('--port', port);
  pass('--cors', values.cors);
  pass('--host', values.host);
  pass('--data', values.data);
  pass('--bus', values.bus);
  pass('--store', values.store);
  if (functions !== undefined) forwarded.push('--functions', functions.join(','));
  if (values['enforce-keys']) forwarded.push('--enforce-keys');
  if (values.strict) forwarded.push('--strict');
  if (values.verbose) forwarded.push('--log-level', 'debug');
  return runFunctions(forwarded);
}

/** Core Tools' `--functions a b c`: the names up to the next flag. */
function takeFunctions(args: string[]): { functions: string[] | undefined; others: string[] } {
  const at = args.indexOf('--functions');
  if (at < 0) return { functions: undefined, others: args };
  let end = at + 1;
  while (end < args.length && !args[end]!.startsWith('-')) end++;
  const functions = args
    .slice(at + 1, end)
    .flatMap((a) => a.split(','))
    .filter(Boolean);
  if (functions.length === 0) throw new UsageError('--functions needs at least one function name');
  return { functions, others: [...args.slice(0, at), ...args.slice(end)] };
}

/** local.settings.json `Host.LocalHttpPort`, as Core Tools reads it. */
function localHttpPort(dir: string): string | undefined {
  try {
    const settings = JSON.parse(readFileSync(resolve(dir, 'local.settings.json'), 'utf8')) as {
      Host?: { LocalHttpPort?: unknown };
    };
    const port = settings.Host?.LocalHttpPort;
    return typeof port === 'number' || typeof port === 'string' ? String(port) : undefined;
  } catch {
    return undefined;
  }
}
