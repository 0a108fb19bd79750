/**
 * What a cluster run leaves behind when it is killed without a word (`kill -9`, a closed terminal
 * that took only the parent): its children — the NATS servers, the hub and application nodes — are
 * handed to init and keep running, holding their ports and their data directory. Each run records
 * itself and its children in a file of its own in a shared folder; the next run looks at every
 * record whose run is gone (a run still going is left alone: several may run at once) and stops the
 * children that are still alive and still the same command line (a pid the system has since given
 * to another program is left alone), then removes the old run's directory.
 * @module
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';

/** One child of a run: its pid and its command line as `/proc/<pid>/cmdline` shows it. */
export interface RecordedChild {
  readonly pid: number;
  readonly cmdline: string;
}

interface Record {
  readonly dir: string;
  /** The run itself: while it is alive, its children are its own business. */
  readonly run: RecordedChild;
  readonly children: readonly RecordedChild[];
}

/** The command line of `command args…` as `/proc/<pid>/cmdline` holds it (NUL-terminated arguments). */
export function cmdlineOf(command: string, args: readonly string[]): string {
  return `${[command, ...args].join('\0')}\0`;
}

/** This process as a {@link RecordedChild}. */
export function thisProcess(): RecordedChild {
  return { pid: process.pid, cmdline: cmdline(process.pid) ?? '' };
}

/** The record file of the run `run` in the folder `records`. */
export function recordFile(records: string, run: RecordedChild = thisProcess()): string {
  return join(records, `${run.pid}.json`);
}

/** Writes the run's directory, itself and its children to `file` (replaced as children are added). */
export function recordRun(
  file: string,
  dir: string,
  children: readonly RecordedChild[],
  run: RecordedChild = thisProcess(),
): void {
  mkdirSync(dirname(file), { recursive: true });
  const record: Record = { dir, run, children };
  writeFileSync(file, JSON.stringify(record));
}

/** Forgets the run recorded in `file` (after a clean stop). */
export function forgetRun(file: string): void {
  rmSync(file, { force: true });
}

function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Stops what the run recorded in `file` left running, if that run is gone (a live run is left alone): SIGTERM, then SIGKILL after `graceMs` to
 * those still there (a process that has exited, even one not yet reaped, has no command line). Only processes whose command line is exactly the recorded one are touched.
 * Removes the old run's directory unless `keepDir`, and the record. Returns the pids it stopped.
 */
export async function stopLeftovers(file: string, { graceMs = 5_000, keepDir = false } = {}): Promise<number[]> {
  if (!existsSync(file)) return [];
  let record: Record;
  try {
    record = JSON.parse(readFileSync(file, 'utf8')) as Record;
    if (typeof record?.dir !== 'string' || !Array.isArray(record.children) || typeof record.run?.pid !== 'number') {
      throw new Error('not a run record');
    }
  } catch {
    // Not ours to interpret (a partial write when the run died): nothing is stopped on a guess.
    forgetRun(file);
    return [];
  }
  if (record.run.pid !== process.pid && cmdline(record.run.pid) === record.run.cmdline) return [];
  const ours = record.children.filter(
    (c) => Number.isInteger(c.pid) && c.pid > 1 && typeof c.cmdline === 'string' && cmdline(c.pid) === c.cmdline,
  );
  for (const { pid } of ours) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {}
  }
  const deadline = Date.now() + graceMs;
  while (ours.some(({ pid, cmdline: line }) => cmdline(pid) === line) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const { pid, cmdline: line } of ours) {
    if (cmdline(pid) !== line) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  // Only a run's own temp dir: an absolute, normalised path whose last part is a cluster dir's name.
  const { dir } = record;
  if (!keepDir && isAbsolute(dir) && normalize(dir) === dir && basename(dir).startsWith('hubbub-cluster-')) {
    rmSync(dir, { recursive: true, force: true });
  }
  forgetRun(file);
  return ours.map((c) => c.pid);
}

/** {@link stopLeftovers} for every record in the folder `records`; returns the pids it stopped. */
export async function stopAllLeftovers(records: string, options?: { graceMs?: number }): Promise<number[]> {
  if (!existsSync(records)) return [];
  const stopped: number[] = [];
  for (const name of readdirSync(records)) {
    if (name.endsWith('.json')) stopped.push(...(await stopLeftovers(join(records, name), options)));
  }
  return stopped;
}
