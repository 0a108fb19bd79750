/**
 * The customer app's "Notify me" in headless Chromium, end to end: the app (built from source,
 * served under /app/) turns notifications on through the site's push.js — the service worker
 * /sw.js, which also carries the app's offline shell — and the restaurant's accept reaches that
 * service worker as a notification: the notifier sends through Hubbub's push service and Web Push
 * provider to the local RFC 8030 push service (Chromium cannot reach Google's offline), which
 * decrypts it and hands it over CDP's ServiceWorker.deliverPushMessage, as the browser would.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger, waitFor } from '@hubbub/kernel';
import { type PushEndpoint, startPushEndpoint } from '@hubbub/push/testing';
import { type RunningSystem, startSystem, staticTree } from '@hubbub/system';
import { ensureLocalCa } from '@hubbub/tls';
import type { Browser } from 'playwright-core';
import { build } from 'vite';
import { customerTag, deliveryApp } from '../src/index.ts';
import { type DeliveryApi, deliveryApiPart, seedDemoAccounts } from '../src/orders/index.ts';
import { artifactsDir, browserSkipReason, launchBrowser } from './browser.ts';
import { type PushRelay, pushTrace, recordToldPushes, startPushRelay } from './push-relay.ts';

const skip = browserSkipReason();
const PASSWORD = 'demo-password-for-tests';
/** In the page: the notifications the service worker shows. */
const SHOWN = `navigator.serviceWorker
  .getRegistration('/')
  .then((r) => r.getNotifications())
  .then((list) => list.map((n) => ({ title: n.title, tag: n.tag })))`;
const stubSource = readFileSync(new URL('./fixtures/push-manager-stub.js', import.meta.url), 'utf8');

describe('customer app notifications in headless Chromium', { skip }, () => {
  let dir: string;
  let endpoint: PushEndpoint;
  let system: RunningSystem;
  let browser: Browser;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hubbub-ui-push-'));
    await build({
      configFile: join(deliveryApp.uiDir, '..', 'vite.config.ts'),
      build: { outDir: join(dir, 'ui'), emptyOutDir: true },
      logLevel: 'warn',
    });
    const ca = await ensureLocalCa({ dir: join(dir, 'push-service-ca') });
    endpoint = await startPushEndpoint({ tls: { cert: ca.certPem, key: ca.keyPem } });
    let api: DeliveryApi | undefined;
    system = await startSystem({
      port: 0,
      dataDir: join(dir, 'data'),
      app: { dir: deliveryApp.functionsDir, queues: deliveryApp.queues },
      pages: { ...deliveryApp.webFiles, ...staticTree(deliveryApp.uiPath, join(dir, 'ui')) },
      immutablePages: [`${deliveryApp.uiPath}assets/`],
      secrets: deliveryApp.secrets,
      parts: [(c) => (api = deliveryApiPart({ pushEndpointOrigins: [endpoint.origin] })(c))],
      push: { webPushCa: ca.caPem },
      logger: silentLogger,
    });
    await api!.ready();
    await seedDemoAccounts(system.store, PASSWORD);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await system?.close();
    await endpoint?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  async function call(method: string, path: string, token: string, body?: unknown, headers = {}) {
    const reply = await fetch(`${system.url}${path}`, {
      method,
      headers: { ...headers, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: replies are read field by field
    return { status: reply.status, body: (await reply.json().catch(() => undefined)) as any };
  }
  const signIn = async (email: string, password = PASSWORD) =>
    (await fetch(`${system.url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    }).then((r) => r.json())) as { token: string; account: { id: string } };

  it('turns notifications on from the order page; the accept arrives as a notification', async () => {
    const vapid = system.keys.push.vapid.publicKey;
    const trace = pushTrace(system.push);
    let pushes: PushRelay | undefined;
    const sub = endpoint.subscribe({ applicationServerKey: vapid, onMessage: (m) => pushes?.relay(m) });
    const context = await browser.newContext({ viewport: { width: 1100, height: 820 } });
    await context.grantPermissions(['notifications'], { origin: system.url });
    await recordToldPushes(context);
    await context.addInitScript({
      content: `${stubSource}\nstubPushManager(${JSON.stringify({ subscriptions: [sub.toJSON()], key: vapid })});`,
    });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    pushes = await startPushRelay(context, page, `${new URL(system.url).origin}/`, trace);

    // Sign up in the app; the order itself goes through the API as the same customer.
    const email = `notify-${Date.now()}@example.com`;
    await page.goto(`${system.url}/app/#/sign-up`);
    await page.getByLabel('Name').fill('Noor Notified');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.locator('.avatar').waitFor();
    const customer = await signIn(email, 'correct horse battery');
    const created = await call(
      'POST',
      '/api/v1/orders',
      customer.token,
      {
        restaurantId: 'pike-street-pizza',
        items: [{ itemId: 'pepperoni', quantity: 1 }],
        deliveryAddress: { lat: 47.62, lng: -122.315 },
      },
      { 'idempotency-key': `notify-${Date.now()}` },
    );
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const orderId = created.body.id as string;

    await page.goto(`${system.url}/app/#/orders/${orderId}`);
    await page.locator('[data-testid="order-status"]', { hasText: 'Placed' }).waitFor({ timeout: 15_000 });
    await page.locator('.push-card[data-state="off"]').waitFor();
    await page.getByRole('button', { name: 'Notify me' }).click();
    await page.locator('.push-card[data-state="on"]').waitFor();
    assert.deepEqual(await page.evaluate('window.__pushCalls'), [
      { op: 'subscribe', userVisibleOnly: true, applicationServerKey: vapid },
    ]);
    const { installations } = await system.push!.listInstallations({ tag: customerTag(customer.account.id) });
    assert.equal(installations.length, 1);
    assert.deepEqual(installations[0]!.pushChannel, { endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth });

    const restaurant = await signIn('pike-street-pizza@example.com');
    assert.equal(
      (await call('POST', `/api/v1/orders/${orderId}/transitions`, restaurant.token, { to: 'accepted' })).status,
      200,
    );
    await page.locator('[data-testid="order-status"]', { hasText: 'Accepted' }).waitFor();
    await waitFor(() => sub.messages.length === 1, { timeoutMs: 20_000, what: 'the push at the local push service' });
    await pushes.notified('Order accepted');
    await pushes.settled();
    const shown = await waitFor(
      async () => {
        const list = (await page.evaluate(SHOWN)) as { title: string; tag: string }[];
        return list.length > 0 ? list : undefined;
      },
      { timeoutMs: 15_000, what: 'the notification shown by the service worker' },
    );
    assert.deepEqual(
      shown.map((n) => [n.title, n.tag]),
      [['Order accepted', `order-${orderId}`]],
    );
    await page.screenshot({ path: join(artifactsDir, 'app-push-on.png'), fullPage: true, animations: 'disabled' });

    // The account page turns them off: the installation is gone.
    await page.goto(`${system.url}/app/#/account`);
    await page.locator('.push-card[data-state="on"]').waitFor();
    await page.getByRole('button', { name: 'Turn off' }).click();
    await page.locator('.push-card[data-state="off"]').waitFor();
    const after = await system.push!.listInstallations({ tag: customerTag(customer.account.id) });
    assert.equal(after.installations.length, 0);
    assert.deepEqual(problems, []);
    await context.close();
  });
});
