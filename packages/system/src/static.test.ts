import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createStaticFiles, staticTree } from './static.ts';

describe('static - a built web app directory', () => {
  let dir: string;
  let server: Server;
  let base: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hubbub-static-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>app</title>');
    writeFileSync(join(dir, 'manifest.webmanifest'), '{"name":"app"}');
    writeFileSync(join(dir, 'assets', 'index-AbCd1234.js'), 'export {};');
    writeFileSync(join(dir, 'assets', 'index-AbCd1234.css'), 'body{}');
    writeFileSync(join(dir, '.hidden'), 'secret');
    const serve = createStaticFiles(staticTree('/app', dir), { immutable: ['/app/assets/'] });
    server = createServer((req, res) => {
      if (!serve(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('staticTree - maps every file under the prefix, index.html also at the prefix, no dot files', () => {
    const routes = staticTree('/app/', dir);
    assert.deepEqual(Object.keys(routes).sort(), [
      '/app',
      '/app/',
      '/app/assets/index-AbCd1234.css',
      '/app/assets/index-AbCd1234.js',
      '/app/index.html',
      '/app/manifest.webmanifest',
    ]);
    assert.equal(routes['/app/'], join(dir, 'index.html'));
  });

  it('staticTree - a missing directory maps nothing', () => {
    assert.deepEqual(staticTree('/app', join(dir, 'nope')), {});
  });

  it('hashed assets are immutable, the rest revalidated, each with its content type', async () => {
    const js = await fetch(`${base}/app/assets/index-AbCd1234.js`);
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(js.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(await js.text(), 'export {};');
    const css = await fetch(`${base}/app/assets/index-AbCd1234.css`);
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
    const page = await fetch(`${base}/app/`);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const manifest = await fetch(`${base}/app/manifest.webmanifest`);
    assert.equal(manifest.headers.get('content-type'), 'application/manifest+json; charset=utf-8');
  });

  it('only GET and HEAD, only the mapped files', async () => {
    const head = await fetch(`${base}/app/index.html`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    assert.equal((await fetch(`${base}/app/index.html`, { method: 'POST' })).status, 404);
    assert.equal((await fetch(`${base}/app/.hidden`)).status, 404);
    assert.equal((await fetch(`${base}/app/assets/../../etc/passwd`)).status, 404);
    assert.equal((await fetch(`${base}/app/assets/`)).status, 404);
  });
});
