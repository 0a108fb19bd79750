/**
 * The seed's `sendToQueue.js` run as published (the 1.x `@azure/service-bus` SDK; only its
 * connection string and queue name edited) against `hubbub functions examples/seed-live-location`,
 * over AMQPS on 5671 with the local CA trusted; and the same send written with 7.9.x. The script
 * exits 0 even when it fails, so the test waits for the message where the seed expects it: through
 * the `message` function to the official SignalR client on target `notify`, and to the seed's own
 * `chat.js` (read from `../shared/seeds/sample/`, not copied) in headless Chromium. The command listens on
 * a loopback address of its own, as the 1.x SDK fixes the port.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@hubbub/kernel';
import {
  browserSkipReason,
  hubbub,
  launchBrowser,
  type Running,
  runSdkScript,
  sdk7Sender,
  seedSampleDir,
  seedSampleSkipReason,
  seedSender,
} from '@hubbub/test-kit';
import * as signalR from '@microsoft/signalr';

const example = fileURLToPath(new URL('../../../examples/seed-live-location', import.meta.url));
const artifacts = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const skip = seedSampleSkipReason();
if (skip !== undefined && process.env.CI === 'true') throw new Error(`CI=true and ${skip}`);
const host = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 256)}.${2 + Math.floor(Math.random() * 250)}`;
const location = { orderid: '321', storeid: '123', lat: '30', longitude: '70' };

describe("the seed's sendToQueue.js against hubbub functions", { skip: skip ?? false }, () => {
  let data: string;
  let app: Running;
  let url: string;
  let amqps: string;
  let caPath: string;
  let connection: signalR.HubConnection;
  const received: unknown[] = [];
  before(async () => {
    data = mkdtempSync(join(tmpdir(), 'hubbub-seed-functions-'));
    app = hubbub(['functions', example, '--port', '0', '--host', host, '--amqps-port', '5671', '--data', data]);
    const banner = await waitFor(
      () => /AMQPS[^:]*: (Endpoint=\S+)\s+with NODE_EXTRA_CA_CERTS=(\S+)/.exec(app.stdout()),
      { timeoutMs: 20_000, what: `the AMQPS connection string (stderr: ${app.stderr()})` },
    );
    [, amqps = '', caPath = ''] = banner;
    url = /\[POST\] (http:\/\/[^/]+)\/api\/negotiate/.exec(app.stdout())![1]!;
    connection = new signalR.HubConnectionBuilder()
      .withUrl(`${url}/api/`)
      .configureLogging(signalR.LogLevel.None)
      .build();
    connection.on('notify', (message: unknown) => received.push(message));
    await connection.start();
  });
  after(async () => {
    await connection?.stop();
    app?.child.kill('SIGTERM');
    await app?.exited;
    rmSync(data, { recursive: true, force: true });
  });

  it('prints both AMQP connection strings, the AMQPS one without a port', () => {
    assert.equal(
      amqps,
      `Endpoint=sb://${host}/;${/SharedAccessKeyName=[^;]+;SharedAccessKey=[^;\s]+/.exec(amqps)?.[0]}`,
    );
    assert.equal(caPath, join(data, 'tls', 'ca.pem'));
    assert.match(app.stdout(), /Service Bus \(AMQP\): Endpoint=sb:\/\/[\d.]+:\d+;.*;UseDevelopmentEmulator=true/);
  });

  it('passes the 1.x send through the message function to the SignalR client', async () => {
    received.length = 0;
    const run = await runSdkScript({ sdk: 1, source: seedSender(amqps, 'locations'), caPath });
    assert.doesNotMatch(run.stdout, /Error occurred/, run.stdout);
    await waitFor(() => received.length === 1, { what: `the notify message (script said: ${run.stdout})` });
    assert.deepEqual(received, [JSON.stringify(location)]);
  });

  it('passes the same send written with 7.9.x', async () => {
    received.length = 0;
    const run = await runSdkScript({ sdk: 7, source: sdk7Sender(), args: [amqps, 'locations'], caPath });
    assert.equal(run.code, 0, run.stdout);
    await waitFor(() => received.length === 1, { what: 'the notify message' });
    assert.deepEqual(received, [JSON.stringify(location)]);
  });

  it("shows the 1.x send on the seed's own chat.js, verbatim, in headless Chromium", {
    skip: browserSkipReason(),
  }, async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      // chat.js is read where the seed lies and served as is; the page around it holds what it needs.
      await page.route(`${url}/seed/`, (route) =>
        route.fulfill({
          contentType: 'text/html; charset=utf-8',
          body: '<!doctype html><p id="status">connected</p><ul id="messagesList"></ul><script src="/vendor/signalr.min.js"></script><script src="/seed/chat.js"></script>',
        }),
      );
      await page.route(`${url}/seed/chat.js`, (route) =>
        route.fulfill({
          contentType: 'text/javascript; charset=utf-8',
          body: readFileSync(join(seedSampleDir, 'chat.js')),
        }),
      );
      // chat.js is written for http://localhost:7071; send that origin to this test's server.
      await page.route('http://localhost:7071/**', (route) =>
        route.continue({ url: route.request().url().replace('http://localhost:7071', url) }),
      );
      await page.goto(`${url}/seed/`);
      await page.locator('#status').waitFor({ state: 'visible', timeout: 10_000 });
      const run = await runSdkScript({ sdk: 1, source: seedSender(amqps, 'locations'), caPath });
      assert.doesNotMatch(run.stdout, /Error occurred/, run.stdout);
      await page.waitForFunction("document.querySelectorAll('#messagesList li').length === 1");
      assert.deepEqual(await page.locator('#messagesList li').allTextContents(), [JSON.stringify(location)]);
      assert.deepEqual(errors, []);
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: `${artifacts}seed-chat-js.png` });
    } finally {
      await browser.close();
    }
  });
});
