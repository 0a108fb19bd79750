/**
 * The machine's condition during a run, for reading it: the share of wall time tasks were stalled
 * on I/O (Linux PSI; the benchmark's own fsyncs count too) and the share of CPU time the hypervisor
 * took (steal: every process here waited for it). Empty where `/proc` does not have them.
 * @module
 */
import { readFileSync } from 'node:fs';

const round1 = (x: number) => Math.round(x * 10) / 10;

interface Sample {
  readonly at: number;
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

/** Starts watching; `stop()` returns `{ ioPressurePercent?, cpuStealPercent? }` for the time since. */
export function watchMachine(): {
  stop(): { ioPressurePercent?: { some: number; full: number }; cpuStealPercent?: number };
} {
  const before: Sample = { at: Date.now(), io: ioStallUs(), cpu: cpuJiffies() };
  return {
    stop() {
      const io = ioStallUs();
      const cpu = cpuJiffies();
      const wallMs = Math.max(1, Date.now() - before.at);
      const percent = (us: number) => round1((us / 1000 / wallMs) * 100);
      return {
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
