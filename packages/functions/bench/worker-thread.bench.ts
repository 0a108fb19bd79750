/**
 * The invocation worker thread's own CPU per courier location, wake-ups included (issue 19): the
 * delivery app's `forwardLocation` on one real invocation worker thread (`InvocationWorkers`, as
 * the host starts it), sent one location at a time with a pause between (`--gap-ms`, so the thread
 * sleeps and wakes for each, as in bench/e2e-latency), or back to back (`--gap-ms 0`, a few in
 * flight: no sleep). Reads the thread's `/proc/self/task/<tid>/schedstat` (CPU ns, times it ran)
 * around the run; the thread is the task that appeared when the worker started (Linux only).
 *
 *   node --import tsx --conditions=source packages/functions/bench/worker-thread.bench.ts [--n 3000] [--gap-ms 1]
 * @module
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { metadataFieldsOf } from '../src/extensions/service-bus/messages.ts';
import { InvocationWorkers } from '../src/invocation-workers.ts';
import { locationBody, locationMessage } from './location.ts';

const { values } = parseArgs({
  options: { n: { type: 'string', default: '3000' }, 'gap-ms': { type: 'string', default: '1' } },
});
const n = Number(values.n);
const gapMs = Number(values['gap-ms']);

const appDir = fileURLToPath(new URL('../../../apps/delivery/functions', import.meta.url));
const settings = JSON.parse(readFileSync(`${appDir}/local.settings.json`, 'utf8')).Values as Record<string, string>;
for (const [k, v] of Object.entries(settings)) process.env[k] ??= v;

const tasks = () => new Set(readdirSync('/proc/self/task'));
const before = tasks();
const { workers, functions } = await InvocationWorkers.start({ appDir, count: 1 });
const started = [...tasks()].filter((t) => !before.has(t));
const fnIndex = functions.findIndex((f) => f.name === 'forwardLocation');
const triggerName = Object.entries(functions[fnIndex]!.bindings).find(([, b]) => b.type === 'serviceBusTrigger')![0];

const message = locationMessage();
const body = JSON.stringify(locationBody);
const invoke = () =>
  workers.invoke(fnIndex, {
    invocationId: randomUUID(),
    inputData: [{ name: triggerName, data: { json: body } }],
    deferredMetadata: { serviceBusFields: metadataFieldsOf(message) },
  });

const stat = (tid: string) => {
  const [ns, , runs] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
  return { ns: ns!, runs: runs! };
};
async function run(count: number): Promise<void> {
  if (gapMs === 0) {
    // Back to back, 4 in flight: the worker never waits for the next one.
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next++ < count) await invoke();
      }),
    );
    return;
  }
  for (let i = 0; i < count; i++) {
    await invoke();
    await sleep(gapMs);
  }
}
await run(500); // warm-up
const s0 = new Map(started.map((t) => [t, stat(t)]));
await run(n);
const per = started.map((t) => {
  const a = s0.get(t)!;
  const b = stat(t);
  return {
    tid: t,
    usPerLocation: +((b.ns - a.ns) / 1000 / n).toFixed(1),
    runsPerLocation: +((b.runs - a.runs) / n).toFixed(2),
  };
});
await workers.terminate();
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
process.stdout.write(
  `${JSON.stringify({ bench: 'functions/worker-thread', n, gapMs, node: process.version, load, threads: per })}\n`,
);
