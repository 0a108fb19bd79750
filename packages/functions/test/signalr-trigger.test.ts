/**
 * The signalRTrigger over HTTP at /runtime/webhooks/signalr, with upstream requests signed here as
 * Azure SignalR signs them: connection events, invocations with results and errors, parameterNames,
 * and the requests it refuses (forged, unsigned, unknown hub or category, not JSON, malformed).
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { createFunctionsHost } from '../src/host.ts';
import {
  type SignalRGroupAction,
  type SignalRMessage,
  type SignalRTarget,
  signalRTriggerExtension,
} from '../src/index.ts';
import { fixture, serve } from './support.ts';

const KEY = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH';
const sign = (connectionId: string, key = KEY) =>
  `sha256=${createHmac('sha256', key).update(connectionId).digest('hex').toUpperCase()}`;

function recordingTarget() {
  const sent: { hub: string; value: SignalRMessage | SignalRGroupAction }[] = [];
  const target: SignalRTarget = {
    async send(hub, message) {
      sent.push({ hub, value: message });
    },
    async groupAction(hub, action) {
      sent.push({ hub, value: action });
    },
    async connectionInfo(hub) {
      return { url: `http://hub.test/client/?hub=${hub}`, accessToken: 'token' };
    },
  };
  return { sent, target };
}

interface Upstream {
  hub?: string;
  category?: string;
  event?: string;
  connectionId?: string;
  signature?: string | null;
  contentType?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

function post(base: string, u: Upstream): Promise<Response> {
  const connectionId = u.connectionId ?? 'conn-1';
  const headers: Record<string, string> = {
    'content-type': u.contentType ?? 'application/json',
    'x-asrs-connection-id': connectionId,
    'x-asrs-hub': u.hub ?? 'simplechat',
    'x-asrs-category': u.category ?? 'messages',
    'x-asrs-event': u.event ?? 'echo',
    ...u.headers,
  };
  if (u.signature !== null)
    headers['x-asrs-signature'] = u.signature ?? `sha256=${'0'.repeat(64)},${sign(connectionId)}`;
  const body = typeof u.body === 'string' ? u.body : JSON.stringify(u.body ?? {});
  return fetch(`${base}/runtime/webhooks/signalr`, { method: 'POST', headers, body });
}

const invocation = (target: string, args: unknown[], invocationId?: string) => ({
  type: 1,
  ...(invocationId === undefined ? {} : { invocationId }),
  target,
  arguments: args,
});

/** The one framed JSON message of a reply. */
async function completionOf(res: Response): Promise<Record<string, unknown>> {
  const text = await res.text();
  assert.ok(text.endsWith('\u001e'), `framed reply, got ${JSON.stringify(text)}`);
  return JSON.parse(text.slice(0, -1)) as Record<string, unknown>;
}

describe('signalRTrigger over /runtime/webhooks/signalr', () => {
  it('answers an invocation with a Completion carrying the return value, arguments named by parameterNames', async () => {
    const { target } = recordingTarget();
    await using app = await serve({ app: 'bidirectional-chat', signalR: target });
    const res = await post(app.base, {
      body: invocation('echo', ['hello'], '7'),
      headers: { 'x-asrs-client-query': '?room=blue&id=secret-left-out' },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await completionOf(res), {
      type: 3,
      invocationId: '7',
      result: {
        echo: 'hello',
        hub: 'simplechat',
        category: 'messages',
        event: 'echo',
        functionName: 'echo',
        hasInvocationId: true,
        query: { room: 'blue', id: 'secret-left-out' },
      },
    });
    const info = app.host.functions.find((f) => f.name === 'echo');
    assert.deepEqual(info, {
      name: 'echo',
      trigger: 'signalRTrigger',
      hub: 'simplechat',
      category: 'messages',
      event: 'echo',
    });
  });

  it('a function that throws gives the caller a Completion with the error', async () => {
    const { target } = recordingTarget();
    await using app = await serve({ app: 'bidirectional-chat', signalR: target });
    const failures: string[] = [];
    app.host.on('invocation:failed', (err, info) => failures.push(`${info.function}:${err.code}`));
    const res = await post(app.base, { event: 'fail', body: invocation('fail', [], '9') });
    assert.equal(res.status, 200);
    assert.deepEqual(await completionOf(res), { type: 3, invocationId: '9', error: 'The chat refused this message.' });
    assert.deepEqual(failures, ['fail:FUNCTIONS_INVOCATION_FAILED']);
    // Without an invocation id nobody waits: the failure is the reply's status.
    const oneWay = await post(app.base, { event: 'fail', body: invocation('fail', []) });
    assert.equal(oneWay.status, 500);
    assert.equal(((await oneWay.json()) as { code: string }).code, 'FUNCTIONS_INVOCATION_FAILED');
  });

  it('runs connection events and messages whose output bindings reach the hub', async () => {
    const { sent, target } = recordingTarget();
    await using app = await serve({ app: 'bidirectional-chat', signalR: target });
    const connected = await post(app.base, {
      category: 'connections',
      event: 'connected',
      connectionId: 'c-ada',
      headers: { 'x-asrs-user-id': 'ada' },
      body: { type: 10 },
    });
    assert.equal(connected.status, 200);
    const broadcast = await post(app.base, {
      event: 'broadcast',
      connectionId: 'c-ada',
      headers: { 'x-asrs-user-id': 'ada' },
      body: invocation('broadcast', ['hi all']),
    });
    assert.equal(broadcast.status, 200);
    assert.equal((await broadcast.arrayBuffer()).byteLength, 0);
    const join = await post(app.base, { event: 'joinGroup', body: invocation('joinGroup', ['c-ada', 'blue']) });
    assert.equal(join.status, 200);
    const left = await post(app.base, {
      category: 'connections',
      event: 'disconnected',
      connectionId: 'c-ada',
      body: { Type: 11, Error: 'gone' },
    });
    assert.equal(left.status, 200);
    assert.deepEqual(sent, [
      { hub: 'simplechat', value: { target: 'newConnection', arguments: [{ connectionId: 'c-ada', userId: 'ada' }] } },
      { hub: 'simplechat', value: { target: 'newMessage', arguments: [{ sender: 'ada', text: 'hi all' }] } },
      { hub: 'simplechat', value: { action: 'add', connectionId: 'c-ada', groupName: 'blue' } },
      { hub: 'simplechat', value: { target: 'connectionLeft', arguments: ['c-ada'] } },
    ]);
  });

  it('refuses forged, unsigned and wrongly signed requests (401) and runs nothing', async () => {
    const { sent, target } = recordingTarget();
    await using app = await serve({ app: 'bidirectional-chat', signalR: target });
    const cases: Upstream[] = [
      { signature: null },
      { signature: '' },
      { signature: sign('conn-1', 'another-key') },
      { signature: sign('another-connection') },
      { signature: 'sha256=nothex' },
      { signature: sign('conn-1').replace('sha256=', 'sha1=') },
    ];
    for (const c of cases) {
      const res = await post(app.base, { event: 'broadcast', body: invocation('broadcast', ['forged']), ...c });
      assert.equal(res.status, 401, JSON.stringify(c));
      assert.equal(((await res.json()) as { code: string }).code, 'FUNCTIONS_UNAUTHORIZED');
    }
    assert.deepEqual(sent, []);
  });

  it('refuses an unknown hub, category or event, a body that is not JSON, and malformed messages', async () => {
    const { sent, target } = recordingTarget();
    await using app = await serve({ app: 'bidirectional-chat', signalR: target });
    const cases: [Upstream, number, string][] = [
      [{ hub: 'otherhub', body: invocation('echo', ['x'], '1') }, 404, 'FUNCTIONS_NOT_FOUND'],
      [{ category: 'streams', body: invocation('echo', ['x'], '1') }, 404, 'FUNCTIONS_NOT_FOUND'],
      [{ event: 'nosuch', body: invocation('nosuch', [], '1') }, 404, 'FUNCTIONS_NOT_FOUND'],
      [{ contentType: 'application/x-msgpack', body: 'x' }, 415, 'FUNCTIONS_UNSUPPORTED_MEDIA_TYPE'],
      [{ contentType: 'text/plain', body: 'x' }, 415, 'FUNCTIONS_UNSUPPORTED_MEDIA_TYPE'],
      [{ body: '{not json' }, 400, 'FUNCTIONS_BAD_REQUEST'],
      [{ body: [1, 2] }, 400, 'FUNCTIONS_BAD_REQUEST'],
      [{ body: { type: 3, invocationId: '1' } }, 400, 'FUNCTIONS_BAD_REQUEST'],
      [{ body: invocation('broadcast', ['x'], '1') }, 400, 'FUNCTIONS_BAD_REQUEST'],
      [{ body: { type: 1, target: 'echo', arguments: 'x' } }, 400, 'FUNCTIONS_BAD_REQUEST'],
      [{ category: 'connections', event: 'connected', body: { type: 11 } }, 400, 'FUNCTIONS_BAD_REQUEST'],
      [{ category: 'connections', event: 'reconnected', body: { type: 10 } }, 400, 'FUNCTIONS_BAD_REQUEST'],
      [{ headers: { 'x-asrs-hub': '' }, body: invocation('echo', [], '1') }, 400, 'FUNCTIONS_BAD_REQUEST'],
    ];
    for (const [c, status, code] of cases) {
      const res = await post(app.base, c);
      assert.equal(res.status, status, JSON.stringify(c));
      assert.equal(((await res.json()) as { code: string }).code, code, JSON.stringify(c));
    }
    // Signed and addressed to a function, but not a POST: refused before anything runs.
    const get = await fetch(`${app.base}/runtime/webhooks/signalr`, {
      headers: {
        'x-asrs-connection-id': 'conn-1',
        'x-asrs-hub': 'simplechat',
        'x-asrs-category': 'messages',
        'x-asrs-event': 'broadcast',
        'x-asrs-signature': sign('conn-1'),
      },
    });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    assert.deepEqual(sent, []);
    // The host is still healthy.
    const ok = await post(app.base, { body: invocation('echo', ['still here'], '2') });
    assert.equal(((await completionOf(ok)).result as { echo: string }).echo, 'still here');
  });

  it('a connected function that throws refuses the connection (403); events nobody handles are accepted', async () => {
    const { target } = recordingTarget();
    const failing: SignalRTarget = { ...target, send: () => Promise.reject(new Error('hub down')) };
    await using app = await serve({ app: 'bidirectional-chat', signalR: failing });
    const res = await post(app.base, { category: 'connections', event: 'connected', body: { type: 10 } });
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { code: string }).code, 'FUNCTIONS_OUTPUT_FAILED');
    const unhandled = await post(app.base, {
      hub: 'quiet',
      category: 'connections',
      event: 'connected',
      body: { type: 10 },
    });
    assert.equal(unhandled.status, 200);
  });

  it('bounds the body (413) and answers 503 before the host started and after it closed', async () => {
    const upstream = signalRTriggerExtension({ maxUpstreamBodyBytes: 256 });
    const request = { headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') };
    const before = await upstream.deliver(request);
    assert.equal(before.status, 503);
    const { target } = recordingTarget();
    const app = await serve({ app: 'bidirectional-chat', signalR: target, extensions: [upstream] });
    try {
      const big = await post(app.base, { body: invocation('echo', ['x'.repeat(300)], '1') });
      assert.equal(big.status, 413);
      assert.equal(((await big.json()) as { code: string }).code, 'FUNCTIONS_PAYLOAD_TOO_LARGE');
      const inProcess = await upstream.deliver({ ...request, body: Buffer.alloc(300, 0x20) });
      assert.equal(inProcess.status, 413);
    } finally {
      await app[Symbol.asyncDispose]();
    }
    const after = await upstream.deliver(request);
    assert.equal(after.status, 503);
    assert.equal(JSON.parse(Buffer.from(after.body).toString()).code, 'FUNCTIONS_CLOSED');
  });

  it('fails the start when two functions take the same hub, category and event', async () => {
    const host = createFunctionsHost({ appDir: fixture('broken-duplicate-upstream') });
    await assert.rejects(host.start(), (err: { code: string; detail?: Record<string, unknown> }) => {
      assert.equal(err.code, 'FUNCTIONS_INVALID_BINDING');
      assert.equal(err.detail?.function, 'second');
      return true;
    });
    await host.close();
  });
});
