import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { type Logger, waitFor } from '@hubbub/kernel';
import { createFunctionsHost } from '../src/index.ts';
import { fixture, serve } from './support.ts';

function recordingLogger() {
  const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  const logger: Logger = {
    debug: (fields, message) => lines.push({ level: 'debug', fields, message }),
    info: (fields, message) => lines.push({ level: 'info', fields, message }),
    warn: (fields, message) => lines.push({ level: 'warn', fields, message }),
    error: (fields, message) => lines.push({ level: 'error', fields, message }),
    child: () => logger,
  };
  return { lines, logger };
}

describe('host lifecycle', () => {
  it('takes no request before start (its routes are not known), and answers 503 FUNCTIONS_CLOSED after close', async () => {
    const host = createFunctionsHost({ appDir: fixture('http-app') });
    const server = createServer((req, res) => {
      if (!host.handleRequest(req, res)) res.writeHead(404).end();
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.equal((await fetch(`${base}/api/hello`)).status, 404);
      await host.start();
      assert.equal((await fetch(`${base}/api/hello`)).status, 200);
      assert.equal((await fetch(`${base}/elsewhere`)).status, 404, 'outside the route prefix: not taken');
      await host.close();
      const after = await fetch(`${base}/api/hello`);
      assert.equal(after.status, 503);
      assert.equal(((await after.json()) as { code: string }).code, 'FUNCTIONS_CLOSED');
      assert.equal((await fetch(`${base}/elsewhere`)).status, 404);
    } finally {
      server.closeAllConnections();
      server.close();
      await host.close();
    }
  });

  it('runs appTerminate hooks on close, once', async () => {
    const g = globalThis as { httpAppTerminations?: number };
    const before = g.httpAppTerminations ?? 0;
    const host = createFunctionsHost({ appDir: fixture('http-app') });
    await host.start();
    await host.close();
    await host.close();
    assert.equal(g.httpAppTerminations, before + 1);
  });

  it('reports an appTerminate hook that throws, and closes anyway', async () => {
    const g = globalThis as { httpAppTerminateFails?: boolean };
    const host = createFunctionsHost({ appDir: fixture('http-app') });
    const failures: { hook: string; error: string }[] = [];
    host.on('hook:failed', (err, info) => failures.push({ hook: info.hook, error: (err as Error).message }));
    await host.start();
    g.httpAppTerminateFails = true;
    try {
      await host.close();
    } finally {
      delete g.httpAppTerminateFails;
    }
    assert.deepEqual(failures, [{ hook: 'appTerminate', error: 'terminate failed' }]);
  });

  it('forwards context.log to the logger with the function name and invocation id', async () => {
    const { lines, logger } = recordingLogger();
    await using app = await serve({ app: 'http-app', logger });
    await (await fetch(`${app.base}/api/hello/Ada`)).text();
    const line = lines.find((l) => l.message === 'hello Ada');
    assert.equal(line?.level, 'info');
    assert.equal(line?.fields.function, 'hello');
    assert.equal(line?.fields.category, 'user');
    assert.match(String(line?.fields.invocationId), /^[0-9a-f-]{36}$/);
  });

  it('lets app.hook.log rewrite messages and levels', async () => {
    const { lines, logger } = recordingLogger();
    await using app = await serve({ app: 'esm-app', logger });
    await (await fetch(`${app.base}/api/greet/Lin`)).text();
    await (await fetch(`${app.base}/api/greet/quiet`)).text();
    assert.equal(lines.find((l) => l.message === '[greet] greeting Lin')?.level, 'info');
    assert.equal(lines.find((l) => l.message === '[greet] greeting quiet')?.level, 'debug');
  });

  it('reports a failing HTTP function, then logs it as an error with its cause', async () => {
    const { lines, logger } = recordingLogger();
    await using app = await serve({ app: 'http-app', logger });
    const order: string[] = [];
    const failed: Record<string, unknown>[] = [];
    app.host.on('invocation:failed', (err, info) => {
      order.push('event');
      failed.push({
        code: err.code,
        cause: (err.cause as Error).message,
        function: info.function,
        trigger: info.trigger,
      });
      assert.match(String(info.invocationId), /^[0-9a-f-]{36}$/);
    });
    const { error: logError } = logger;
    logger.error = (fields, message) => {
      order.push('log');
      logError(fields, message);
    };
    const res = await fetch(`${app.base}/api/boom`);
    assert.equal(res.status, 500);
    assert.equal(((await res.json()) as { code: string }).code, 'FUNCTIONS_INVOCATION_FAILED');
    const line = lines.find((l) => l.level === 'error' && l.fields.function === 'boom');
    assert.ok(line, 'error logged');
    assert.equal((line.fields.err as Error).message, 'kaboom');
    assert.deepEqual(failed, [
      { code: 'FUNCTIONS_INVOCATION_FAILED', cause: 'kaboom', function: 'boom', trigger: 'httpTrigger' },
    ]);
    assert.deepEqual(order, ['event', 'log']);
  });

  it('reports a request that fails outside any function (its body was cut off)', async () => {
    await using app = await serve({ app: 'http-app' });
    const failed: { code: string; method: string; path: string }[] = [];
    app.host.on('request:failed', (err, info) => failed.push({ code: err.code, ...info }));
    const { port } = app.server.address() as AddressInfo;
    const { connect } = await import('node:net');
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial');
    socket.destroy();
    await waitFor(() => failed.length === 1);
    assert.deepEqual(failed, [{ code: 'FUNCTIONS_INVOCATION_FAILED', method: 'POST', path: '/api/echo' }]);
  });

  it('survives a malformed Host header', async () => {
    await using app = await serve({ app: 'http-app' });
    const { port } = app.server.address() as AddressInfo;
    const { request } = await import('node:http');
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/api/hello/Ada', headers: { host: 'bad host:x' } },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
  });

  it('answers HEAD for GET routes without a body', async () => {
    await using app = await serve({ app: 'http-app' });
    const res = await fetch(`${app.base}/api/hello/Ada`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
  });
});
