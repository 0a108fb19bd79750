/**
 * Per-thread accounting of this process on Linux, by role: how often each thread woke up (voluntary
 * context switches: it slept and was woken), how often it was preempted, its CPU and the time it
 * waited runnable for a core (`/proc/self/task/<tid>/schedstat`). Load-robust where wall-clock
 * latency is not: a wake-up costs the same CPU whatever else runs, and on this VM each costs
 * ~20–45 µs of CPU, so "wake-ups per location" says what a hop costs.
 *
 * Every thread of a Node process is named `node`, so roles are found, not read:
 * - `main`: the thread whose id is the process id;
 * - `invocationWorker`: an event-loop thread (blocked in `epoll_wait`) started after {@link markBefore}
 *   — the functions host's worker threads;
 * - `otherLoop`: an event-loop thread that was there before (the module loader's hooks thread);
 * - `libuvPool`: a thread that wakes on every one of a few bursts of `fs.stat` calls (the threadpool
 *   serves them; its threads start on first use);
 * - `v8Platform`: the rest (V8's platform workers: concurrent GC and compiler tasks, and Node's
 *   signal/inspector helpers).
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';

export type ThreadRole = 'main' | 'invocationWorker' | 'otherLoop' | 'libuvPool' | 'v8Platform';
export const ROLES: readonly ThreadRole[] = ['main', 'invocationWorker', 'libuvPool', 'v8Platform', 'otherLoop'];

interface Sample {
  /** ns on CPU. */
  run: number;
  /** ns runnable, waiting for a CPU. */
  wait: number;
  voluntary: number;
  involuntary: number;
  /** write-type system calls (`syscw` of `/proc/self/task/<tid>/io`). */
  writes: number;
}

export interface RoleStats {
  threads: number;
  /** Voluntary context switches (slept, then woken) per location. */
  wakeupsPerMsg: number;
  /** Involuntary switches (preempted) per location. */
  preemptedPerMsg: number;
  /** CPU per location, µs. */
  cpuUsPerMsg: number;
  /** Time runnable but waiting for a core, per location, µs. */
  runQueueUsPerMsg: number;
  /** write-type system calls per location (the pool's are the file bus's log writes). */
  writesPerMsg: number;
}

const TASKS = '/proc/self/task';
const available = (() => {
  try {
    readFileSync(`${TASKS}/${process.pid}/schedstat`);
    return true;
  } catch {
    return false;
  }
})();

function tids(): number[] {
  return readdirSync(TASKS).map(Number);
}

function sample(tid: number): Sample | undefined {
  try {
    const [run, wait] = readFileSync(`${TASKS}/${tid}/schedstat`, 'latin1').split(' ').map(Number);
    const status = readFileSync(`${TASKS}/${tid}/status`, 'latin1');
    const voluntary = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const involuntary = Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
    let writes = 0;
    try {
      writes = Number(/syscw:\s+(\d+)/.exec(readFileSync(`${TASKS}/${tid}/io`, 'latin1'))?.[1] ?? 0);
    } catch {
      // no per-thread I/O accounting here
    }
    return { run: run ?? 0, wait: wait ?? 0, voluntary, involuntary, writes };
  } catch {
    return undefined; // the thread ended
  }
}

/** epoll_wait / epoll_pwait / epoll_pwait2 on x86-64 and arm64. */
const EPOLL = new Set(process.arch === 'arm64' ? [22, 441] : [232, 281, 441]);

function inEpoll(tid: number): boolean {
  try {
    return EPOLL.has(Number(readFileSync(`${TASKS}/${tid}/syscall`, 'latin1').split(' ')[0]));
  } catch {
    return false;
  }
}

let before: Set<number> | undefined;

/** Call before the system starts: threads that appear after it and run an event loop are invocation workers. */
export function markBefore(): void {
  if (available) before = new Set(tids());
}

/** Assigns a role to every thread now alive (after the system started). */
export async function classifyThreads(): Promise<Map<number, ThreadRole>> {
  const roles = new Map<number, ThreadRole>();
  if (!available) return roles;
  // Three bursts of threadpool work: the threads that woke in every one are the pool.
  const woke = new Map<number, number>();
  for (let round = 0; round < 3; round++) {
    const s0 = new Map(tids().map((t) => [t, sample(t)?.voluntary ?? 0]));
    await Promise.all(Array.from({ length: 64 }, () => stat(TASKS)));
    for (const t of tids())
      if ((sample(t)?.voluntary ?? 0) > (s0.get(t) ?? Number.POSITIVE_INFINITY)) woke.set(t, (woke.get(t) ?? 0) + 1);
  }
  for (const t of tids()) {
    if (t === process.pid) roles.set(t, 'main');
    else if (inEpoll(t)) roles.set(t, before !== undefined && !before.has(t) ? 'invocationWorker' : 'otherLoop');
    else if ((woke.get(t) ?? 0) === 3) roles.set(t, 'libuvPool');
    else roles.set(t, 'v8Platform');
  }
  return roles;
}

/** A window's counters: `start()` at its beginning, `stop(messages)` at its end. */
export function threadWindow(roles: Map<number, ThreadRole>) {
  const at0 = new Map<number, Sample>();
  return {
    start(): void {
      at0.clear();
      for (const t of tids()) {
        const s = sample(t);
        if (s !== undefined) at0.set(t, s);
      }
    },
    /** Per role, per message; `undefined` where /proc has no schedstat. */
    stop(messages: number): Partial<Record<ThreadRole, RoleStats>> | undefined {
      if (!available || messages === 0) return undefined;
      const sum = new Map<ThreadRole, Sample & { threads: number }>();
      for (const t of tids()) {
        const s = sample(t);
        if (s === undefined) continue;
        const z = at0.get(t) ?? { run: 0, wait: 0, voluntary: 0, involuntary: 0, writes: 0 };
        const role = roles.get(t) ?? 'v8Platform';
        const acc = sum.get(role) ?? { run: 0, wait: 0, voluntary: 0, involuntary: 0, writes: 0, threads: 0 };
        acc.run += s.run - z.run;
        acc.wait += s.wait - z.wait;
        acc.voluntary += s.voluntary - z.voluntary;
        acc.involuntary += s.involuntary - z.involuntary;
        acc.writes += s.writes - z.writes;
        acc.threads++;
        sum.set(role, acc);
      }
      const r2 = (x: number) => Math.round(x * 100) / 100;
      const out: Partial<Record<ThreadRole, RoleStats>> = {};
      for (const role of ROLES) {
        const acc = sum.get(role);
        if (acc === undefined) continue;
        out[role] = {
          threads: acc.threads,
          wakeupsPerMsg: r2(acc.voluntary / messages),
          preemptedPerMsg: r2(acc.involuntary / messages),
          cpuUsPerMsg: r2(acc.run / 1000 / messages),
          runQueueUsPerMsg: r2(acc.wait / 1000 / messages),
          writesPerMsg: r2(acc.writes / messages),
        };
      }
      return out;
    },
  };
}

/** Sums roles: the whole process's wake-ups and CPU per location. */
export function totalOf(stats: Partial<Record<ThreadRole, RoleStats>>): Omit<RoleStats, 'threads'> {
  const t = { wakeupsPerMsg: 0, preemptedPerMsg: 0, cpuUsPerMsg: 0, runQueueUsPerMsg: 0, writesPerMsg: 0 };
  for (const s of Object.values(stats)) {
    t.wakeupsPerMsg += s.wakeupsPerMsg;
    t.preemptedPerMsg += s.preemptedPerMsg;
    t.cpuUsPerMsg += s.cpuUsPerMsg;
    t.runQueueUsPerMsg += s.runQueueUsPerMsg;
    t.writesPerMsg += s.writesPerMsg;
  }
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return {
    wakeupsPerMsg: r2(t.wakeupsPerMsg),
    preemptedPerMsg: r2(t.preemptedPerMsg),
    cpuUsPerMsg: r2(t.cpuUsPerMsg),
    runQueueUsPerMsg: r2(t.runQueueUsPerMsg),
    writesPerMsg: r2(t.writesPerMsg),
  };
}
