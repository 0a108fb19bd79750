/**
 * The customer web app (`ui/`, Vite + Preact) in real headless Chromium, built from its sources
 * into a temporary directory and served by the all-in-one composition under /app/: a customer
 * signs up, orders from a menu, picks the address on the map and sees "placed", then each status
 * the restaurant and the courier set through the API appear live (the order's hub group), the
 * courier moves on the map with an arrival estimate; a second order is cancelled from its page;
 * the history lists both. Screenshots go to test-artifacts/delivery/.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger, waitFor } from '@hubbub/kernel';
import { type RunningSystem, startSystem, staticTree } from '@hubbub/system';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { build } from 'vite';
import { deliveryApp } from '../src/index.ts';
import { type DeliveryApi, deliveryApiPart, seedDemoAccounts } from '../src/orders/index.ts';
import { artifactsDir, browserSkipReason, launchBrowser } from './browser.ts';

const skip = browserSkipReason();

/** In the page: the paths the service worker cached for the app's shell, once it has (or [] after 10 s). */
const CACHED_SHELL = `(async () => {
  await navigator.serviceWorker.ready;
  for (let i = 0; i < 100; i++) {
    const names = (await caches.keys()).filter((n) => n.startsWith('hubbub-app-'));
    const cache = names.length === 1 ? await caches.open(names[0]) : undefined;
    const paths = cache === undefined ? [] : (await cache.keys()).map((r) => new URL(r.url).pathname);
    if (paths.includes('/app/') && paths.some((p) => p.startsWith('/app/assets/'))) return paths.sort();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return [];
})()`;
const PASSWORD = 'demo-password-for-tests';
const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(artifactsDir, `app-${name}.png`), fullPage: true, animations: 'disabled' });

describe('customer web app in headless Chromium', { skip }, () => {
  let dist: string;
  let system: RunningSystem;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    dist = mkdtempSync(join(tmpdir(), 'hubbub-ui-'));
    await build({
      configFile: join(deliveryApp.uiDir, '..', 'vite.config.ts'),
      build: { outDir: dist, emptyOutDir: true },
      logLevel: 'warn',
    });
    let api: DeliveryApi | undefined;
    system = await startSystem({
      port: 0,
      app: { dir: deliveryApp.functionsDir, queues: deliveryApp.queues },
      pages: { ...deliveryApp.webFiles, ...staticTree(deliveryApp.uiPath, dist) },
      immutablePages: [`${deliveryApp.uiPath}assets/`],
      secrets: deliveryApp.secrets,
      parts: [(c) => (api = deliveryApiPart()(c))],
      home: deliveryApp.uiPath,
      logger: silentLogger,
    });
    await api!.ready();
    await seedDemoAccounts(system.store, PASSWORD);
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (m) => {
      // The browser logs the signed-out visitor's 401 from GET /api/v1/account: that is how the app asks.
      const signedOut = m.location().url.endsWith('/api/v1/account') && m.text().includes('status of 401');
      if (m.type() === 'error' && !signedOut) problems.push(`${m.text()} (${m.location().url})`);
    });
  });
  let closed = false;
  after(async () => {
    await browser?.close();
    if (!closed) await system?.close();
    if (dist) rmSync(dist, { recursive: true, force: true });
  });

  async function call(method: string, path: string, token?: string, body?: unknown) {
    const reply = await fetch(`${system.url}${path}`, {
      method,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await reply.text();
    // biome-ignore lint/suspicious/noExplicitAny: replies are read field by field
    return { status: reply.status, headers: reply.headers, body: (text === '' ? undefined : JSON.parse(text)) as any };
  }
  const signIn = async (email: string, password = PASSWORD) => {
    const reply = await call('POST', '/api/v1/session', undefined, { email, password });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    return reply.body.token as string;
  };
  const move = async (token: string, id: string, to: string) => {
    const reply = await call('POST', `/api/v1/orders/${id}/transitions`, token, { to });
    assert.equal(reply.status, 200, `${to}: ${JSON.stringify(reply.body)}`);
  };
  const step = (s: string) => page.locator(`.timeline li[data-step="${s}"]`);
  const waitDone = (s: string) => page.locator(`.timeline li.done[data-step="${s}"]`).waitFor({ timeout: 10_000 });

  const email = `new-customer-${Date.now()}@example.com`;
  let orderId = '';

  it('serves the built app at / with hashed assets cached for good', async () => {
    const home = await fetch(`${system.url}/`, { redirect: 'manual' });
    assert.equal(home.headers.get('location'), '/app/');
    const html = await (await fetch(`${system.url}/app/`)).text();
    const script = html.match(/src="(\/app\/assets\/[^"]+\.js)"/)?.[1];
    assert.ok(script, html);
    const asset = await fetch(`${system.url}${script}`);
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(asset.headers.get('content-type'), 'text/javascript; charset=utf-8');
    const manifest = await fetch(`${system.url}/app/manifest.webmanifest`);
    assert.equal(((await manifest.json()) as { start_url: string }).start_url, '/app/');
  });

  it('a new customer signs up, orders from a menu and sees "placed" on the order page', async () => {
    await page.goto(`${system.url}/`);
    await page.locator('.restaurant-card').first().waitFor();
    assert.equal(await page.locator('.restaurant-card').count(), 3);
    await shot(page, '1-restaurants');

    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Name').fill('Riley Newcomer');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('correct horse battery');
    await shot(page, '2-sign-up');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.locator('.avatar', { hasText: 'R' }).waitFor();

    await page.locator('.restaurant-card', { hasText: 'Pike Street Pizza' }).click();
    await page.getByRole('button', { name: 'Add Margherita' }).click();
    await page.getByRole('button', { name: 'One more Margherita' }).click();
    await page.locator('.cart-link .count', { hasText: '2' }).waitFor();
    await shot(page, '3-menu');

    await page.getByRole('link', { name: 'Go to checkout' }).click();
    const map = page.locator('.map.pickable svg');
    await map.locator('.park').first().waitFor();
    const placeOrder = page.getByRole('button', { name: /Place order|Pick your address/ });
    assert.equal(await placeOrder.isDisabled(), true);
    const box = (await map.boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.62, box.y + box.height * 0.4);
    await page.locator('.map .pin.home').waitFor();
    await page.getByLabel('Address or directions').fill('1520 E Olive Way, apt 4');
    await shot(page, '4-checkout');
    await page.getByRole('button', { name: 'Place order' }).click();

    await page.waitForURL(/#\/orders\/o-/);
    orderId = decodeURIComponent(new URL(page.url()).hash.split('/').at(-1)!);
    await page.locator('[data-testid="order-status"]', { hasText: 'Placed' }).waitFor({ timeout: 15_000 });
    await page.locator('.live-pill[data-state="live"]').waitFor({ timeout: 10_000 });
    assert.ok(await step('placed').evaluate((li) => li.classList.contains('done')));
    assert.equal(await step('accepted').evaluate((li) => li.classList.contains('done')), false);
    assert.equal(await page.locator('.cart-link .count').count(), 0, 'the cart is emptied');
    await shot(page, '5-placed');

    // What the page ordered is what the API has.
    const token = await signIn(email, 'correct horse battery');
    const order = await call('GET', `/api/v1/orders/${orderId}`, token);
    assert.equal(order.status, 200);
    assert.equal(order.body.status, 'placed');
    assert.deepEqual(
      order.body.lines.map((l: { itemId: string; quantity: number }) => [l.itemId, l.quantity]),
      [['margherita', 2]],
    );
    assert.equal(order.body.deliveryAddress.label, '1520 E Olive Way, apt 4');
    const { north, south, east, west } = { north: 47.6264, south: 47.6118, east: -122.3108, west: -122.3256 };
    const { lat, lng } = order.body.deliveryAddress;
    assert.ok(lat > south && lat < north && lng > west && lng < east, `${lat}, ${lng} in the city`);
  });

  it('shows each status live as the restaurant and the courier move the order, and the courier on the map', async () => {
    assert.ok(orderId !== '', 'the order of the previous test');
    const restaurant = await signIn('pike-street-pizza@example.com');
    await move(restaurant, orderId, 'accepted');
    await waitDone('accepted');
    await page.locator('[data-testid="order-status"]', { hasText: 'Accepted' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Cancel order' }).count(), 0, 'no cancel once accepted');
    await shot(page, '6-accepted');

    await move(restaurant, orderId, 'preparing');
    await waitDone('preparing');
    await move(restaurant, orderId, 'ready');
    await waitDone('ready');
    const courier = await signIn('courier@example.com');
    await move(courier, orderId, 'picked_up');
    await waitDone('picked_up');

    // The courier's positions, from the restaurant towards the door, 30 s apart.
    const order = (await call('GET', `/api/v1/orders/${orderId}`, courier)).body;
    const from = { lat: 47.6141, lng: -122.318 };
    const to = order.deliveryAddress as { lat: number; lng: number };
    const sender = system.bus.createSender('locations');
    const start = Date.now() - 150_000;
    for (let i = 0; i <= 4; i++) {
      const f = i / 8;
      await sender.send({
        body: {
          orderid: orderId,
          lat: from.lat + (to.lat - from.lat) * f,
          longitude: from.lng + (to.lng - from.lng) * f,
          courierid: 'courier-ana',
          timestamp: new Date(start + i * 30_000).toISOString(),
        },
        contentType: 'application/json',
      });
    }
    await sender.close();
    await page.locator('[data-testid="courier"]').waitFor({ timeout: 10_000 });
    await page.locator('[data-testid="eta"]', { hasText: /About \d+ min|Arriving now/ }).waitFor({ timeout: 10_000 });
    await page.waitForTimeout(900); // the marker's glide, for the screenshot only
    await shot(page, '7-on-the-way');

    await move(courier, orderId, 'delivered');
    await waitDone('delivered');
    await page.locator('[data-testid="order-status"]', { hasText: 'Delivered' }).waitFor();
    await shot(page, '8-delivered');
  });

  it('cancels an order while it is placed, and lists both orders', async () => {
    await page.goto(`${system.url}/app/#/restaurants/broadway-noodle-bar`);
    await page.locator('.menu-item .button.add').first().click();
    await page.getByRole('link', { name: 'Go to checkout' }).click();
    const map = page.locator('.map.pickable svg');
    await map.locator('.park').first().waitFor();
    await map.focus();
    await page.keyboard.press('Enter'); // the keyboard drops the pin mid-map
    await page.keyboard.press('ArrowUp');
    await page.getByRole('button', { name: 'Place order' }).click();
    await page.locator('[data-testid="order-status"]', { hasText: 'Placed' }).waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: 'Cancel order' }).click();
    await page.locator('[data-testid="order-status"]', { hasText: 'Cancelled' }).waitFor();
    await waitDone('cancelled');
    await shot(page, '9-cancelled');

    await page.getByRole('link', { name: 'Orders' }).click();
    const rows = page.locator('.order-row');
    await waitFor(async () => (await rows.count()) === 2, { what: 'two orders listed' });
    assert.deepEqual(await rows.locator('.badge').allTextContents(), ['Cancelled', 'Delivered']);
    await shot(page, '10-history');
    assert.deepEqual(problems, []);
  });

  it('asks a signed-out visitor to sign in for the orders and keeps the cart', async () => {
    const fresh = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await fresh.goto(`${system.url}/app/#/orders`);
    await fresh.getByRole('heading', { name: 'Welcome back' }).waitFor();
    await fresh.getByLabel('Email').fill('customer@example.com');
    await fresh.getByLabel('Password').fill('wrong password!');
    await fresh.getByRole('button', { name: 'Sign in' }).click();
    await fresh.locator('.form-error').waitFor();
    await shot(fresh, '11-sign-in-refused-mobile');
    await fresh.getByLabel('Password').fill(PASSWORD);
    await fresh.getByRole('button', { name: 'Sign in' }).click();
    await fresh.getByRole('heading', { name: 'Your orders' }).waitFor();
    await fresh.close();
  });

  it("opens offline from the service worker's shell once the server is gone", async () => {
    const offline = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await offline.goto(`${system.url}/app/`);
    await offline.locator('.restaurant-card').first().waitFor();
    const cached = (await offline.evaluate(CACHED_SHELL)) as string[];
    assert.ok(cached.includes('/city.json') && cached.includes('/app/manifest.webmanifest'), cached.join(' '));
    // The push service worker still works as before: the app's shell is imported beside it.
    assert.equal(
      await offline.evaluate(`navigator.serviceWorker.getRegistration('/').then((r) => r?.scope)`),
      `${system.url}/`,
    );

    await system.close();
    closed = true;
    await offline.reload();
    await offline.locator('.topbar .brand').waitFor();
    await offline.locator('.form-error[data-code="NETWORK"]').waitFor();
    await shot(offline, '12-offline-mobile');
    await offline.close();
  });
});
