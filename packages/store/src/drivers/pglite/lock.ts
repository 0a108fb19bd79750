/**
 * One process per PGlite directory. PGlite has no lock of its own, and a second process opening
 * the same directory corrupts it, so `DIR/LOCK` names the owner: `<pid> <start>`, the start time
 * being field 22 of `/proc/<pid>/stat` where /proc exists. An owner counts as gone when its pid
 * is unused, belongs to a process with another start time (the pid was reused), or every thread
 * of it is a zombie, dead or exiting (a process killed with SIGKILL stays a zombie until reaped,
 * and answers `kill(pid, 0)` meanwhile). A gone owner's lock is taken over; a live one's is
 * refused with STORE_DIR_LOCKED.
 *
 * Taking over is race-free between two takers: the stale file is first renamed to a name only
 * this process uses, and taken over only if what was renamed is the stale content that was judged
 * (otherwise it was a fresh lock, which is put back).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { link, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { StoreError } from '../../errors.ts';

const PF_EXITING = 0x4;
const held = new Set<string>();

interface Stat {
  readonly state: string;
  readonly flags: number;
  readonly start: string;
}

function procStat(path: string): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${path}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' '); // comm may hold spaces and ')'
  const [state, start] = [fields[0], fields[19]];
  return state === undefined || start === undefined ? undefined : { state, flags: Number(fields[6]), start };
}

/** What this process writes into a LOCK file. */
export function lockContent(): string {
  const start = procStat('self')?.start;
  return start === undefined ? `${process.pid}\n` : `${process.pid} ${start}\n`;
}

function signalable(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

/** Whether the owner a LOCK file names is gone (see the module comment). Garbage counts as gone. */
export function ownerGone(text: string): boolean {
  const [pidText = '', start] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!/^[0-9]+$/.test(pidText) || !Number.isSafeInteger(pid) || pid <= 0) return true;
  if (!signalable(pid)) return true;
  const stat = procStat(String(pid));
  if (stat === undefined) return !signalable(pid);
  if (start !== undefined && start !== stat.start) return true;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return !signalable(pid);
  }
  return tids.every((tid) => {
    const t = procStat(`${pid}/task/${tid}`);
    return t === undefined || t.state === 'Z' || t.state === 'X' || t.state === 'x' || (t.flags & PF_EXITING) !== 0;
  });
}

const locked = (dir: string, pid: number | undefined): StoreError =>
  new StoreError('STORE_DIR_LOCKED', `${dir} is in use by process ${pid ?? 'unknown'}.`, { detail: { dir, pid } });

/** Takes `dir`'s lock; resolves with its release. */
export async function lockDir(dir: string): Promise<() => Promise<void>> {
  const key = resolve(dir);
  if (held.has(key)) throw locked(dir, process.pid);
  held.add(key);
  const path = join(dir, 'LOCK');
  const mine = lockContent();
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await writeFile(path, mine, { flag: 'wx' });
        return async () => {
          held.delete(key);
          await rm(path, { force: true });
        };
      } catch (err) {
        if ((err as { code?: string }).code !== 'EEXIST') throw err;
      }
      const seen = await readFile(path, 'utf8').catch(() => undefined);
      if (seen === undefined) continue;
      // our own pid: a lock this process left when it did not close (it is not held, see `held`)
      const ours = seen === mine;
      if (!ours && !ownerGone(seen)) throw locked(dir, Number(seen.trim().split(/\s+/)[0]));
      const grabbed = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
      try {
        await rename(path, grabbed);
      } catch {
        continue;
      }
      const taken = await readFile(grabbed, 'utf8').catch(() => '');
      if (taken !== seen) {
        await link(grabbed, path).catch(() => {});
        await rm(grabbed, { force: true });
        throw locked(dir, Number(taken.trim().split(/\s+/)[0]));
      }
      await rm(grabbed, { force: true });
    }
    throw locked(dir, undefined);
  } catch (err) {
    held.delete(key);
    throw err;
  }
}
