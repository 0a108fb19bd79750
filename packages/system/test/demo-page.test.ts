/** The start page in real headless Chromium: two pages see each other's messages live. */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '@hubbub/kernel';
import { browserSkipReason, launchBrowser } from '@hubbub/test-kit';
import { type RunningSystem, startSystem } from '../src/index.ts';

const artifacts = new URL('../../../test-artifacts/', import.meta.url).pathname;
const skip = browserSkipReason();

describe('demo page in Chromium', { skip }, () => {
  let system: RunningSystem;
  before(async () => {
    system = await startSystem({ port: 0, demo: true, logger: silentLogger });
  });
  after(() => system.close());

  it('connects with the official browser client and shows messages from another page', async () => {
    const browser = await launchBrowser();
    try {
      const alice = await browser.newPage();
      const bob = await browser.newPage();
      await alice.goto(`${system.url}/`);
      await bob.goto(`${system.url}/`);
      await alice.locator('#status', { hasText: 'connected' }).waitFor();
      await bob.locator('#status', { hasText: 'connected' }).waitFor();
      await bob.locator('#count', { hasText: '2' }).waitFor();
      assert.equal(await alice.locator('#transport').innerText(), 'WebSockets');

      await alice.fill('input[name=name]', 'Alice');
      await alice.fill('input[name=text]', 'Order 42 is on its way');
      await alice.click('button[type=submit]');

      const line = bob.locator('#messages li', { hasText: 'Order 42 is on its way' });
      await line.waitFor();
      assert.match(await line.innerText(), /Alice/);
      await bob.locator('#tick').filter({ hasNotText: '–' }).waitFor();
      assert.equal(await bob.locator('#received').innerText(), '1');

      mkdirSync(artifacts, { recursive: true });
      await bob.screenshot({ path: `${artifacts}demo-page.png`, fullPage: true });
    } finally {
      await browser.close();
    }
  });

  it('connects from a page on another origin (CORS with credentials), over every transport', async () => {
    // The page is served from another port of 127.0.0.1 and talks to the hub at localhost: two
    // origins. Only an origin the system is told about may call it with credentials.
    const other = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end(page));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const pageOrigin = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    await using allowing = await startSystem({ port: 0, demo: true, logger: silentLogger, corsOrigins: [pageOrigin] });
    const hubOrigin = allowing.url.replace('127.0.0.1', 'localhost');
    let page = '';
    page = `<!doctype html><script src="${hubOrigin}/vendor/signalr.min.js"></script><script>
      window.connectWith = async (transport) => {
        const c = new signalR.HubConnectionBuilder().withUrl('${hubOrigin}/hubs/demo', { transport }).build();
        await c.start();
        const used = await c.invoke('transport');
        await c.stop();
        return used;
      };
    </script>`;
    const browser = await launchBrowser();
    try {
      const tab = await browser.newPage();
      await tab.goto(`${pageOrigin}/`);
      await tab.waitForFunction(() => 'connectWith' in globalThis);
      for (const [bit, name] of [
        [1, 'WebSockets'],
        [2, 'ServerSentEvents'],
        [4, 'LongPolling'],
      ] as const) {
        const used = await tab.evaluate(
          (t) => (globalThis as unknown as { connectWith(t: number): Promise<string> }).connectWith(t),
          bit,
        );
        assert.equal(used, name);
      }
    } finally {
      await browser.close();
      other.close();
    }
  });
});

describe('CORS of the all-in-one server', () => {
  it('answers only its own origin and the configured ones, never reflecting any origin', async () => {
    await using system = await startSystem({
      port: 0,
      demo: true,
      logger: silentLogger,
      corsOrigins: ['https://app.example'],
    });
    const ask = async (origin: string) => {
      const res = await fetch(`${system.url}/hubs/demo/negotiate?negotiateVersion=1`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
      await res.arrayBuffer();
      return { status: res.status, allowed: res.headers.get('access-control-allow-origin') };
    };
    assert.deepEqual(await ask('https://evil.example'), { status: 403, allowed: null });
    assert.deepEqual(await ask('https://app.example'), { status: 204, allowed: 'https://app.example' });
    assert.deepEqual(await ask(system.url), { status: 204, allowed: system.url });
    const post = await fetch(`${system.url}/hubs/demo/negotiate?negotiateVersion=1`, {
      method: 'POST',
      headers: { origin: 'https://evil.example' },
    });
    await post.arrayBuffer();
    assert.equal(post.headers.get('access-control-allow-origin'), null);
  });
});
