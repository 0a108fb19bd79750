/**
 * Cold start of the all-in-one server: from spawning the command until GET /healthz answers 200,
 * over several runs, for each command given (A/B in turn, so a drifting machine affects both).
 *
 *   node --import tsx bench/cold-start/run.ts [--runs 7] [--repo DIR] -- 'CMD A' ['CMD B' …]
 *
 * A command runs from `--repo` (default: this repository) with `--port <free> --data <tmp>
 * --no-simulate` appended; e.g. `'npm start --'` or `'node --import tsx apps/delivery/src/main.ts'`.
 * Prints JSON: per command min / median / max in ms, and the machine; beside each, the CPU the
 * command's processes had used by then and how long they waited for a core (Linux schedstat of
 * every thread in its process group), which a loaded machine distorts far less than wall time.
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { watchMachine } from '../lib/machine.ts';

const { values, positionals } = parseArgs({
  options: { runs: { type: 'string', default: '7' }, repo: { type: 'string' } },
  allowPositionals: true,
});
const runs = Number(values.runs);
const repo = values.repo ?? new URL('../..', import.meta.url).pathname;
if (positionals.length === 0 || !(runs >= 1 && runs <= 50)) {
  process.stderr.write("usage: run.ts [--runs N] [--repo DIR] -- 'CMD A' ['CMD B' …]\n");
  process.exit(2);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** On-CPU and run-queue time (ms) of every live thread of every process in the group, from /proc. */
function groupSchedstat(pgid: number): { cpuMs: number; waitMs: number } | undefined {
  let cpuNs = 0;
  let waitNs = 0;
  try {
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        // Fields after the command's closing parenthesis: state ppid pgrp …
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) !== pgid) continue;
        for (const task of readdirSync(`/proc/${pid}/task`)) {
          const [onCpu, waiting] = readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ');
          cpuNs += Number(onCpu);
          waitNs += Number(waiting);
        }
      } catch {
        // the process or thread ended while being read
      }
    }
  } catch {
    return undefined;
  }
  return { cpuMs: cpuNs / 1e6, waitMs: waitNs / 1e6 };
}

interface Run {
  readonly ms: number;
  readonly cpuMs: number | undefined;
  readonly waitMs: number | undefined;
}

async function once(command: string): Promise<Run> {
  const port = await freePort();
  const data = mkdtempSync(join(tmpdir(), 'hubbub-cold-'));
  const [file, ...args] = command.split(/\s+/).filter((s) => s !== '');
  const started = performance.now();
  const child = spawn(file!, [...args, '--port', String(port), '--data', data, '--no-simulate'], {
    cwd: repo,
    stdio: 'ignore',
    detached: true,
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${command} exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) {
        const ms = performance.now() - started;
        const sched = groupSchedstat(child.pid!);
        return { ms, cpuMs: sched?.cpuMs, waitMs: sched?.waitMs };
      }
      if (performance.now() - started > 60_000) throw new Error(`${command} did not serve within 60 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    process.kill(-child.pid!, 'SIGKILL');
    await new Promise((r) => child.once('exit', r));
    rmSync(data, { recursive: true, force: true });
  }
}

const machine = watchMachine();
const times = new Map<string, Run[]>(positionals.map((c) => [c, []]));
for (let i = 0; i < runs; i++) {
  for (const command of positionals) times.get(command)!.push(await once(command));
}
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: Math.round(s[0]!), median: Math.round(s[Math.floor(s.length / 2)]!), max: Math.round(s.at(-1)!) };
};
const summary = (rs: Run[]) => {
  const wall = stats(rs.map((r) => r.ms));
  const cpu = rs.every((r) => r.cpuMs !== undefined) ? stats(rs.map((r) => r.cpuMs!)) : undefined;
  const wait = rs.every((r) => r.waitMs !== undefined) ? stats(rs.map((r) => r.waitMs!)) : undefined;
  return {
    minMs: wall.min,
    medianMs: wall.median,
    maxMs: wall.max,
    ...(cpu === undefined ? {} : { cpuMs: cpu }),
    ...(wait === undefined ? {} : { runQueueWaitMs: wait }),
  };
};
process.stdout.write(
  `${JSON.stringify({ runs, commands: Object.fromEntries([...times].map(([c, rs]) => [c, summary(rs)])), machine: machine.stop() }, null, 2)}\n`,
);
