/**
 * Cold start of the all-in-one server: from spawning the command until GET /healthz answers 200,
 * over several runs, for each command given (A/B in turn, so a drifting machine affects both).
 *
 *   node --import tsx bench/cold-start/run.ts [--runs 7] [--repo DIR] -- 'CMD A' ['CMD B' …]
 *
 * A command runs from `--repo` (default: this repository) with `--port <free> --data <tmp>
 * --no-simulate` appended; e.g. `'npm start --'` or `'node --import tsx apps/delivery/src/main.ts'`.
 * Prints JSON: per command min / median / max in ms, and the machine.
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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

async function once(command: string): Promise<number> {
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
      if (ok) return performance.now() - started;
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
const times = new Map<string, number[]>(positionals.map((c) => [c, []]));
for (let i = 0; i < runs; i++) {
  for (const command of positionals) times.get(command)!.push(await once(command));
}
const summary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { minMs: Math.round(s[0]!), medianMs: Math.round(s[Math.floor(s.length / 2)]!), maxMs: Math.round(s.at(-1)!) };
};
process.stdout.write(
  `${JSON.stringify({ runs, commands: Object.fromEntries([...times].map(([c, xs]) => [c, summary(xs)])), machine: machine.stop() }, null, 2)}\n`,
);
