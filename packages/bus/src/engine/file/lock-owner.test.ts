import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { isBusError } from '../../errors.ts';
import { lockLogDir, unlockLogDir } from './log-dir.ts';

const dir = (): string => mkdtempSync(join(tmpdir(), 'hubbub-lock-'));
const linux = process.platform === 'linux' ? false : 'reads /proc';

/** State (field 3) and start time (field 22) of a process, from /proc/<pid>/stat. */
function stat(pid: number): { state: string; start: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, start: fields[19]! };
  } catch {
    return undefined;
  }
}

const signalable = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * A process that will not be reaped when it dies: `sh` starts `sleep` in the background, prints
 * its pid, and stops itself (SIGSTOP). A stopped parent cannot wait() for its child, so once we
 * SIGKILL the sleep it stays a zombie — dead, but still answering kill(pid, 0) — until the shell
 * goes (its orphans are reaped by init). Node reaps only its own children, so the grandchild is
 * out of libuv's reach; this is the window a supervisor restarting at once may hit.
 */
async function orphanable(): Promise<{ pid: number; parent: ChildProcess }> {
  const parent = spawn('sh', ['-c', 'sleep 60 & echo $!; kill -STOP $$'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: parent.stdout! }), 'line')) as [string];
  return { pid: Number(line), parent };
}

async function rejectsLocked(d: string, pid: number): Promise<void> {
  await assert.rejects(lockLogDir(d), (err: unknown) => {
    assert.ok(isBusError(err, 'BUS_DIR_LOCKED'), String(err));
    assert.deepEqual(err.detail, { dir: d, pid });
    return true;
  });
}

describe('log directory lock', () => {
  const parents: ChildProcess[] = [];
  after(() => {
    for (const p of parents) p.kill('SIGKILL');
  });

  it('takes over the lock of a holder that was killed and is still a zombie', { skip: linux }, async () => {
    const { pid, parent } = await orphanable();
    parents.push(parent);
    const d = dir();
    const start = (await waitFor(() => stat(pid), { what: 'the holder in /proc' })).start;
    // Both what this version writes (pid and start time) and what older ones wrote (the pid).
    const contents = [`${pid}\n`, `${pid} ${start}\n`];
    for (const content of contents) {
      writeFileSync(join(d, 'LOCK'), content);
      await rejectsLocked(d, pid); // alive: the lock holds
    }

    process.kill(pid, 'SIGKILL');
    await waitFor(() => stat(pid)?.state === 'Z', { what: 'the killed holder to become a zombie' });
    assert.equal(signalable(pid), true, 'a zombie still answers kill(pid, 0): a pid check alone calls it alive');

    for (const content of contents) {
      writeFileSync(join(d, 'LOCK'), content);
      await lockLogDir(d);
      assert.match(readFileSync(join(d, 'LOCK'), 'utf8'), new RegExp(`^${process.pid} \\d+\\n$`));
      await unlockLogDir(d);
    }
  });

  it('takes over a lock whose pid now belongs to a process started at another time', { skip: linux }, async () => {
    const { pid, parent } = await orphanable();
    parents.push(parent);
    const d = dir();
    const start = (await waitFor(() => stat(pid), { what: 'the process in /proc' })).start;
    writeFileSync(join(d, 'LOCK'), `${pid} ${Number(start) - 1}\n`); // the pid was reused
    await lockLogDir(d);
    await unlockLogDir(d);
    writeFileSync(join(d, 'LOCK'), `${pid} ${start}\n`);
    await rejectsLocked(d, pid);
    process.kill(pid, 'SIGKILL');
  });

  it('refuses a live holder with BUS_DIR_LOCKED, also one that wrote only its pid', async () => {
    const d = dir();
    writeFileSync(join(d, 'LOCK'), String(process.ppid));
    await rejectsLocked(d, process.ppid);
  });

  it('refuses a directory this process has open with BUS_DIR_LOCKED', async () => {
    const d = dir();
    await lockLogDir(d);
    await rejectsLocked(d, process.pid);
    await unlockLogDir(d);
  });

  it('takes over a lock of its own pid (an unclean close) and an unreadable one', async () => {
    for (const content of [`${process.pid}`, `${process.pid} 1`, '', 'garbage', '-1 7']) {
      const d = dir();
      writeFileSync(join(d, 'LOCK'), content);
      await lockLogDir(d);
      await unlockLogDir(d);
    }
  });
});
