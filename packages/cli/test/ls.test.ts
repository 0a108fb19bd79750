/** `hubbub ls`: the entities with their counts, the hubs and the functions of a running Hubbub. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { hubbub, ran } from '@hubbub/test-kit';
import * as signalR from '@microsoft/signalr';
import { render } from '../src/commands/ls.ts';

const example = new URL('../../../examples/seed-live-location', import.meta.url).pathname;
const clean = { HUBBUB_BUS_URL: undefined, HUBBUB_BUS_KEY: undefined, HUBBUB_LOG_LEVEL: 'warn' };

describe('hubbub ls', () => {
  it('lists queues with counts, hubs with connections and groups, functions with triggers', async () => {
    const data = mkdtempSync(join(tmpdir(), 'hubbub-ls-'));
    const env = { ...clean, HUBBUB_DATA_DIR: data };
    const app = hubbub(['functions', example, '--port', '0', '--data', data], env);
    try {
      const url = await waitFor(() => /\[POST\] (http:\/\/[^/]+)\/api\/negotiate/.exec(app.stdout())?.[1], {
        timeoutMs: 30_000,
        what: 'the functions',
      });
      const connection = new signalR.HubConnectionBuilder()
        .withUrl(`${url}/api/`)
        .configureLogging(signalR.LogLevel.None)
        .build();
      await connection.start();
      const anonymous = await fetch(`${url}/hubbub/status`);
      assert.equal(anonymous.status, 401, 'the listing needs the bus key');
      assert.equal(((await anonymous.json()) as { code: string }).code, 'SYSTEM_UNAUTHORIZED');
      assert.equal((await fetch(`${url}/hubbub/status`, { method: 'POST' })).status, 405);
      const sent = await ran(hubbub(['send', 'locations', 'not json either', '--ttl', '600'], env));
      assert.equal(sent.code, 0, sent.stderr);
      try {
        const listed = await ran(hubbub(['ls', '--json'], env));
        assert.equal(listed.code, 0, listed.stderr);
        const json = JSON.parse(listed.stdout) as {
          queues: Array<{ name: string; active: number; deadLettered: number }>;
          hubs: Array<{ name: string; connections: number; groups: number }>;
          functions: Array<{ name: string; trigger: string }>;
        };
        assert.ok(json.queues.some((q) => q.name === 'locations'));
        assert.deepEqual(
          json.hubs.find((h) => h.name === 'chat'),
          { name: 'chat', connections: 1, groups: 0 },
        );
        assert.deepEqual(json.functions.map((f) => `${f.name} ${f.trigger}`).sort(), [
          'message serviceBusTrigger',
          'negotiate httpTrigger',
        ]);
        const table = await ran(hubbub(['ls'], env));
        assert.equal(table.code, 0, table.stderr);
        assert.match(table.stdout, /^Queues\s+active\s+scheduled\s+dead-lettered$/m);
        assert.match(table.stdout, /^ {2}locations\s+\d+\s+0\s+\d+$/m);
        assert.match(table.stdout, /^ {2}chat\s+1\s+0$/m);
        assert.match(table.stdout, /^ {2}negotiate\s+httpTrigger \/api\/negotiate$/m);
      } finally {
        await connection.stop();
      }
    } finally {
      app.child.kill('SIGINT');
    }
    assert.equal(await app.exited, 0);
    rmSync(data, { recursive: true, force: true });
  });

  it('says (none) for empty sections, and that a bus on its own has no hubs or functions to show', async () => {
    const out = render({ queues: [], topics: [{ name: 'events', subscriptions: [] }] }, undefined);
    assert.match(out, /^Queues\n {2}\(none\)$/m);
    assert.match(out, /^ {2}events \(no subscriptions\)$/m);
    assert.match(out, /Hubs and functions: not shown/);
    const direct = await ran(hubbub(['ls', '--url', 'memory://'], clean));
    assert.equal(direct.code, 0, direct.stderr);
    assert.match(direct.stdout, /^Queues\n {2}\(none\)\n/);
    const bad = await ran(hubbub(['ls', 'extra'], clean));
    assert.match(bad.stderr, /\[CLI_USAGE\]/);
  });
});
