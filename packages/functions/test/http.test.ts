import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serve } from './support.ts';

describe('HTTP trigger (CommonJS app)', () => {
  it('lists the functions it loaded with their routes', async () => {
    await using app = await serve({ app: 'http-app' });
    const hello = app.host.functions.find((f) => f.name === 'hello');
    assert.deepEqual(hello, {
      name: 'hello',
      trigger: 'httpTrigger',
      route: 'api/hello/{name?}',
      methods: ['GET'],
      authLevel: 'anonymous',
    });
    assert.ok(app.host.functions.some((f) => f.name === 'secret'));
  });

  it('leaves out functions disabled by AzureWebJobs.<name>.Disabled', async () => {
    await using app = await serve({
      app: 'http-app',
      settings: { 'AzureWebJobs.hello.Disabled': 'true', 'AzureWebJobs.boom.Disabled': '0' },
    });
    assert.ok(!app.host.functions.some((f) => f.name === 'hello'));
    assert.ok(app.host.functions.some((f) => f.name === 'boom'));
    const res = await fetch(`${app.base}/api/hello/Ada`);
    assert.equal(res.status, 404);
    await res.body?.cancel();
  });

  it('routes optional parameters and query strings through the library HttpRequest', async () => {
    await using app = await serve({ app: 'http-app' });
    const named = await fetch(`${app.base}/api/hello/Ada`);
    assert.equal(named.status, 200);
    assert.equal(await named.text(), 'Hello, Ada!');
    assert.match(named.headers.get('content-type') ?? '', /^text\/plain/);
    const queried = await fetch(`${app.base}/api/hello?name=Bob`);
    assert.equal(await queried.text(), 'Hello, Bob!');
  });

  it('prefers constrained routes, keeps repeated query keys, and matches catch-alls', async () => {
    await using app = await serve({ app: 'http-app' });
    assert.deepEqual(await (await fetch(`${app.base}/api/items/42?tag=a&tag=b`)).json(), {
      id: '42',
      tags: ['a', 'b'],
    });
    assert.deepEqual(await (await fetch(`${app.base}/api/items/pen`)).json(), { name: 'pen' });
    assert.deepEqual(await (await fetch(`${app.base}/api/files/a/b/c.txt`)).json(), {
      rest: 'a/b/c.txt',
      method: 'GET',
    });
    assert.deepEqual(await (await fetch(`${app.base}/api/files`, { method: 'DELETE' })).json(), {
      rest: '',
      method: 'DELETE',
    });
  });

  it('hands every body kind to the function and writes status, headers and cookies back', async () => {
    await using app = await serve({ app: 'http-app' });
    const json = await fetch(`${app.base}/api/echo`, {
      method: 'POST',
      body: JSON.stringify({ a: 1 }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(json.status, 201);
    const body = (await json.json()) as Record<string, unknown>;
    assert.deepEqual(body.value, { a: 1 });
    assert.equal(body.kind, 'json');
    assert.equal(json.headers.get('x-function'), 'echo');
    assert.match(json.headers.get('x-invocation') ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(json.headers.get('set-cookie'), 'session=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Lax');

    const form = await fetch(`${app.base}/api/echo`, {
      method: 'POST',
      body: new URLSearchParams({ x: '1', y: 'two' }),
    });
    assert.deepEqual(((await form.json()) as { value: unknown }).value, { x: '1', y: 'two' });

    const multipart = new FormData();
    multipart.set('field', 'v');
    const mp = await fetch(`${app.base}/api/echo`, { method: 'POST', body: multipart });
    assert.deepEqual(((await mp.json()) as { value: unknown }).value, { field: 'v' });

    const text = await fetch(`${app.base}/api/echo`, {
      method: 'POST',
      body: 'plain words',
      headers: { 'content-type': 'text/plain' },
    });
    assert.deepEqual(await text.json(), {
      kind: 'text',
      value: 'plain words',
      url: `${app.base}/api/echo`,
      user: null,
    });

    const bytes = await fetch(`${app.base}/api/echo`, {
      method: 'POST',
      body: new Uint8Array([0, 1, 254, 255]),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(((await bytes.json()) as { value: unknown }).value, '0001feff');
  });

  it('exposes the App Service principal as request.user', async () => {
    await using app = await serve({ app: 'http-app' });
    const principal = Buffer.from(
      JSON.stringify({ auth_typ: 'aad', claims: [], name_typ: 'n', role_typ: 'r' }),
    ).toString('base64');
    const res = await fetch(`${app.base}/api/echo`, {
      method: 'POST',
      body: '{}',
      headers: {
        'content-type': 'application/json',
        'x-ms-client-principal': principal,
        'x-ms-client-principal-id': 'user-1',
        'x-ms-client-principal-name': 'ada',
        'x-ms-client-principal-idp': 'aad',
      },
    });
    const user = ((await res.json()) as { user: { id: string; username: string } }).user;
    assert.equal(user.id, 'user-1');
    assert.equal(user.username, 'ada');
  });

  it('buffers streamed response bodies and answers an empty 200 when nothing is returned', async () => {
    await using app = await serve({ app: 'http-app' });
    assert.equal(await (await fetch(`${app.base}/api/streamed`)).text(), 'one,two');
    const none = await fetch(`${app.base}/api/nothing`);
    assert.equal(none.status, 200);
    assert.equal(await none.text(), '');
  });

  it('answers 404 and 405 with JSON error bodies', async () => {
    await using app = await serve({ app: 'http-app' });
    const missing = await fetch(`${app.base}/api/nope`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { code: string }).code, 'FUNCTIONS_NOT_FOUND');
    const outside = await fetch(`${app.base}/other/hello`);
    assert.equal(outside.status, 404);
    await outside.body?.cancel();
    const wrong = await fetch(`${app.base}/api/hello`, { method: 'PUT' });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'GET');
    assert.equal(((await wrong.json()) as { code: string }).code, 'FUNCTIONS_METHOD_NOT_ALLOWED');
  });

  it('turns a throwing function into a 500 JSON error and keeps serving', async () => {
    await using app = await serve({ app: 'http-app' });
    const res = await fetch(`${app.base}/api/boom`);
    assert.equal(res.status, 500);
    const body = (await res.json()) as { code: string; detail: { function: string } };
    assert.equal(body.code, 'FUNCTIONS_INVOCATION_FAILED');
    assert.equal(body.detail.function, 'boom');
    assert.equal((await fetch(`${app.base}/api/hello/again`)).status, 200);
  });

  it('rejects bodies over maxRequestBodyBytes with 413', async () => {
    await using app = await serve({ app: 'http-app', maxRequestBodyBytes: 8 });
    const res = await fetch(`${app.base}/api/echo`, {
      method: 'POST',
      body: 'x'.repeat(64),
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { code: string }).code, 'FUNCTIONS_PAYLOAD_TOO_LARGE');
  });
});

describe('auth levels and function keys', () => {
  const keys = { master: 'master-key', host: 'host-key', functions: { secret: 'secret-key' } };

  it('requires a function key (header or code query) for authLevel function', async () => {
    await using app = await serve({ app: 'http-app', keys });
    const denied = await fetch(`${app.base}/api/secret`);
    assert.equal(denied.status, 401);
    assert.equal(((await denied.json()) as { code: string }).code, 'FUNCTIONS_UNAUTHORIZED');
    assert.equal((await fetch(`${app.base}/api/secret`, { headers: { 'x-functions-key': 'wrong' } })).status, 401);
    for (const key of ['secret-key', 'host-key', 'master-key']) {
      const ok = await fetch(`${app.base}/api/secret`, { headers: { 'x-functions-key': key } });
      assert.equal(await ok.text(), 'function secret');
    }
    assert.equal((await fetch(`${app.base}/api/secret?code=host-key`)).status, 200);
  });

  it('requires the master key for authLevel admin', async () => {
    await using app = await serve({ app: 'http-app', keys });
    assert.equal((await fetch(`${app.base}/api/admin/things?code=host-key`)).status, 401);
    assert.equal((await fetch(`${app.base}/api/admin/things?code=master-key`)).status, 200);
  });

  it('reads keys from settings, with options winning', async () => {
    await using app = await serve({
      app: 'http-app',
      settings: {
        HUBBUB_FUNCTIONS_MASTER_KEY: 'm-from-settings',
        HUBBUB_FUNCTIONS_HOST_KEYS: 'h1, h2',
        HUBBUB_FUNCTIONS_KEY_secret: 'only-secret',
      },
      keys: { host: 'h-from-options' },
    });
    assert.equal(app.host.keys.master, 'm-from-settings');
    assert.deepEqual(app.host.keys.host, ['h-from-options']);
    for (const [key, status] of [
      ['only-secret', 200],
      ['h-from-options', 200],
      ['h1', 401],
      ['m-from-settings', 200],
    ] as const) {
      const res = await fetch(`${app.base}/api/secret?code=${key}`);
      assert.equal(res.status, status, key);
      await res.body?.cancel();
    }
  });

  it('generates keys when none are given', async () => {
    await using app = await serve({ app: 'http-app' });
    assert.ok(app.host.keys.master.length >= 32);
    const ok = await fetch(`${app.base}/api/secret`, { headers: { 'x-functions-key': app.host.keys.host[0]! } });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
  });
});

describe('hooks and return bindings', () => {
  it('runs appStart, preInvocation and postInvocation hooks with their hookData', async () => {
    await using app = await serve({ app: 'http-app' });
    const res = await fetch(`${app.base}/api/hooked`);
    assert.equal(res.headers.get('x-wrapped'), 'yes');
    assert.deepEqual(await res.json(), { fromHandler: true, hookData: 'pre', app: 'boot' });
  });

  it('uses an explicit $return http binding', async () => {
    await using app = await serve({ app: 'http-app' });
    const res = await fetch(`${app.base}/api/outputs`);
    assert.equal(res.status, 202);
    assert.equal(await res.text(), 'accepted');
  });
});

describe('ESM app', () => {
  it('loads a type:module app with a list of main globs', async () => {
    await using app = await serve({ app: 'esm-app' });
    assert.deepEqual(app.host.functions.map((f) => f.name).sort(), ['extra', 'greet']);
    assert.equal(await (await fetch(`${app.base}/api/greet/Lin`)).text(), 'Hi Lin from ESM');
    assert.deepEqual(await (await fetch(`${app.base}/api/extra`)).json(), { esm: true });
  });

  it('registers again when an ESM entry that only imports other modules is loaded a second time', async () => {
    for (let round = 0; round < 2; round++) {
      await using app = await serve({ app: 'esm-nested' });
      assert.deepEqual(app.host.functions.map((f) => f.name).sort(), ['orders', 'status'], `round ${round}`);
      assert.deepEqual(await (await fetch(`${app.base}/api/orders`)).json(), { label: 'list of orders' });
    }
  });

  it('keeps registrations apart when two hosts load at the same time', async () => {
    const [one, two] = await Promise.all([serve({ app: 'esm-app' }), serve({ app: 'http-app' })]);
    try {
      assert.deepEqual(one.host.functions.map((f) => f.name).sort(), ['extra', 'greet']);
      assert.ok(two.host.functions.some((f) => f.name === 'hello'));
      assert.ok(!two.host.functions.some((f) => f.name === 'greet'));
    } finally {
      await one[Symbol.asyncDispose]();
      await two[Symbol.asyncDispose]();
    }
  });

  it('loads the same app in two hosts at once', async () => {
    await using one = await serve({ app: 'esm-app' });
    await using two = await serve({ app: 'esm-app' });
    assert.equal(one.host.functions.length, 2);
    assert.equal(two.host.functions.length, 2);
    assert.equal((await fetch(`${two.base}/api/extra`)).status, 200);
  });
});
