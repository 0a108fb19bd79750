/**
 * bench/function-path/hop.ts: what one thread hop costs the main thread on this machine, at the
 * function path's rate — the part of `run.ts`'s function path that no code of ours decides.
 *
 * The same 1 ms pacing timer as `run.ts`, three modes alternating in one process for `--rounds`:
 *
 *   floor: the timer tick alone (a wake-up from idle per tick);
 *   post:  + one `postMessage` per tick to an idle worker thread (the shape of an invocation
 *          request), no answer;
 *   echo:  + the worker answers each one, which wakes the main thread again (what an invocation on
 *          a worker thread costs the main thread before any work of the host's or the library's).
 *
 * Main-thread CPU per tick from `/proc/self/task/<pid>/schedstat` (time on a core; waiting for one
 * does not count), wake-ups from its `voluntary_ctxt_switches`, and the wall time spent inside
 * `postMessage` (on a VM, waking an idle thread of another vCPU costs the waker an interprocessor
 * interrupt).
 *
 *   node --import tsx bench/function-path/hop.ts [--rounds 3] [--seconds 4]
 *
 * One JSON object on stdout.
 * @module
 */
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { mainThreadNs, mainThreadSleeps, watchMachine } from '../lib/machine.ts';

const { values: flags } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '4' } },
});
const rounds = Number(flags.rounds);
const seconds = Number(flags.seconds);
if (!Number.isInteger(rounds) || rounds < 1 || !(seconds > 0)) throw new Error('--rounds N (≥ 1) --seconds S (> 0)');

const worker = new Worker(
  `const { parentPort } = require('node:worker_threads');
   parentPort.on('message', (m) => { if (m.answer) parentPort.postMessage({ t: 'done', id: m.id }); });`,
  { eval: true },
);
worker.on('message', () => {});
await new Promise((resolve) => worker.once('online', resolve));

type Mode = 'floor' | 'post' | 'echo';
interface Window {
  mode: Mode;
  ticks: number;
  mainThreadUsPerTick: number;
  wakeUpsPerTick: number;
  postUsPerTick: number | null;
}

/** A request of the size the host posts for a location (metadata fields and a ~150-byte body). */
const request = {
  t: 'invoke',
  id: 0,
  fn: 0,
  answer: false,
  request: { body: JSON.stringify({ orderId: 'o-1', lat: 47.6141, lng: -122.3195, at: Date.now() }), meta: {} },
};

function window(mode: Mode): Promise<Window> {
  return new Promise((resolve) => {
    let ticks = 0;
    let inPost = 0n;
    const c0 = mainThreadNs();
    const s0 = mainThreadSleeps();
    const timer = setInterval(() => {
      ticks++;
      if (mode === 'floor') return;
      request.id = ticks;
      request.answer = mode === 'echo';
      const t0 = process.hrtime.bigint();
      worker.postMessage(request);
      inPost += process.hrtime.bigint() - t0;
    }, 1);
    setTimeout(() => {
      clearInterval(timer);
      const cpu = mainThreadNs() - c0;
      const woke = mainThreadSleeps() - s0;
      resolve({
        mode,
        ticks,
        mainThreadUsPerTick: Math.round(cpu / ticks / 100) / 10,
        wakeUpsPerTick: Math.round((woke / ticks) * 1000) / 1000,
        postUsPerTick: mode === 'floor' ? null : Math.round(Number(inPost) / ticks / 100) / 10,
      });
    }, seconds * 1000);
  });
}

const machine = watchMachine();
const windows: Window[] = [];
for (let r = 0; r < rounds; r++) {
  for (const mode of ['floor', 'post', 'echo'] as const) {
    const w = await window(mode);
    process.stderr.write(`${JSON.stringify(w)}\n`);
    windows.push(w);
  }
}
await worker.terminate();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = Object.fromEntries(
  (['floor', 'post', 'echo'] as const).map((mode) => {
    const of = windows.filter((w) => w.mode === mode);
    return [
      mode,
      {
        mainThreadUsPerTick: median(of.map((w) => w.mainThreadUsPerTick)),
        wakeUpsPerTick: median(of.map((w) => w.wakeUpsPerTick)),
        postUsPerTick: mode === 'floor' ? null : median(of.map((w) => w.postUsPerTick!)),
      },
    ];
  }),
);
process.stdout.write(
  `${JSON.stringify({ benchmark: 'function-path/hop', date: new Date().toISOString(), node: process.version, machine: machine.stop(), summary, windows }, null, 2)}\n`,
);
