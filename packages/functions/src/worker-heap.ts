/**
 * V8 heap sizes for one worker thread. V8's flags belong to the process, and Node 20's `Worker`
 * takes only maximum sizes (and no young-generation size at all once the process has
 * `--max-semi-space-size`): a thread gets sizes of its own by the flags being set while its isolate
 * is created, before the thread is `online`, and set back to the process's own values once it is up
 * (or gone). The main thread's heap, made at startup, keeps its sizes; a thread another library
 * starts in that window gets the sizes too. Of threads created at once, the last asked wins.
 * @module
 */
import { setFlagsFromString } from 'node:v8';
import type { Worker } from 'node:worker_threads';

export interface WorkerHeap {
  /** Initial old-space size, MB (`--initial-old-space-size`); 0 or unset: the process's. */
  readonly initialOldSpaceMb?: number;
  /** Largest semi-space of the young generation, MB (`--max-semi-space-size`); 0 or unset: the process's. */
  readonly maxSemiSpaceMb?: number;
}

const FLAGS = [
  ['initialOldSpaceMb', 'initial-old-space-size'],
  ['maxSemiSpaceMb', 'max-semi-space-size'],
] as const;

/**
 * The value V8 flag `name` (dashed) was given on the process's command line or in NODE_OPTIONS
 * (`--name=N` or `--name N`, dashes or underscores), or 0: V8's default.
 */
export function processFlag(
  name: string,
  args: readonly string[] = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)],
): number {
  const wanted = name.replaceAll('_', '-');
  let value = 0;
  for (let i = 0; i < args.length; i++) {
    const m = /^--([a-z_-]+)(?:=(.*))?$/.exec(args[i]!);
    if (m === null || m[1]!.replaceAll('_', '-') !== wanted) continue;
    const given = Number(m[2] ?? args[i + 1]);
    if (Number.isFinite(given) && given >= 0) value = given;
  }
  return value;
}

/** What the process itself was started with, read once: the values the flags are set back to. */
const processHeap = Object.fromEntries(FLAGS.map(([key, flag]) => [key, processFlag(flag)])) as Required<WorkerHeap>;

/** The heaps of threads being created, oldest first. */
const creating: WorkerHeap[] = [];

function applyFlags(): void {
  for (const [key, flag] of FLAGS) {
    let value = processHeap[key];
    for (const heap of creating) if ((heap[key] ?? 0) > 0) value = heap[key]!;
    setFlagsFromString(`--${flag}=${value}`);
  }
}

/** Runs `create` (which makes one `Worker`) so that the thread's isolate gets `heap`'s sizes. */
export function withHeap(heap: WorkerHeap, create: () => Worker): Worker {
  if (!FLAGS.some(([key]) => (heap[key] ?? 0) > 0)) return create();
  creating.push(heap);
  applyFlags();
  let done = false;
  const created = () => {
    if (done) return;
    done = true;
    creating.splice(creating.indexOf(heap), 1);
    applyFlags();
  };
  let worker: Worker;
  try {
    worker = create();
  } catch (err) {
    created();
    throw err;
  }
  worker.once('online', created);
  worker.once('exit', created);
  return worker;
}
