/**
 * Who holds a directory's LOCK file, and whether that holder still runs. The file holds
 * `<pid> <start>`: the owner's pid and, where /proc exists (Linux), its start time (field 22 of
 * `/proc/<pid>/stat`, clock ticks since boot); older versions wrote the pid alone.
 *
 * A pid that answers `kill(pid, 0)` is not proof of life: a process killed with SIGKILL stays a
 * zombie until its parent reaps it (an `npm run` or shell layer may take a while, a stopped one
 * forever), and a pid is reused once reaped. So a holder counts as gone when its pid is unused,
 * when its pid belongs to a process with another start time, or when every one of its threads is
 * a zombie (`Z`), dead (`X`) or exiting (`PF_EXITING`): such a thread never returns to user space
 * nor finishes another system call, so the process can write nothing more. (Right after a
 * SIGKILL the leader is a zombie while the last thread still tears the heap down, for tens of
 * milliseconds: the leader's state alone is not enough.) Without /proc (macOS, Windows) only the
 * pid is checked.
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface LockOwner {
  readonly pid: number;
  /** Start time in clock ticks since boot, when the owner wrote it. */
  readonly start?: string;
}

/** What this process writes into a LOCK file. */
export function lockContent(): string {
  const start = procStat('self')?.start;
  return start === undefined ? `${process.pid}\n` : `${process.pid} ${start}\n`;
}

/** The owner a LOCK file names; undefined when it names none (empty, torn, garbage). */
export function parseLock(text: string): LockOwner | undefined {
  const [pid = '', start] = text.trim().split(/\s+/);
  const n = Number(pid);
  if (!/^\d+$/.test(pid) || !Number.isSafeInteger(n) || n <= 0) return undefined;
  return start !== undefined && /^\d+$/.test(start) ? { pid: n, start } : { pid: n };
}

/** How long {@link isGone} waits for a holder that was sent SIGKILL to stop running code. */
const DYING_WAIT_MS = 2_000;
const PF_EXITING = 0x4;
const SIGKILL_BIT = 1n << 8n;

/**
 * Whether the LOCK's owner is gone (see the module comment). A holder that was sent SIGKILL but
 * whose threads have not all begun to exit yet (a thread may be finishing a write) is waited for,
 * up to {@link DYING_WAIT_MS}: it cannot survive, and a supervisor restarts at once.
 */
export async function isGone(owner: LockOwner): Promise<boolean> {
  for (let waited = 0; ; waited += 5) {
    const verdict = inspect(owner);
    if (verdict !== 'dying' || waited >= DYING_WAIT_MS) return verdict === 'gone';
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function inspect(owner: LockOwner): 'running' | 'dying' | 'gone' {
  if (!signalable(owner.pid)) return 'gone';
  const stat = procStat(owner.pid);
  // No /proc, or the process is hidden (hidepid), or it was reaped a moment ago: ask again.
  if (stat === undefined) return signalable(owner.pid) ? 'running' : 'gone';
  if (owner.start !== undefined && owner.start !== stat.start) return 'gone'; // the pid was reused
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${owner.pid}/task`);
  } catch {
    return signalable(owner.pid) ? 'running' : 'gone';
  }
  // Threads other than the leader vanish from task/ once they exit; the leader stays, as a zombie.
  // A thread flagged PF_EXITING has left user space and its last system call for good.
  let exiting = 0;
  for (const tid of tids) {
    const t = procStat(`${owner.pid}/task/${tid}`);
    if (t === undefined || t.state === 'Z' || t.state === 'X' || t.state === 'x' || t.flags & PF_EXITING) exiting++;
  }
  if (exiting === tids.length) return 'gone';
  return stat.flags & PF_EXITING || killPending(owner.pid) ? 'dying' : 'running';
}

function killPending(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const shared = /^ShdPnd:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    return shared !== undefined && (BigInt(`0x${shared}`) & SIGKILL_BIT) !== 0n;
  } catch {
    return false;
  }
}

/** Fields 3 (state), 9 (flags) and 22 (start time) of `/proc/<path>/stat`; undefined when unreadable. */
function procStat(path: number | string): { state: string; flags: number; start: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${path}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so count after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const start = fields[19];
  return state === undefined || start === undefined ? undefined : { state, flags: Number(fields[6]), start };
}

function signalable(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM'; // alive, another user's
  }
}
