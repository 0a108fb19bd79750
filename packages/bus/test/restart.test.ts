import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { openBus } from '../src/index.ts';

const child = new URL('./fixtures/lock-child.ts', import.meta.url).pathname;
const ACKS = 200;

/**
 * How the bus process is started, as a supervisor might:
 * - `direct`: the test is its parent (Node reaps it soon after the kill, on its own schedule);
 * - `shell`: `sh -c` runs it and waits, one more process layer, as `npm run` adds;
 * - `shell, stopped`: the same shell stops itself (SIGSTOP) once it started the bus, so it cannot
 *   reap it: after the kill the bus stays a zombie — dead, yet `kill(pid, 0)` succeeds — for the
 *   whole restart. The worst case of a parent slow to reap, made deterministic.
 */
const layouts: Record<string, (dir: string) => ChildProcess> = {
  direct: (dir) => spawn(process.execPath, ['--import', 'tsx', child, dir], { stdio: ['ignore', 'pipe', 'inherit'] }),
  shell: (dir) =>
    spawn('sh', ['-c', '"$0" --import tsx "$1" "$2"; exit $?', process.execPath, child, dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  'shell, stopped': (dir) =>
    spawn('sh', ['-c', '"$0" --import tsx "$1" "$2" & kill -STOP $$; wait', process.execPath, child, dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
};

/** Runs the bus process until it acknowledged `ACKS` sends, then SIGKILLs it and returns at once. */
async function runAndKill(start: () => ChildProcess): Promise<{ pid: number; acked: number[]; proc: ChildProcess }> {
  const proc = start();
  const failed = new Promise<never>((_, reject) => {
    proc.on('error', reject);
    proc.on('exit', (code, signal) => reject(new Error(`the bus process exited early (${code ?? signal})`)));
  });
  let pid = 0;
  const acked: number[] = [];
  const lines = createInterface({ input: proc.stdout! });
  const read = (async () => {
    for await (const line of lines) {
      const [kind, value] = line.split(' ');
      if (kind === 'PID') pid = Number(value);
      else if (kind === 'S') acked.push(Number(value));
      if (acked.length >= ACKS) break;
    }
  })();
  await Promise.race([read, failed]);
  proc.removeAllListeners('exit');
  process.kill(pid, 'SIGKILL'); // the bus itself, not the shell around it
  return { pid, acked, proc };
}

const state = (pid: number): string | undefined => {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
};

describe('restart right after SIGKILL', () => {
  for (const [layout, start] of Object.entries(layouts)) {
    it(`opens the directory and keeps every acknowledged send (${layout})`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hubbub-bus-restart-'));
      const { pid, acked, proc } = await runAndKill(() => start(dir));
      try {
        if (layout === 'shell, stopped' && process.platform === 'linux') {
          // Not reaped by its stopped parent: a zombie (or still exiting; the lock waits for Z).
          assert.notEqual(state(pid), undefined, 'the killed bus is still in the process table');
        }
        // No delay: the supervisor restarts as soon as it sees the kill.
        await using bus = await openBus({ url: `file://${dir}` });
        const receiver = bus.createReceiver('q', { receiveMode: 'receiveAndDelete' });
        const recovered = new Set<number>();
        for (;;) {
          const batch = await receiver.receiveMessages(1_000, { maxWaitTimeMs: 0 });
          if (batch.length === 0) break;
          for (const m of batch) recovered.add((m.body as { id: number }).id);
        }
        assert.deepEqual(
          acked.filter((id) => !recovered.has(id)),
          [],
          'acknowledged sends missing after restart',
        );
      } finally {
        proc.kill('SIGKILL'); // the shell (stopped or not); its orphaned zombie goes to init
      }
    });
  }
});
