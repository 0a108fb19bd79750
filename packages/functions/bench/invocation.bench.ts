/**
 * The invocation thread's CPU per courier location (issue 19): the delivery app's `forwardLocation`
 * loaded as an invocation worker thread loads it (`loadApp`, its own `@azure/functions`), fed N
 * location requests in a tight loop as the worker handles them — the request as postMessage's
 * structured clone hands it over (`v8.deserialize`), `invokeFunction` through the library's
 * invocation model, `prepareOutputs` (the SignalR output checked and encoded), the `done` answer
 * and the log line the function writes serialised (`v8.serialize`) as the outbox posts them.
 * The loop never sleeps, so no wake-up cost is in it and the load matters less than in
 * bench/e2e-latency. CPU is this thread's own (`/proc/self/task/<tid>/schedstat`, falling back to
 * process.cpuUsage); allocation is sampled in a pass of its own ({@link allocatedPerLocation}).
 *
 *   node --import tsx --conditions=source packages/functions/bench/invocation.bench.ts [--n 20000] [--rounds 5] [--logs]
 *
 * `--cpu-only`: no allocation pass (for a profile of the loop alone).
 * `--logs`: the worker forwards log lines to the host (`WorkerData.logs`, a host with a logger).
 * Add `--cpu-prof --cpu-prof-dir=/tmp/prof` before `--import` for a profile of the loop.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { deserialize, serialize } from 'node:v8';
import type { Logger } from '@hubbub/kernel';
import { loadApp } from '../src/app-loader.ts';
import { metadataFieldsOf } from '../src/extensions/service-bus/messages.ts';
import { type InvocationRequest, type InvocationScope, invokeFunction } from '../src/invoke.ts';
import { locationBody, locationMessage } from './location.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '5' },
    logs: { type: 'boolean', default: false },
    'cpu-only': { type: 'boolean', default: false },
  },
});
const n = Number(values.n);
const rounds = Number(values.rounds);

const appDir = fileURLToPath(new URL('../../../apps/delivery/functions', import.meta.url));
const settings = JSON.parse(readFileSync(`${appDir}/local.settings.json`, 'utf8')).Values as Record<string, string>;
for (const [k, v] of Object.entries(settings)) process.env[k] ??= v;

// The worker's logger as invocation-worker.ts builds it (`workerLogger`; a tree from before it
// existed gets the copy below, which is what it built): each line is posted to the host.
const posted: unknown[] = [];
let logLines = 0;
const post = (message: unknown): void => {
  if ((message as { t?: string }).t === 'log') logLines++;
  posted.push(message);
};
const line =
  (level: 'debug' | 'info' | 'warn' | 'error') =>
  (fields: Record<string, unknown>, message: string): void => {
    if (values.logs) post({ t: 'log', level, fields, message });
  };
const builtHere: Logger = {
  debug: line('debug'),
  info: line('info'),
  warn: line('warn'),
  error: line('error'),
  child: () => builtHere,
};
const workerModule = (await import('../src/invocation-worker.ts')) as unknown as {
  prepareOutputs: typeof import('../src/invocation-worker.ts').prepareOutputs;
  workerLogger?: (logs: boolean, post: (message: unknown) => void) => Logger;
};
const logger = workerModule.workerLogger?.(values.logs, post) ?? builtHere;
const app = await loadApp(appDir, () => {});
const fnIndex = app.registry.functions.findIndex((f) => f.metadata.name === 'forwardLocation');
const fn = app.registry.functions[fnIndex]!;
const prepareOutputs = workerModule.prepareOutputs;
const triggerName = Object.entries(fn.metadata.bindings).find(([, b]) => b.type === 'serviceBusTrigger')![0];
const scope: InvocationScope = { registry: app.registry, appHookData: {}, logger };

const message = locationMessage();
const body = locationBody;
const wire = serialize({
  t: 'invoke',
  id: 1,
  fn: fnIndex,
  request: {
    invocationId: randomUUID(),
    inputData: [{ name: triggerName, data: { json: JSON.stringify(body) } }],
    deferredMetadata: { serviceBusFields: metadataFieldsOf(message) },
  },
});

let bytesOut = 0;
async function one(): Promise<void> {
  const got = deserialize(wire) as { id: number; request: InvocationRequest };
  const { response } = await invokeFunction(fn, got.request, scope);
  posted.push({ t: 'done', id: got.id, response: prepareOutputs(fn, response) });
  const out = serialize(posted.length === 1 ? posted[0] : posted);
  bytesOut += out.length;
  posted.length = 0;
}

const tid = process.pid; // the main thread's task id is the process id
function threadCpuNs(): number {
  try {
    return Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    const u = process.cpuUsage();
    return (u.user + u.system) * 1000;
  }
}

async function measure(): Promise<number> {
  const t0 = threadCpuNs();
  for (let i = 0; i < n; i++) await one();
  return (threadCpuNs() - t0) / 1000 / n;
}

/**
 * Bytes allocated per location: V8's sampling heap profiler with the objects GC already collected
 * kept in its samples (`includeObjectsCollectedBy*GC`), so the total is what was allocated, not
 * what is live. A separate pass: sampling costs CPU.
 */
async function allocatedPerLocation(): Promise<number> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
    );
  await post('HeapProfiler.enable');
  await post('HeapProfiler.startSampling', {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  for (let i = 0; i < n; i++) await one();
  const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: { samples: { size: number }[] } };
  session.disconnect();
  if (process.env.HEAP_PROFILE)
    (await import('node:fs')).writeFileSync(process.env.HEAP_PROFILE, JSON.stringify(profile));
  let bytes = 0;
  for (const s of profile.samples) bytes += s.size;
  return bytes / n;
}

for (let i = 0; i < 2000; i++) await one(); // warm-up
const results: number[] = [];
for (let r = 0; r < rounds; r++) {
  const us = await measure();
  results.push(us);
  process.stderr.write(`[invocation] round ${r}: ${us.toFixed(1)} µs/location\n`);
}
const us = results.sort((a, b) => a - b);
const kb = values['cpu-only'] ? Number.NaN : (await allocatedPerLocation()) / 1024;
process.stdout.write(
  `${JSON.stringify({ bench: 'functions/invocation', n, rounds, logs: values.logs, node: process.version, usPerLocation: { min: +us[0]!.toFixed(1), median: +us[us.length >> 1]!.toFixed(1) }, kbAllocatedPerLocation: +kb.toFixed(2), logLinesPerLocation: logLines / (n * (rounds + 1) + 2000), answerBytes: Math.round(bytesOut / (n * (rounds + 1) + 2000)) })}\n`,
);
