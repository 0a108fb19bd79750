/**
 * The process owner's stray-error policy (runUntilSignal, watchStrayErrors) with the app's functions
 * on the host's own thread: an unhandled rejection is logged and the process serves on; an uncaught
 * exception (a throw in a timer callback) is logged as fatal and the process drains and exits 1.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';

const script = new URL('./fixtures/stray-errors-run.ts', import.meta.url).pathname;

async function start(): Promise<{ child: ChildProcess; base: string; out: () => string; err: () => string }> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk;
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk;
  });
  const base = await waitFor(() => /serving (http:\/\/\S+)/.exec(out)?.[1], {
    timeoutMs: 60_000,
    what: `serving (${err})`,
  });
  return { child, base, out: () => out, err: () => err };
}

describe('stray errors on the host thread (runUntilSignal)', () => {
  it('logs an unhandled rejection and keeps serving', async () => {
    const { child, base, err } = await start();
    try {
      assert.equal((await fetch(`${base}/api/strayReject`)).status, 200);
      await waitFor(() => err().includes('Unhandled promise rejection'), { what: 'the rejection logged' });
      assert.match(err(), /stray rejection/);
      assert.equal((await fetch(`${base}/api/where`)).status, 200);
      assert.equal(child.exitCode, null, 'still running');
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('logs an uncaught exception as fatal, drains and exits with code 1', async () => {
    const { child, base, out, err } = await start();
    const exited = once(child, 'exit');
    assert.equal(await (await fetch(`${base}/api/strayThrow`)).text(), 'scheduled');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 1);
    assert.match(err(), /Uncaught exception: stopping/);
    assert.match(err(), /stray timer throw/);
    assert.match(out(), /Received an uncaught exception: draining/);
    assert.match(out(), /Stopped\./);
  });
});
