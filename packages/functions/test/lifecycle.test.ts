import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import type { Logger } from '@hubbub/kernel';
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
  it('answers 503 FUNCTIONS_CLOSED before start and after close', async () => {
    const host = createFunctionsHost({ appDir: fixture('http-app') });
    const server = createServer((req, res) => host.handleHttp(req, res)).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const before = await fetch(`${base}/api/hello`);
      assert.equal(before.status, 503);
      assert.equal(((await before.json()) as { error: { code: string } }).error.code, 'FUNCTIONS_CLOSED');
      await host.start();
      assert.equal((await fetch(`${base}/api/hello`)).status, 200);
      await host.close();
      assert.equal((await fetch(`${base}/api/hello`)).status, 503);
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

  it('logs a failing HTTP function as an error with its cause', async () => {
    const { lines, logger } = recordingLogger();
    await using app = await serve({ app: 'http-app', logger });
    await (await fetch(`${app.base}/api/boom`)).text();
    const line = lines.find((l) => l.level === 'error' && l.fields.function === 'boom');
    assert.ok(line, 'error logged');
    assert.equal((line.fields.err as Error).message, 'kaboom');
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
