/**
 * `hubbub functions <app-dir>` with the seed's own sample (examples/seed-live-location): the one
 * documented command runs it, `hubbub send` puts the seed's test message on the queue, and the
 * official SignalR client — in Node, and the seed's page in headless Chromium — receives it on
 * target `notify` after negotiating through the `negotiate` function.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@hubbub/kernel';
import { staticRoutes } from '@hubbub/system';
import { browserSkipReason, hubbub, launchBrowser, type Running } from '@hubbub/test-kit';
import * as signalR from '@microsoft/signalr';

const example = fileURLToPath(new URL('../../../examples/seed-live-location', import.meta.url));
const artifacts = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const seedMessage = { orderid: 1, storeid: 7, lat: 47.6, longitude: -122.3 };
const data = mkdtempSync(join(tmpdir(), 'hubbub-functions-'));
after(() => rmSync(data, { recursive: true, force: true }));

async function send(url: string, body: unknown): Promise<void> {
  const sent = hubbub(
    [
      'send',
      'locations',
      JSON.stringify(body),
      '--label',
      'driveby',
      '--content-type',
      'application/json',
      '--url',
      `${url}/bus`,
    ],
    { HUBBUB_DATA_DIR: data },
  );
  assert.equal(await sent.exited, 0, sent.stderr());
}

describe('hubbub functions runs the seed sample', () => {
  let app: Running;
  let url: string;
  before(async () => {
    app = hubbub(['functions', example, '--port', '0', '--log-level', 'warn', '--data', data]);
    const line = await waitFor(() => /\[POST\] (http:\/\/[^/]+)\/api\/negotiate/.exec(app.stdout()), {
      timeoutMs: 20_000,
      what: `the functions to be listed (stderr: ${app.stderr()})`,
    });
    url = line[1]!;
  });
  after(async () => {
    app.child.kill('SIGTERM');
    assert.equal(await app.exited, 0);
    assert.match(app.stdout(), /Stopped\./);
  });

  it('lists the functions and serves the page and the SignalR browser client', async () => {
    assert.match(app.stdout(), /message: serviceBusTrigger/);
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /withUrl\("http:\/\/localhost:7071\/api\/"\)/);
    assert.equal((await fetch(`${url}/vendor/signalr.min.js`)).status, 200);
  });

  it('delivers the seed test message to the official client on target notify', async () => {
    const received: unknown[] = [];
    const connection = new signalR.HubConnectionBuilder()
      .withUrl(`${url}/api/`)
      .configureLogging(signalR.LogLevel.None)
      .build();
    connection.on('notify', (msg: unknown) => received.push(msg));
    await connection.start();
    try {
      await send(url, seedMessage);
      await waitFor(() => received.length === 1, { what: 'the notify message' });
      assert.deepEqual(received, [JSON.stringify(seedMessage)], 'the body as a string, as the seed passes it on');
    } finally {
      await connection.stop();
    }
  });

  it('answers CORS preflights for /api, since the seed page calls http://localhost:7071/api/', async () => {
    const res = await fetch(`${url}/api/negotiate?negotiateVersion=1`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:8080',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-requested-with',
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://localhost:8080');
    assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /x-requested-with/);
  });

  it('runs the seed page in headless Chromium', { skip: browserSkipReason() }, async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      // The page is written for http://localhost:7071; send that origin to this test's port.
      await page.route('http://localhost:7071/**', (route) =>
        route.continue({ url: route.request().url().replace('http://localhost:7071', url) }),
      );
      await page.goto(`${url}/`);
      await page.locator('#status.connected').waitFor({ timeout: 10_000 });
      await send(url, seedMessage);
      await send(url, { ...seedMessage, lat: 47.61 });
      await page.waitForFunction("document.querySelectorAll('#messages li').length === 2");
      assert.deepEqual(await page.locator('#messages li').allTextContents(), [
        JSON.stringify({ ...seedMessage, lat: 47.61 }),
        JSON.stringify(seedMessage),
      ]);
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: `${artifacts}seed-live-location.png` });
    } finally {
      await browser.close();
    }
  });
});

describe('hubbub functions --static', () => {
  it('serves each file of the directory, x.html also at /x and index.html at /', () => {
    const web = fileURLToPath(new URL('../../../apps/delivery/web', import.meta.url));
    const routes = staticRoutes(web);
    assert.equal(routes['/track'], `${web}/track.html`);
    assert.equal(routes['/track.html'], `${web}/track.html`);
    assert.equal(routes['/track.js'], `${web}/track.js`);
    assert.equal(routes['/'], undefined);
    assert.equal(staticRoutes(example)['/'], `${example}/index.html`);
  });
});

describe('hubbub functions: bad input', () => {
  for (const [args, message] of [
    [[], /'\.' is not a function app: it has no package\.json/],
    [['/nonexistent/app'], /is not a function app/],
    [[example, '--bus', 'redis://x'], /--bus must be one of memory:\/\/, file:\/\/DIR/],
    [[example, '--port', 'seven'], /--port/],
    [[example, '--log-level', 'loud'], /--log-level/],
    [[example, 'extra'], /unexpected argument 'extra'/],
    [[example, '--static', '/nonexistent/web'], /--static: '\/nonexistent\/web' is not a directory/],
  ] as const) {
    it(`fails for: ${args.join(' ') || '(no arguments)'}`, async () => {
      // From a directory that is no app (in the repository, where tsx resolves): without <app-dir>
      // the current directory is the app.
      const run = hubbub(['functions', ...args], {}, fileURLToPath(new URL('.', import.meta.url)));
      assert.equal(await run.exited, 1);
      assert.match(run.stderr(), message);
      assert.match(run.stderr(), /\[CLI_USAGE\]/);
    });
  }
});
