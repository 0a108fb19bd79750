/**
 * The extension model: a binding or trigger the host does not know is an extension away — given in
 * `extensions`, with no change to the host — and one with a built-in name replaces the built-in.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import type { Extension } from '../src/extension.ts';
import { createFunctionsHost } from '../src/index.ts';
import { fixture, serve } from './support.ts';

describe('extensions', () => {
  it('loads a function whose binding type an extension brings', async () => {
    const validated: Record<string, unknown>[] = [];
    const sql: Extension = {
      name: 'sql',
      setup: () => ({
        bindings: [{ type: 'sql', direction: 'out', validate: (binding) => void validated.push({ ...binding }) }],
      }),
    };
    await using app = await serve({ app: 'broken-unknown-binding', extensions: [sql] });
    assert.deepEqual(
      app.host.functions.map((f) => [f.name, f.trigger]),
      [['saveDoc', 'httpTrigger']],
    );
    assert.equal(validated[0]?.commandText, 'dbo.docs');
    assert.equal((await fetch(`${app.base}/api/saveDoc`)).status, 200);
  });

  it('starts a trigger an extension brings, with its config, and stops it on close', async () => {
    const log: unknown[] = [];
    const storage: Extension = {
      name: 'storage',
      setup: (context) => ({
        trigger: {
          binding: { type: 'queueTrigger', direction: 'trigger' },
          async start(functions, invoke) {
            log.push(['start', functions.map((f) => f.name), context.config]);
            for (const entry of functions) {
              await invoke(entry, {
                invocationId: 'i-1',
                triggerData: { string: 'hello' },
                triggerMetadata: {},
                data: { invocationId: 'i-1', expressions: {} },
              });
              log.push(['invoked', entry.name]);
            }
            return { close: async () => void log.push(['close']), describe: () => ({ queue: 'q' }) };
          },
        },
      }),
    };
    const host = createFunctionsHost({ appDir: fixture('broken-unknown-trigger'), extensions: [storage] });
    await host.start();
    assert.deepEqual(host.functions, [{ name: 'fromStorage', trigger: 'queueTrigger', queue: 'q' }]);
    await host.close();
    assert.deepEqual(log, [['start', ['fromStorage'], {}], ['invoked', 'fromStorage'], ['close']]);
  });

  it('replaces a built-in extension given under its name', async () => {
    const sent: unknown[] = [];
    const signalR: Extension = {
      name: 'signalR',
      setup: () => ({
        bindings: [
          { type: 'signalR', direction: 'out', write: async (_binding, _scope, value) => void sent.push(value) },
          { type: 'signalRConnectionInfo', direction: 'in', read: async () => ({ url: 'u', accessToken: 't' }) },
        ],
      }),
    };
    await using app = await serve({ app: 'signalr-app', extensions: [signalR] });
    const res = await fetch(`${app.base}/api/broadcast`, {
      method: 'POST',
      body: JSON.stringify({ target: 't', arguments: [1] }),
    });
    assert.equal(res.status, 202);
    await waitFor(() => sent.length === 1);
    assert.deepEqual(sent, [{ target: 't', arguments: [1] }]);
  });
});
