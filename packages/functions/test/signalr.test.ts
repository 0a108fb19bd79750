import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import type {
  ConnectionInfoRequest,
  EncodedSignalRMessage,
  SignalRGroupAction,
  SignalRMessage,
  SignalRTarget,
} from '../src/index.ts';
import { MemoryBus } from '../src/testing/index.ts';
import { serve } from './support.ts';

/** A recording implementation of the SignalR port. */
function recordingTarget() {
  const calls: { op: string; hub: string; value: SignalRMessage | SignalRGroupAction | ConnectionInfoRequest }[] = [];
  const target: SignalRTarget = {
    async send(hub, message) {
      calls.push({ op: 'send', hub, value: message });
    },
    async groupAction(hub, action) {
      calls.push({ op: 'group', hub, value: action });
    },
    async connectionInfo(hub, request) {
      calls.push({ op: 'info', hub, value: request });
      return { url: `http://hub.test/client/?hub=${hub}`, accessToken: `token-for-${request.userId ?? 'anonymous'}` };
    },
  };
  return { calls, target };
}

describe('SignalR bindings', () => {
  it('signalRConnectionInfo resolves the hub from a %setting% and the user id from a header expression', async () => {
    const { calls, target } = recordingTarget();
    await using app = await serve({ app: 'signalr-app', signalR: target });
    const res = await fetch(`${app.base}/api/negotiate`, {
      method: 'POST',
      headers: { 'x-ms-client-principal-id': 'ada' },
    });
    assert.deepEqual(await res.json(), { url: 'http://hub.test/client/?hub=orders', accessToken: 'token-for-ada' });
    const anonymous = await fetch(`${app.base}/api/negotiate`, { method: 'POST' });
    assert.equal(((await anonymous.json()) as { accessToken: string }).accessToken, 'token-for-anonymous');
    assert.deepEqual(calls, [
      { op: 'info', hub: 'orders', value: { userId: 'ada' } },
      { op: 'info', hub: 'orders', value: {} },
    ]);
  });

  it('copies the claims named in claimTypeList from idToken', async () => {
    const { calls, target } = recordingTarget();
    await using app = await serve({ app: 'signalr-app', signalR: target });
    const payload = Buffer.from(JSON.stringify({ name: 'Ada', role: 'courier', secret: 'x' })).toString('base64url');
    const token = `e30.${payload}.sig`;
    const res = await fetch(`${app.base}/api/negotiateWithClaims?user=ada`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.deepEqual(calls[0], {
      op: 'info',
      hub: 'orders',
      value: { userId: 'ada', claims: { name: 'Ada', role: 'courier' } },
    });
    const bad = await fetch(`${app.base}/api/negotiateWithClaims`, {
      method: 'POST',
      headers: { authorization: 'Bearer nope' },
    });
    assert.equal(((await bad.json()) as { code: string }).code, 'FUNCTIONS_INVALID_BINDING');
  });

  for (const workerThreads of [0, 1]) {
    it(`signalR output sends messages to all, users, groups and connections, and applies group actions (${workerThreads} worker threads)`, async () => {
      const { calls, target } = recordingTarget();
      await using app = await serve({ app: 'signalr-app', signalR: target, workerThreads });
      const res = await fetch(`${app.base}/api/broadcast`, {
        method: 'POST',
        body: JSON.stringify([
          { target: 'status', arguments: [{ order: 1, state: 'cooking' }] },
          { target: 'status', arguments: [2], userId: 'ada' },
          { target: 'status', arguments: [3], groupName: 'order-3' },
          { target: 'status', arguments: [4], connectionId: 'c-1' },
          { action: 'add', userId: 'ada', groupName: 'order-3' },
          { action: 'remove', connectionId: 'c-1', groupName: 'order-3' },
          { action: 'removeAll', userId: 'ada' },
        ]),
      });
      assert.equal(res.status, 202);
      assert.deepEqual(
        calls.map((c) => [c.op, c.hub, c.value]),
        [
          ['send', 'orders', { target: 'status', arguments: [{ order: 1, state: 'cooking' }] }],
          ['send', 'orders', { target: 'status', arguments: [2], userId: 'ada' }],
          ['send', 'orders', { target: 'status', arguments: [3], groupName: 'order-3' }],
          ['send', 'orders', { target: 'status', arguments: [4], connectionId: 'c-1' }],
          ['group', 'orders', { action: 'add', userId: 'ada', groupName: 'order-3' }],
          ['group', 'orders', { action: 'remove', connectionId: 'c-1', groupName: 'order-3' }],
          ['group', 'orders', { action: 'removeAll', userId: 'ada' }],
        ],
      );
    });
  }

  it('a worker thread hands a target that takes them pre-encoded messages: the JSON protocol record, written once', async () => {
    const { calls, target } = recordingTarget();
    const encoded: { hub: string; message: EncodedSignalRMessage }[] = [];
    target.sendEncoded = async (hub, message) => {
      encoded.push({ hub, message });
    };
    await using app = await serve({ app: 'signalr-app', signalR: target, workerThreads: 1 });
    const location = { order: 1, note: 'é "q" \u2028', at: null };
    const res = await fetch(`${app.base}/api/broadcast`, {
      method: 'POST',
      body: JSON.stringify([
        { target: 'status', arguments: [location, 2], groupName: 'order-1' },
        { action: 'add', userId: 'ada', groupName: 'order-1' },
        { target: 'status', userId: 'ada' },
      ]),
    });
    assert.equal(res.status, 202);
    assert.deepEqual(encoded, [
      {
        hub: 'orders',
        message: {
          target: 'status',
          json: JSON.stringify({ type: 1, target: 'status', arguments: [location, 2] }),
          groupName: 'order-1',
        },
      },
      {
        hub: 'orders',
        message: { target: 'status', json: '{"type":1,"target":"status","arguments":[]}', userId: 'ada' },
      },
    ]);
    assert.deepEqual(calls, [
      { op: 'group', hub: 'orders', value: { action: 'add', userId: 'ada', groupName: 'order-1' } },
    ]);
  });

  it('resolves binding expressions from route parameters in hubName', async () => {
    const { calls, target } = recordingTarget();
    await using app = await serve({ app: 'signalr-app', signalR: target });
    const res = await fetch(`${app.base}/api/users/lin/notify`, { method: 'POST' });
    assert.equal(res.status, 204);
    assert.deepEqual(calls, [
      { op: 'send', hub: 'orders-lin', value: { target: 'notify', arguments: ['lin'], userId: 'lin' } },
    ]);
  });

  for (const workerThreads of [0, 1])
    it(`fails the invocation with FUNCTIONS_OUTPUT_FAILED for an invalid message or a failing hub (${workerThreads} worker threads)`, async () => {
      const { target } = recordingTarget();
      await using app = await serve({ app: 'signalr-app', signalR: target, workerThreads });
      for (const bad of [
        { arguments: [] },
        { target: 'x', arguments: 'nope' },
        { action: 'explode', userId: 'a', groupName: 'g' },
        { action: 'add', groupName: 'g' },
        7,
      ]) {
        const res = await fetch(`${app.base}/api/broadcast`, { method: 'POST', body: JSON.stringify(bad) });
        assert.equal(res.status, 500, JSON.stringify(bad));
        assert.equal(((await res.json()) as { code: string }).code, 'FUNCTIONS_OUTPUT_FAILED');
      }
      const failing: SignalRTarget = { ...target, send: async () => Promise.reject(new Error('hub down')) };
      await using down = await serve({ app: 'signalr-app', signalR: failing, workerThreads });
      const res = await fetch(`${down.base}/api/broadcast`, {
        method: 'POST',
        body: JSON.stringify({ target: 't', arguments: [] }),
      });
      assert.equal(((await res.json()) as { code: string }).code, 'FUNCTIONS_OUTPUT_FAILED');
    });

  it('passes the connection setting to a hub resolver', async () => {
    const { target } = recordingTarget();
    const seen: { name: string; value: string }[] = [];
    await using app = await serve({
      app: 'signalr-app',
      signalR: (connection) => {
        seen.push(connection);
        return target;
      },
    });
    await (await fetch(`${app.base}/api/negotiate`, { method: 'POST' })).body?.cancel();
    assert.equal(seen[0]?.name, 'AzureSignalRConnectionString');
    assert.match(seen[0]?.value ?? '', /^Endpoint=http:\/\/127\.0\.0\.1;AccessKey=/);
  });

  it('answers FUNCTIONS_BINDING_UNAVAILABLE when it was given no hub, or a resolver that names none', async () => {
    const cases = [{}, { signalR: () => undefined }];
    for (const given of cases) {
      await using app = await serve({ app: 'signalr-app', ...given });
      const res = await fetch(`${app.base}/api/negotiate`, { method: 'POST' });
      assert.equal(res.status, 500);
      const error = (await res.json()) as { code: string; detail: Record<string, unknown> };
      assert.equal(error.code, 'FUNCTIONS_BINDING_UNAVAILABLE');
      assert.equal(error.detail.setting, 'AzureSignalRConnectionString');
    }
  });

  it('asks a resolver once per connection setting and reports a failed invocation', async () => {
    const { target } = recordingTarget();
    let made = 0;
    await using app = await serve({
      app: 'signalr-app',
      signalR: () => {
        made++;
        return { ...target, send: async () => Promise.reject(new Error('hub down')) };
      },
    });
    const failed: { code: string; function: string; trigger: string }[] = [];
    app.host.on('invocation:failed', (err, info) =>
      failed.push({ code: err.code, function: info.function, trigger: info.trigger }),
    );
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${app.base}/api/broadcast`, {
        method: 'POST',
        body: JSON.stringify({ target: 't', arguments: [] }),
      });
      assert.equal(res.status, 500);
      await res.body?.cancel();
    }
    assert.equal(made, 1);
    assert.deepEqual(
      failed,
      Array(2).fill({ code: 'FUNCTIONS_OUTPUT_FAILED', function: 'broadcast', trigger: 'httpTrigger' }),
    );
  });
});

describe('binding expressions on a Service Bus trigger', () => {
  it('resolve from the message body and trigger metadata', async () => {
    const { calls, target } = recordingTarget();
    const bus = new MemoryBus();
    await using _app = await serve({ app: 'bus-signalr-app', signalR: target, bus });
    bus.enqueue('notifications', {
      messageId: 'm-1',
      body: { region: 'north', customer: 'ada' },
      contentType: 'application/json',
    });
    await waitFor(() => calls.length === 1, { what: 'the SignalR output' });
    assert.deepEqual(calls[0], {
      op: 'send',
      hub: 'orders_north_m-1',
      value: { target: 'update', userId: 'ada', arguments: ['m-1'] },
    });
    await waitFor(() => bus.deliveries[0]?.settled === 'completed', { what: 'the message completed' });
  });
});
