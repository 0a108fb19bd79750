/**
 * The machine and its condition during a run, for reading it: cores, CPU model, 1-minute load
 * average before and after, the share of wall time tasks were stalled on I/O (Linux PSI; the
 * benchmark's own fsyncs count too) and the share of CPU time the hypervisor took (steal: every
 * process here waited for it). The last two are left out where `/proc` does not have them.
 * @module
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;

export interface MachineReport {
  cpus: number;
  model: string;
  /** Other work on the machine competes for the same cores. */
  loadAverage1m: { before: number; after: number };
  ioPressurePercent?: { some: number; full: number };
  cpuStealPercent?: number;
}

interface Sample {
  readonly at: number;
  readonly load: number;
  /** µs that some / all tasks were stalled on I/O since boot. */
  readonly io: { some: number; full: number } | undefined;
  /** Jiffies of all CPUs, and those stolen by the hypervisor, since boot. */
  readonly cpu: { total: number; steal: number } | undefined;
}

function ioStallUs(): Sample['io'] {
  try {
    const text = readFileSync('/proc/pressure/io', 'utf8');
    const total = (kind: string) => Number(new RegExp(`^${kind} .*total=(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
    return { some: total('some'), full: total('full') };
  } catch {
    return undefined;
  }
}

function cpuJiffies(): Sample['cpu'] {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] ?? 0 };
  } catch {
    return undefined;
  }
}

/** Starts watching; `stop()` describes the machine over the time since. */
export function watchMachine(): { stop(): MachineReport } {
  const before: Sample = { at: Date.now(), load: loadavg()[0] ?? 0, io: ioStallUs(), cpu: cpuJiffies() };
  return {
    stop() {
      const io = ioStallUs();
      const cpu = cpuJiffies();
      const wallMs = Math.max(1, Date.now() - before.at);
      const percent = (us: number) => round1((us / 1000 / wallMs) * 100);
      return {
        cpus: cpus().length,
        model: cpus()[0]?.model ?? 'unknown',
        loadAverage1m: { before: round2(before.load), after: round2(loadavg()[0] ?? 0) },
        ...(before.io === undefined || io === undefined
          ? {}
          : {
              ioPressurePercent: { some: percent(io.some - before.io.some), full: percent(io.full - before.io.full) },
            }),
        ...(before.cpu === undefined || cpu === undefined || cpu.total === before.cpu.total
          ? {}
          : { cpuStealPercent: round1(((cpu.steal - before.cpu.steal) / (cpu.total - before.cpu.total)) * 100) }),
      };
    },
  };
}

/** A process's resident memory now and at its peak (`VmRSS`, `VmHWM` of /proc), kB; {} where /proc has neither. */
export function processMemoryKb(pid: number | 'self'): { rssKb?: number; hwmKb?: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
    return {
      ...(rss === undefined ? {} : { rssKb: Number(rss) }),
      ...(hwm === undefined ? {} : { hwmKb: Number(hwm) }),
    };
  } catch {
    return {};
  }
}

/** ns the main thread (tid = pid) has run on a core (`schedstat`: waiting for a core does not count). */
export const mainThreadNs = (): number =>
  Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);

/**
 * Times the main thread has gone to sleep (blocked: waiting in the event loop for a timer, a worker's
 * message or I/O; `voluntary_ctxt_switches`) — each is a wake-up later, which costs a VM 20–60 µs of
 * CPU on its own.
 */
export const mainThreadSleeps = (): number => {
  const status = readFileSync(`/proc/self/task/${process.pid}/status`, 'utf8');
  return Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
};
