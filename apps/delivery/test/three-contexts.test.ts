/**
 * The whole story in real headless Chromium with three browser contexts on one all-in-one server
 * (the web app built from source, served under /app/): a customer signs up, orders and turns on
 * notifications; the restaurant's kitchen board gets the order live and accepts, prepares and
 * readies it; the courier's view gets the offer live, takes it, picks the order up and delivers it
 * while its (simulated) geolocation drives a route to the door. The customer sees every status
 * appear live, the courier move on the map with the server's arrival estimate, and its service
 * worker receives the push notifications, "Your courier is about to arrive" among them (the notifier → Hubbub's push service → the local RFC 8030 push
 * service → CDP's ServiceWorker.deliverPushMessage, as in customer-app-push.test.ts).
 *
 * Then the operations board (the map of every active order and courier, stuck orders live) and
 * the role routing: a customer opening a staff view gets the server's refusal as a message.
 * Screenshots go to test-artifacts/delivery/story-*.png.
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
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { build } from 'vite';
import { deliveryApp } from '../src/index.ts';
import { type DeliveryApi, deliveryApiPart, seedDemoAccounts } from '../src/orders/index.ts';
import { createApiClient, DEMO_PASSWORD } from './api-client.ts';
import { artifactsDir, browserSkipReason, launchBrowser } from './browser.ts';
import { type PushRelay, pushTrace, recordToldPushes, startPushRelay } from './push-relay.ts';

const skip = browserSkipReason();
const stubSource = readFileSync(new URL('./fixtures/push-manager-stub.js', import.meta.url), 'utf8');
/** In the customer's page: how many courier positions its map has drawn. */
const DRAWN = `(() => {
  const trail = document.querySelector('.trail');
  if (trail) return trail.getAttribute('points').trim().split(/\\s+/).length;
  return document.querySelector('[data-testid="courier"]') ? 1 : 0;
})()`;
const LONG = { timeout: 30_000 };

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(artifactsDir, `story-${name}.png`), fullPage: true, animations: 'disabled' });

/**
 * Collects the page's errors. The browser logs the answers the app asks for and handles: the
 * signed-out 401 of GET /api/v1/account, a 404 while a just-placed order is not written yet, the
 * server's 403/404 of a view not for this account.
 */
function watchProblems(page: Page, problems: string[]): void {
  page.on('pageerror', (err) => problems.push(`${page.url()}: ${err.message}`));
  page.on('console', (m) => {
    const signedOut = m.location().url.endsWith('/api/v1/account') && m.text().includes('status of 401');
    const handled = /status of 40[34]/.test(m.text());
    if (m.type() === 'error' && !signedOut && !handled) problems.push(`${m.text()} (${m.location().url})`);
  });
}

async function signInAs(page: Page, url: string, email: string): Promise<void> {
  await page.goto(`${url}/app/#/sign-in`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(DEMO_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('the three-context story in headless Chromium', { skip }, () => {
  let dir: string;
  let endpoint: PushEndpoint;
  let system: RunningSystem;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hubbub-story-'));
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
      parts: [
        (c) =>
          (api = deliveryApiPart({
            pushEndpointOrigins: [endpoint.origin],
            // Short enough that the operations board shows a stuck order within the test.
            stuckAfterSeconds: { placed: 3 },
          })(c)),
      ],
      push: { webPushCa: ca.caPem },
      home: deliveryApp.uiPath,
      logger: silentLogger,
    });
    await api!.ready();
    await seedDemoAccounts(system.store, DEMO_PASSWORD);
    browser = await launchBrowser();
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await system?.close();
    await endpoint?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const client = () => createApiClient(system.url);

  it('a customer orders; the restaurant and the courier move it along; the customer sees it all live', async () => {
    const vapid = system.keys.push.vapid.publicKey;
    // The restaurant's and the courier's contexts, signed in, each landing on its view.
    const kitchenContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const courierStart = { latitude: 47.6141, longitude: -122.3195 };
    const courierContext = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      geolocation: courierStart,
      permissions: ['geolocation'],
    });
    contexts.push(kitchenContext, courierContext);
    const kitchen = await kitchenContext.newPage();
    const courier = await courierContext.newPage();
    watchProblems(kitchen, problems);
    watchProblems(courier, problems);
    await signInAs(kitchen, system.url, 'pike-street-pizza@example.com');
    await kitchen.waitForURL(/#\/restaurant$/);
    await kitchen.getByRole('heading', { name: 'Pike Street Pizza' }).waitFor();
    await kitchen.locator('.live-pill[data-state="live"]').waitFor(LONG);
    await signInAs(courier, system.url, 'courier@example.com');
    await courier.waitForURL(/#\/courier$/);
    await courier.locator('.geo-state[data-state="on"]').waitFor(LONG);
    await courier.locator('.live-pill[data-state="live"]').waitFor(LONG);

    // The customer's context: notifications granted, the push service stubbed to the local one,
    // each push relayed to the service worker over CDP.
    const trace = pushTrace(system.push);
    let pushes: PushRelay | undefined;
    const sub = endpoint.subscribe({ applicationServerKey: vapid, onMessage: (m) => pushes?.relay(m) });
    const customerContext = await browser.newContext({ viewport: { width: 1180, height: 900 } });
    contexts.push(customerContext);
    await customerContext.grantPermissions(['notifications'], { origin: system.url });
    await recordToldPushes(customerContext);
    await customerContext.addInitScript({
      content: `${stubSource}\nstubPushManager(${JSON.stringify({ subscriptions: [sub.toJSON()], key: vapid })});`,
    });
    const customer = await customerContext.newPage();
    watchProblems(customer, problems);
    pushes = await startPushRelay(customerContext, customer, `${new URL(system.url).origin}/`, trace);
    const notified = (title: string) => pushes!.notified(title);

    // 1. The customer signs up and orders from the menu, the address dropped on the map.
    await customer.goto(`${system.url}/app/#/sign-up`);
    await customer.getByLabel('Name').fill('Sam Story');
    await customer.getByLabel('Email').fill(`story-${Date.now()}@example.com`);
    await customer.getByLabel('Password').fill('correct horse battery');
    await customer.getByRole('button', { name: 'Create account' }).click();
    await customer.locator('.avatar', { hasText: 'S' }).waitFor();
    await customer.locator('.restaurant-card', { hasText: 'Pike Street Pizza' }).click();
    await customer.getByRole('button', { name: 'Add Margherita' }).click();
    await customer.getByRole('button', { name: 'Add Caesar salad' }).click();
    await customer.getByRole('link', { name: 'Go to checkout' }).click();
    const map = customer.locator('.map.pickable svg');
    await map.locator('.park').first().waitFor();
    const box = (await map.boundingBox())!;
    await customer.mouse.click(box.x + box.width * 0.66, box.y + box.height * 0.35);
    await customer.locator('.map .pin.home').waitFor();
    await customer.getByLabel('Address or directions').fill('1520 E Olive Way');
    await customer.getByRole('button', { name: 'Place order' }).click();
    await customer.waitForURL(/#\/orders\/o-/);
    const orderId = decodeURIComponent(new URL(customer.url()).hash.split('/').at(-1)!);
    await customer.locator('[data-testid="order-status"]', { hasText: 'Placed' }).waitFor(LONG);
    await customer.locator('.live-pill[data-state="live"]').waitFor(LONG);
    await customer.evaluate('window.__sameDocument = true');
    await customer.getByRole('button', { name: 'Notify me' }).click();
    await customer.locator('.push-card[data-state="on"]').waitFor(LONG);
    trace.note(`push on for order ${orderId}`);
    const done = (step: string) => customer.locator(`.timeline li.done[data-step="${step}"]`).waitFor(LONG);

    // 2. The kitchen gets it live, accepts it; the customer sees it and is notified.
    const ticketOf = (lane: string) => kitchen.locator(`.lane[data-lane="${lane}"] .ticket[data-order="${orderId}"]`);
    await ticketOf('placed').waitFor(LONG);
    await shot(kitchen, '1-kitchen-new-order');
    await ticketOf('placed').getByRole('button', { name: 'Accept' }).click();
    trace.note('the kitchen accepted');
    await ticketOf('accepted').waitFor(LONG);
    await done('accepted');
    await notified('Order accepted');

    // 3. The courier sees the offer live and takes it.
    const offer = courier.locator(`.offer[data-order="${orderId}"]`);
    await offer.waitFor(LONG);
    assert.match((await offer.textContent()) ?? '', /Pike Street Pizza.*to pick up/);
    await shot(courier, '2-courier-offer');
    await offer.getByRole('button', { name: /Accept offer/ }).click();
    const delivery = courier.locator(`.delivery[data-order="${orderId}"]`);
    await delivery.waitFor(LONG);
    await courier.locator('.notice', { hasText: 'You took' }).waitFor();

    // 4. The kitchen prepares and readies it; the ticket says a courier is coming.
    await ticketOf('accepted').getByRole('button', { name: 'Start preparing' }).click();
    await ticketOf('preparing').waitFor(LONG);
    await done('preparing');
    await ticketOf('preparing').getByRole('button', { name: 'Ready for pickup' }).click();
    await ticketOf('ready').locator('.courier-state.assigned').waitFor(LONG);
    await done('ready');
    await shot(kitchen, '3-kitchen-ready');

    // 5. The courier picks it up (the button appears live once the kitchen has it ready).
    await delivery.getByRole('button', { name: 'Picked up' }).click(LONG);
    await done('picked_up');
    await notified('Out for delivery');

    // 6. The courier rides to the door: its geolocation moves, its view sends each position, the
    // customer's map draws each one.
    const operator = await client().signIn('operator@example.com');
    const order = (await client().call('GET', `/api/v1/orders/${orderId}`, { token: operator })).body;
    const pickup = (await client().call('GET', '/api/v1/restaurants/pike-street-pizza')).body.location;
    const to = order.deliveryAddress as { lat: number; lng: number };
    const before = (await customer.evaluate(DRAWN)) as number;
    const steps = 6;
    for (let i = 1; i <= steps; i++) {
      const f = i / (steps + 1);
      await courierContext.setGeolocation({
        latitude: pickup.lat + (to.lat - pickup.lat) * f,
        longitude: pickup.lng + (to.lng - pickup.lng) * f,
      });
      await waitFor(async () => ((await customer.evaluate(DRAWN)) as number) >= before + i, {
        timeoutMs: 30_000,
        what: `courier position ${i} on the customer's map`,
      });
    }
    // The estimate is the server's (on each position), and near the door the customer is told once
    // that the courier is about to arrive.
    await customer
      .locator('[data-testid="eta"][data-source="server"]', { hasText: /About \d+ min|Arriving now/ })
      .waitFor(LONG);
    await notified('Your courier is about to arrive');
    await customer.waitForTimeout(900); // the marker's glide, for the screenshot only
    await shot(customer, '4-customer-on-the-way');
    await shot(courier, '5-courier-on-the-way');

    // 7. Delivered: the courier's list empties, the customer's timeline is complete.
    await delivery.getByRole('button', { name: 'Delivered' }).click();
    await courier.locator('.notice', { hasText: 'Delivered' }).waitFor(LONG);
    await done('delivered');
    await customer.locator('[data-testid="order-status"]', { hasText: 'Delivered' }).waitFor(LONG);
    await notified('Delivered');
    await pushes.settled();
    assert.deepEqual(
      sub.messages.map((m) => JSON.parse(m.text).status),
      ['accepted', 'picked_up', 'arriving', 'delivered'],
    );
    const steps_ = await customer.locator('.timeline li.done').evaluateAll((lis) => lis.map((li) => li.dataset.step));
    assert.deepEqual(steps_, ['placed', 'accepted', 'preparing', 'ready', 'picked_up', 'delivered']);
    assert.equal(await customer.evaluate('window.__sameDocument'), true, 'every status arrived live, no reload');
    await shot(customer, '6-customer-delivered');
    await shot(courier, '7-courier-done');
    await kitchen.locator(`.ticket[data-order="${orderId}"]`).waitFor({ state: 'detached', ...LONG });
    await shot(kitchen, '8-kitchen-cleared');
    assert.deepEqual(problems, []);
  });

  it('the operations board shows every active order and courier and the stuck orders, live', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    watchProblems(page, problems);
    await signInAs(page, system.url, 'operator@example.com');
    await page.waitForURL(/#\/operations$/);
    await page.locator('.live-pill[data-state="live"]').waitFor(LONG);

    // Two orders: one left placed (stuck after 3 s), one taken by the courier, who is on its way.
    const { token } = await client().signUp(`ops-${Date.now()}@example.com`);
    const left = (await client().order(token, `ops-left-${Date.now()}`)).body.id as string;
    const moving = (
      await client().order(token, `ops-moving-${Date.now()}`, {
        restaurantId: '15th-ave-tacos',
        items: [{ itemId: 'al-pastor', quantity: 2 }],
        deliveryAddress: { lat: 47.6205, lng: -122.3132 },
      })
    ).body.id as string;
    const tacos = await client().signIn('15th-ave-tacos@example.com');
    const ana = await client().signIn('courier@example.com');
    const call = (t: string, path: string, body?: unknown) => client().call('POST', path, { token: t, body });
    assert.equal((await call(tacos, `/api/v1/orders/${moving}/transitions`, { to: 'accepted' })).status, 200);
    assert.equal((await call(ana, `/api/v1/orders/${moving}/assignment`)).status, 200);
    assert.equal((await call(ana, `/api/v1/orders/${moving}/location`, { lat: 47.6172, lng: -122.3165 })).status, 202);

    await page.locator(`.orders-table tr[data-order="${moving}"]`).waitFor(LONG);
    await page.locator('.map [data-testid="courier"]').waitFor(LONG);
    await page.locator(`.stuck-list li[data-order="${left}"]`).waitFor(LONG);
    assert.ok((await page.locator('.map .pin.home.alert').count()) >= 1, 'the stuck order is marked on the map');
    await shot(page, '9-operations');

    // The kitchen accepts the stuck order: it leaves the stuck list live.
    const pizza = await client().signIn('pike-street-pizza@example.com');
    assert.equal((await call(pizza, `/api/v1/orders/${left}/transitions`, { to: 'accepted' })).status, 200);
    await page.locator(`.stuck-list li[data-order="${left}"]`).waitFor({ state: 'detached', ...LONG });
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, '10-operations-mobile');
    assert.deepEqual(problems, []);
  });

  it('a customer opening a staff view is told it is not for them; a kitchen on a phone rejects with a reason', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    contexts.push(context);
    const page = await context.newPage();
    watchProblems(page, problems);
    await signInAs(page, system.url, 'customer@example.com');
    await page.locator('.restaurant-card').first().waitFor(LONG);
    assert.equal(new URL(page.url()).hash, '#/', 'a customer lands on the restaurants');

    await page.goto(`${system.url}/app/#/restaurant/pike-street-pizza`);
    const refused = page.locator('.refused');
    await refused.waitFor(LONG);
    assert.equal(await refused.getAttribute('data-code'), 'DELIVERY_FORBIDDEN');
    await page.getByRole('heading', { name: 'The restaurant view is not for this account' }).waitFor();
    await shot(page, '11-customer-refused-mobile');
    await page.goto(`${system.url}/app/#/operations`);
    await page.getByRole('heading', { name: 'The operations board is not for this account' }).waitFor(LONG);
    await page.getByRole('link', { name: 'Go to your page' }).click();
    await page.locator('.restaurant-card').first().waitFor();

    // A restaurant opening another restaurant's board: the server answers 404.
    await page.goto(`${system.url}/app/#/account`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('.topbar', { hasText: 'Sign in' }).waitFor();
    await signInAs(page, system.url, '15th-ave-tacos@example.com');
    await page.waitForURL(/#\/restaurant$/);
    await page.getByRole('heading', { name: '15th Ave Tacos' }).waitFor(LONG);
    // On a phone: a new order arrives live and is rejected with a reason.
    const { token } = await client().signUp(`reject-${Date.now()}@example.com`);
    const created = await client().call('POST', '/api/v1/orders', {
      token,
      body: {
        restaurantId: '15th-ave-tacos',
        items: [{ itemId: 'horchata', quantity: 3 }],
        deliveryAddress: { lat: 47.6215, lng: -122.3169, label: '1700 E Denny Way' },
      },
      headers: { 'idempotency-key': `reject-${Date.now()}` },
    });
    assert.equal(created.status, 202);
    const ticket = page.locator(`.lane[data-lane="placed"] .ticket[data-order="${created.body.id}"]`);
    await ticket.waitFor(LONG);
    await ticket.getByRole('button', { name: 'Reject' }).click();
    await ticket.getByLabel('An item is sold out').check();
    await shot(page, '12-kitchen-reject-mobile');
    await ticket.getByRole('button', { name: 'Reject order' }).click();
    await ticket.waitFor({ state: 'detached', ...LONG });
    const rejected = await client().call('GET', `/api/v1/orders/${created.body.id}`, { token });
    assert.equal(rejected.body.status, 'rejected');
    assert.equal(rejected.body.reason, 'An item is sold out');

    await page.goto(`${system.url}/app/#/restaurant/pike-street-pizza`);
    await page.locator('.refused[data-code="DELIVERY_NOT_FOUND"]').waitFor(LONG);
    assert.deepEqual(problems, []);
  });
});
