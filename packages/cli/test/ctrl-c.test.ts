/** Ctrl-C while a function runs: the first says it drains and what a second drops; the second stops at once. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { hubbub } from '@hubbub/test-kit';

const app = new URL('./fixtures/slow-app', import.meta.url).pathname;

describe('Ctrl-C', () => {
  it('drains on the first, says what the second drops, and the second stops at once', async () => {
    const data = mkdtempSync(join(tmpdir(), 'hubbub-ctrl-c-'));
    const run = hubbub(['functions', app, '--port', '0', '--data', data], { HUBBUB_LOG_LEVEL: 'info' });
    try {
      const url = await waitFor(() => /\[[A-Z,]*\] (http:\/\/[^/]+)\/api\/slow/.exec(run.stdout())?.[1], {
        timeoutMs: 30_000,
        what: `the function list (stderr: ${run.stderr()})`,
      });
      const inFlight = fetch(`${url}/api/slow`).catch((err: unknown) => err);
      await waitFor(() => /Executing 'Functions\.slow'/.test(run.stderr()), {
        timeoutMs: 10_000,
        what: 'the invocation',
      });
      run.child.kill('SIGINT');
      await waitFor(() => run.stdout().includes('Press Ctrl-C again'), { timeoutMs: 10_000, what: 'the notice' });
      assert.match(run.stdout(), /Received SIGINT: draining — running functions finish/);
      assert.match(run.stdout(), /running invocations are dropped/);
      run.child.kill('SIGINT');
      assert.equal(await run.exited, 130);
      assert.match(run.stdout(), /Stopped without draining\.\n$/);
      assert.ok((await inFlight) instanceof Error, 'the request in flight was cut');
    } finally {
      run.child.kill('SIGKILL');
      rmSync(data, { recursive: true, force: true });
    }
  });
});
