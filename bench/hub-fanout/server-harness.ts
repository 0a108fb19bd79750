/**
 * What every server under test shares: the IPC API the orchestrator drives, memory snapshots after
 * forced GC, and the broadcast phase (bursts of sends per event-loop turn) with its CPU time taken
 * from `process.cpuUsage()` (user + system, all threads of this process).
 * @module
 */
import { serveIpc } from '../lib/ipc.ts';

/** What a contender's server script provides. */
export interface Contender {
  /** Port it listens on (127.0.0.1). */
  readonly port: number;
  /** Connections that are ready to receive broadcasts (handshake done, in the group). */
  ready(): number;
  /** Sends `count` broadcasts of `payload` within the current event-loop turn. */
  burst(payload: string, count: number): void;
}

export interface MemorySnapshot {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

export interface PhaseCpu {
  /** CPU time (user + system) from the first send until `stop`, µs. */
  userUs: number;
  systemUs: number;
  /** Wall time of the send loop itself (all bursts issued), ms. */
  loopMs: number;
}

export type ServerApi = {
  port(args: null): number;
  ready(args: null): number;
  memory(args: null): Promise<MemorySnapshot>;
  /** Starts K broadcasts (`burst` per turn); returns the start time (hrtime ns, as a string). */
  broadcast(args: { count: number; burst: number; payloadBytes: number }): { t0: string };
  /**
   * Latency phase: `count` broadcasts, one every `intervalMs`, each payload starting with its send
   * time (hrtime ns) padded to `payloadBytes`; resolves when the last was sent.
   */
  paced(args: { count: number; intervalMs: number; payloadBytes: number }): Promise<null>;
  /** Ends the phase: CPU used since `broadcast` began. */
  stop(args: null): PhaseCpu;
  /** Exits soon after answering (lets `--cpu-prof` write its profile). */
  exit(args: null): null;
};

const gc = (globalThis as { gc?: () => void }).gc;

async function memory(): Promise<MemorySnapshot> {
  if (gc === undefined) throw new Error('run the server with --expose-gc');
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external, arrayBuffers };
}

export function serveContender(contender: Contender): void {
  let phase: { cpu: NodeJS.CpuUsage; t0: bigint; loopEnd: bigint | undefined } | undefined;
  serveIpc<ServerApi>({
    port: () => contender.port,
    ready: () => contender.ready(),
    memory,
    broadcast: ({ count, burst, payloadBytes }) => {
      const payload = 'x'.repeat(payloadBytes);
      const current = {
        cpu: process.cpuUsage(),
        t0: process.hrtime.bigint(),
        loopEnd: undefined as bigint | undefined,
      };
      phase = current;
      let sent = 0;
      const step = () => {
        const n = Math.min(burst, count - sent);
        contender.burst(payload, n);
        sent += n;
        if (sent < count) setImmediate(step);
        else current.loopEnd = process.hrtime.bigint();
      };
      step();
      return { t0: current.t0.toString() };
    },
    paced: ({ count, intervalMs, payloadBytes }) =>
      new Promise<null>((resolve) => {
        let sent = 0;
        const timer = setInterval(() => {
          const stamp = process.hrtime.bigint().toString();
          contender.burst(stamp.padEnd(payloadBytes, 'x'), 1);
          if (++sent >= count) {
            clearInterval(timer);
            resolve(null);
          }
        }, intervalMs);
      }),
    stop: () => {
      if (phase === undefined) throw new Error('no broadcast phase to stop');
      const { user, system } = process.cpuUsage(phase.cpu);
      const end = phase.loopEnd ?? process.hrtime.bigint();
      const loopMs = Number(end - phase.t0) / 1e6;
      phase = undefined;
      return { userUs: user, systemUs: system, loopMs };
    },
    exit: () => {
      setTimeout(() => process.exit(0), 10);
      return null;
    },
  });
}
