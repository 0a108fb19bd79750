/**
 * bench/e2e-latency round trip: client → hub → upstream → `signalRTrigger` function → hub → client
 * (an `echo` invocation answered by the function's return value), beside the same echo done by a
 * self-hosted hub method (the baseline), each with `--clients` connected clients at `--rate`
 * invocations per second spread over them. The system runs in one child process, every client in
 * another.
 *
 *   npm run -s bench:e2e-roundtrip -- [--clients 1000] [--rate 500] [--warmup 3] [--measure 10]
 *
 * Prints one JSON object on stdout; progress goes to stderr. Stops itself after 2 minutes.
 * @module
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Children } from '../lib/children.ts';
import type { Peer } from '../lib/ipc.ts';
import { watchMachine } from '../lib/machine.ts';
import type { RoundTripClientApi, RoundTripPath, RoundTripSummary } from './roundtrip-client.ts';
import type { RoundTripServerApi } from './roundtrip-server.ts';

const { values: flags } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '500' },
    warmup: { type: 'string', default: '3' },
    measure: { type: 'string', default: '10' },
    drain: { type: 'string', default: '5' },
    batch: { type: 'string', default: '100' },
    paths: { type: 'string', default: 'upstream,method' },
  },
});
const num = (name: keyof typeof flags, min: number, max: number) => {
  const value = Number(flags[name]);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${name} must be in [${min}, ${max}]`);
  return value;
};
const paths = String(flags.paths)
  .split(',')
  .map((p) => p.trim()) as RoundTripPath[];
for (const p of paths)
  if (p !== 'upstream' && p !== 'method') throw new Error(`--paths: '${p}' is not upstream or method`);
const config = {
  clients: num('clients', 1, 10_000),
  rate: num('rate', 1, 10_000),
  warmupSec: num('warmup', 0, 30),
  measureSec: num('measure', 1, 30),
  drainSec: num('drain', 1, 30),
  batch: num('batch', 1, 1_000),
};
const RUN_TIMEOUT_MS = 2 * 60_000;
const PHASE_TIMEOUT_MS = 60_000;
const PATHS: Record<RoundTripPath, string> = {
  upstream:
    "client invoke('echo') → serverless hub → upstream (in process, signed) → signalRTrigger function → Completion → client",
  method: "client invoke('echo') → self-hosted hub method → Completion → client",
};
const log = (message: string) => process.stderr.write(`[e2e-roundtrip] ${message}\n`);
const children = new Children(dirname(fileURLToPath(import.meta.url)));

async function main() {
  const runTimer = setTimeout(() => {
    log(`the whole run exceeded ${RUN_TIMEOUT_MS / 1000} s; stopping`);
    process.exit(1);
  }, RUN_TIMEOUT_MS);
  const started = Date.now();
  const machine = watchMachine();
  const server = children.start<RoundTripServerApi>('roundtrip-server.ts', 'server', ['--max-semi-space-size=8']);
  const client = children.start<RoundTripClientApi>('roundtrip-client.ts', 'client');
  const results: Record<string, { path: string; connections: unknown; client: RoundTripSummary }> = {};
  try {
    await Promise.all([server.serving, client.serving]);
    const { port } = await server.call('start', null, PHASE_TIMEOUT_MS);
    for (const path of paths) {
      const opened = await client.call(
        'connect',
        { port, path, clients: config.clients, batch: config.batch },
        PHASE_TIMEOUT_MS,
      );
      log(`${path}: ${opened.ready} clients connected (${opened.failed} failed) in ${opened.ms} ms`);
      if (opened.ready === 0) throw new Error(`no client connected: ${opened.firstError}`);
      const summary = await client.call(
        'run',
        {
          rate: config.rate,
          warmupMs: config.warmupSec * 1000,
          measureMs: config.measureSec * 1000,
          drainMs: config.drainSec * 1000,
        },
        PHASE_TIMEOUT_MS,
      );
      const l = summary.latencyMs;
      log(
        `${path}: p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms; ${summary.completed}/${summary.sent} completed, ${summary.errors} errors`,
      );
      results[path] = {
        path: PATHS[path],
        connections: { ...opened, server: await server.call('connections', null) },
        client: summary,
      };
      await client.call('closeAll', null, PHASE_TIMEOUT_MS);
    }
  } finally {
    clearTimeout(runTimer);
    await children.stop(client as unknown as Peer<never>, { askToExit: false, timeoutMs: 10_000 });
    await children.stop(server as unknown as Peer<never>, { askToExit: true, timeoutMs: 10_000 });
  }
  const ratio = (key: 'p50' | 'p99') => {
    const a = results.upstream?.client.latencyMs[key];
    const b = results.method?.client.latencyMs[key];
    return a === undefined || b === undefined || b === 0 ? undefined : Math.round((a / b) * 100) / 100;
  };
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'e2e-roundtrip',
        node: process.version,
        config,
        machine: machine.stop(),
        ...results,
        ratios: { upstreamVsMethod: { p50: ratio('p50'), p99: ratio('p99') } },
        runSeconds: Math.round((Date.now() - started) / 1000),
      },
      null,
      2,
    )}\n`,
  );
}

main().catch((err: unknown) => {
  log(String(err instanceof Error ? (err.stack ?? err.message) : err));
  process.exit(1);
});
