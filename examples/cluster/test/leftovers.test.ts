/**
 * A cluster run killed with -9 leaves its children running; the next run stops exactly those (same
 * pid and same command line), removes the old run's directory, and touches nothing else.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cmdlineOf, recordFile, recordRun, stopAllLeftovers, stopLeftovers, thisProcess } from '../leftovers.ts';

/** A run that was killed: no process has this pid and command line. */
const gone = { pid: 2 ** 22 + 17, cmdline: 'a killed cluster run\0' };

const work = mkdtempSync(join(tmpdir(), 'leftovers-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A long-lived process standing in for a NATS server or a node of the killed run. */
function sleeper(marker: string): { child: ChildProcess; cmdline: string } {
  const args = ['-e', 'setInterval(() => {}, 1000)', marker];
  const child = spawn(process.execPath, args, { stdio: 'ignore' });
  return { child, cmdline: cmdlineOf(process.execPath, args) };
}

async function running(pid: number, line: string): Promise<boolean> {
  // The command line shows once the child has exec'd.
  for (let i = 0; i < 100; i++) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8') === line) return true;
    } catch {
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

const thisProcessOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8');

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => child.once('exit', () => resolve()));

describe('what a killed cluster run left behind', () => {
  it("stops the recorded children that are still the same command and removes the old run's directory", async () => {
    const file = join(work, 'a', 'running.json');
    const dir = join(work, 'hubbub-cluster-old');
    mkdirSync(dir);
    writeFileSync(join(dir, 'nats-0.log'), 'old log');
    const a = sleeper('leftover-a');
    const b = sleeper('leftover-b');
    assert.ok(await running(a.child.pid!, a.cmdline));
    assert.ok(await running(b.child.pid!, b.cmdline));
    recordRun(
      file,
      dir,
      [
        { pid: a.child.pid!, cmdline: a.cmdline },
        { pid: b.child.pid!, cmdline: b.cmdline },
      ],
      gone,
    );
    const stopped = await stopLeftovers(file, { graceMs: 5_000 });
    assert.deepEqual(stopped.sort(), [a.child.pid!, b.child.pid!].sort());
    await Promise.all([exited(a.child), exited(b.child)]);
    assert.equal(a.child.signalCode, 'SIGTERM');
    assert.equal(existsSync(dir), false, "the old run's directory is gone");
    assert.equal(existsSync(file), false, 'the record is gone');
    assert.deepEqual(await stopLeftovers(file), [], 'nothing recorded, nothing stopped');
  });

  it('leaves alone a pid that now runs another command line (the system reused it)', async () => {
    const file = join(work, 'b', 'running.json');
    const other = sleeper('someone-else');
    assert.ok(await running(other.child.pid!, other.cmdline));
    recordRun(
      file,
      join(work, 'hubbub-cluster-gone'),
      [
        { pid: other.child.pid!, cmdline: cmdlineOf('/usr/sbin/nats-server', ['-c', '/tmp/x.conf']) },
        { pid: process.pid, cmdline: cmdlineOf('/usr/sbin/nats-server', ['-c', '/tmp/y.conf']) },
      ],
      gone,
    );
    assert.deepEqual(await stopLeftovers(file, { graceMs: 200 }), []);
    assert.ok(await running(other.child.pid!, other.cmdline), 'the other program still runs');
    other.child.kill('SIGKILL');
    await exited(other.child);
  });

  it('kills a child that ignores SIGTERM once the grace period is over', async () => {
    const file = join(work, 'c', 'running.json');
    const args = ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)", 'stubborn'];
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    const line = cmdlineOf(process.execPath, args);
    assert.ok(await running(child.pid!, line));
    // Give it time to install its handler before the SIGTERM.
    await new Promise((resolve) => setTimeout(resolve, 500));
    recordRun(file, join(work, 'hubbub-cluster-stubborn'), [{ pid: child.pid!, cmdline: line }], gone);
    assert.deepEqual(await stopLeftovers(file, { graceMs: 300 }), [child.pid!]);
    await exited(child);
    assert.equal(child.signalCode, 'SIGKILL');
  });

  it('leaves the children of a run that is still going alone, and stops those of every gone run in the folder', async () => {
    const records = join(work, 'runs');
    const mine = sleeper('live-run-child');
    const theirs = sleeper('dead-run-child');
    assert.ok(await running(mine.child.pid!, mine.cmdline));
    assert.ok(await running(theirs.child.pid!, theirs.cmdline));
    const live = thisProcess();
    assert.match(live.cmdline, /\0/, "this process's own command line");
    // The live run is this test's own process, but looked at from another one: a pid of its own.
    recordRun(
      recordFile(records, { pid: process.ppid, cmdline: '' }),
      join(work, 'hubbub-cluster-live'),
      [{ pid: mine.child.pid!, cmdline: mine.cmdline }],
      { pid: process.ppid, cmdline: thisProcessOf(process.ppid) },
    );
    recordRun(
      recordFile(records, gone),
      join(work, 'hubbub-cluster-dead'),
      [{ pid: theirs.child.pid!, cmdline: theirs.cmdline }],
      gone,
    );
    assert.deepEqual(await stopAllLeftovers(records, { graceMs: 5_000 }), [theirs.child.pid!]);
    await exited(theirs.child);
    assert.ok(await running(mine.child.pid!, mine.cmdline), "the live run's child still runs");
    assert.ok(existsSync(recordFile(records, { pid: process.ppid, cmdline: '' })), "the live run's record stays");
    mine.child.kill('SIGKILL');
    await exited(mine.child);
  });

  it("removes only a run's own temp dir, never a path that climbs out of one", async () => {
    const keep = join(work, 'precious');
    mkdirSync(join(keep, 'hubbub-cluster-trap'), { recursive: true });
    writeFileSync(join(keep, 'data'), 'keep me');
    const file = join(work, 'e', 'running.json');
    recordRun(file, `${join(keep, 'hubbub-cluster-trap')}/..`, [], gone);
    assert.deepEqual(await stopLeftovers(file), []);
    assert.equal(readFileSync(join(keep, 'data'), 'utf8'), 'keep me');
    recordRun(file, 'hubbub-cluster-relative', [], gone);
    assert.deepEqual(await stopLeftovers(file), []);
    assert.ok(existsSync(keep));
  });

  it('forgets a record it cannot read and stops nothing on a guess', async () => {
    const file = join(work, 'd', 'running.json');
    mkdirSync(join(work, 'd'));
    writeFileSync(file, '{"dir": "/tmp/hubbub-cluster-x", "children": [{"pid"');
    assert.deepEqual(await stopLeftovers(file), []);
    assert.equal(existsSync(file), false);
    writeFileSync(file, JSON.stringify({ dir: 7, children: 'all' }));
    assert.deepEqual(await stopLeftovers(file), []);
  });
});
