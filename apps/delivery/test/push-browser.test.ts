/**
 * Web Push end to end in real headless Chromium. The system runs on a temporary data directory with
 * its push service, the delivery API and the function app; a local RFC 8030 push service
 * (`@hubbub/push/testing`, over https with a local CA the system's Web Push provider trusts) stands
 * in for Google's. The customer signs in on /notifications and turns notifications on: the page's
 * push.js registers the service worker, fetches the VAPID key, subscribes and PUTs the subscription
 * to the REST API. The restaurant and the courier move the order; the notifier sends by the
 * customer's tag through Hubbub's real Web Push provider (VAPID, aes128gcm); the local push service
 * verifies and decrypts each push and hands the payload to the browser with CDP
 * `ServiceWorker.deliverPushMessage`; the real service worker shows the notification.
 *
 * Only Google's transport leg is replaced. Headless Chromium cannot get a real subscription offline
 * (`pushManager.subscribe` answers "permission denied" in this profile, and never settles in a
 * persistent one: research/push-store-functions.md §3.2), so an init script gives the page's
 * `PushManager.subscribe` the local push service's subscription — after checking that the page
 * asks for a user-visible subscription with the server's VAPID key. Screenshots go to
 * test-artifacts/delivery/.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger, waitFor } from '@hubbub/kernel';
import type { NotificationOutcome } from '@hubbub/push';
import { type PushEndpoint, type ReceivedPush, startPushEndpoint } from '@hubbub/push/testing';
import { type RunningSystem, startSystem } from '@hubbub/system';
import { ensureLocalCa } from '@hubbub/tls';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { customerTag, deliveryApp, ORDER_STATUS_TEMPLATE, orderNotification } from '../src/index.ts';
import { type DeliveryApi, deliveryApiPart, seedDemoAccounts } from '../src/orders/index.ts';
import { DEMO_PASSWORD, pizza } from './api-client.ts';
import { artifactsDir, browserSkipReason, launchBrowser } from './browser.ts';

const skip = browserSkipReason();
const PASSWORD = 'correct horse battery';

/** The init script giving the page the local push service's subscription (fixtures/push-manager-stub.js). */
const stubSource = readFileSync(new URL('./fixtures/push-manager-stub.js', import.meta.url), 'utf8');
const stubScript = (subscriptions: unknown[], key: string) =>
  `${stubSource}\nstubPushManager(${JSON.stringify({ subscriptions, key })});`;

/** What the service worker shows now (in the page: its registration's getNotifications()). */
const SHOWN = `(async () => {
  const registration = await navigator.serviceWorker.getRegistration('/');
  return ((await registration?.getNotifications()) ?? []).map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }));
})()`;

interface Shown {
  title: string;
  body: string;
  tag: string;
  data: { url: string } & Record<string, unknown>;
}

describe('order notifications in headless Chromium', { skip }, () => {
  let dataDir: string;
  let endpoint: PushEndpoint;
  let system: RunningSystem;
  let browser: Browser;
  let api: DeliveryApi | undefined;
  let restaurant: string;
  let courier: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'hubbub-push-browser-'));
    const ca = await ensureLocalCa({ dir: join(dataDir, 'push-service-ca') });
    endpoint = await startPushEndpoint({ tls: { cert: ca.certPem, key: ca.keyPem } });
    system = await startSystem({
      port: 0,
      dataDir,
      app: { dir: deliveryApp.functionsDir, queues: deliveryApp.queues },
      pages: deliveryApp.webFiles,
      secrets: deliveryApp.secrets,
      parts: [(context) => (api = deliveryApiPart({ pushEndpointOrigins: [endpoint.origin] })(context))],
      push: { webPushCa: ca.caPem },
      logger: silentLogger,
    });
    await api!.ready();
    await seedDemoAccounts(system.store, DEMO_PASSWORD);
    restaurant = await signIn('pike-street-pizza@example.com');
    courier = await signIn('courier@example.com');
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await system?.close();
    await endpoint?.close();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  /** A new customer, signed up through the API: its id and bearer token. */
  async function signUp(email: string): Promise<{ id: string; token: string }> {
    const reply = await fetch(`${system.url}/api/v1/account`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD, name: 'Robin Rider' }),
    });
    assert.equal(reply.status, 201);
    const body = (await reply.json()) as { token: string; account: { id: string } };
    return { id: body.account.id, token: body.token };
  }

  async function signIn(email: string): Promise<string> {
    const reply = await fetch(`${system.url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: DEMO_PASSWORD }),
    });
    assert.equal(reply.status, 201);
    return ((await reply.json()) as { token: string }).token;
  }

  /** An order placed through the API, once the processor has written it. */
  async function placeOrder(token: string): Promise<string> {
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    const created = await fetch(`${system.url}/api/v1/orders`, {
      method: 'POST',
      headers: { ...headers, 'idempotency-key': `push-browser-${Date.now()}` },
      body: JSON.stringify(pizza(1)),
    });
    assert.equal(created.status, 202);
    const { id } = (await created.json()) as { id: string };
    await waitFor(async () => (await fetch(`${system.url}/api/v1/orders/${id}`, { headers })).status === 200, {
      timeoutMs: 20_000,
      what: `order ${id} written by the processor`,
    });
    return id;
  }

  /** Moves the order as `token` (a demo restaurant or courier). */
  async function transition(token: string, orderId: string, to: string): Promise<void> {
    const reply = await fetch(`${system.url}/api/v1/orders/${orderId}/transitions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ to }),
    });
    assert.equal(reply.status, 200, `${to}: ${await reply.text()}`);
  }

  /**
   * The notifications the service worker shows, once one titled `title` is among them. On a loaded
   * machine Chromium was seen to accept a CDP deliverPushMessage (the test's stand-in for Google's
   * transport) with the worker running and activated, yet show nothing within 15 s (4 failures in
   * about 15 runs, most with two runs at once); so the last push is handed over again — at most
   * twice — after 5 s without the notification. The same payload again only replaces the
   * notification (one tag per order); a worker that never shows it still fails the test.
   */
  async function shownNotifications(
    opened: { page: Page; redeliver: () => void; relayed: Promise<unknown>[] },
    title: string,
  ): Promise<Shown[]> {
    const what = `the notification '${title}' shown by the service worker`;
    for (let attempt = 1; ; attempt++) {
      try {
        return await waitFor(
          async () => {
            const list = (await opened.page.evaluate(SHOWN)) as Shown[];
            return list.some((n) => n.title === title) ? list : undefined;
          },
          { timeoutMs: 5_000, what },
        );
      } catch (err) {
        if (attempt === 3) throw err;
        opened.redeliver();
        await Promise.all(opened.relayed);
      }
    }
  }

  /** A page whose service worker receives what the local push service decrypts, through CDP. */
  async function openPage(context: BrowserContext): Promise<{
    page: Page;
    cdp: CDPSession;
    relay: (m: ReceivedPush) => void;
    relayed: Promise<unknown>[];
    redeliver: () => void;
  }> {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    const cdp = await context.newCDPSession(page);
    const registrations = new Map<string, string>();
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: list }) => {
      for (const r of list) if (!r.isDeleted) registrations.set(r.scopeURL, r.registrationId);
    });
    await cdp.send('ServiceWorker.enable');
    const relayed: Promise<unknown>[] = [];
    const origin = new URL(system.url).origin;
    let last: ReceivedPush | undefined;
    const relay = (message: ReceivedPush) => {
      last = message;
      const registrationId = registrations.get(`${origin}/`);
      relayed.push(
        registrationId === undefined
          ? Promise.reject(new Error(`no service worker registered at ${origin}/`))
          : cdp.send('ServiceWorker.deliverPushMessage', { origin: `${origin}/`, registrationId, data: message.text }),
      );
    };
    page.on('close', () => assert.deepEqual(problems, []));
    return { page, cdp, relay, relayed, redeliver: () => (last === undefined ? undefined : relay(last)) };
  }

  it('subscribes as the signed-in customer; the notifier’s pushes for the order reach the service worker', async () => {
    const customer = await signUp('robin@example.com');
    const orderId = await placeOrder(customer.token);
    const vapid = system.keys.push.vapid.publicKey;
    let relay: (m: ReceivedPush) => void = () => {};
    const sub = endpoint.subscribe({ applicationServerKey: vapid, onMessage: (m) => relay(m) });
    const completed: NotificationOutcome[] = [];
    system.push!.on('notification:completed', (outcome) => {
      if (outcome.target.includes(customer.id)) completed.push(outcome);
    });

    const context = await browser.newContext({ viewport: { width: 900, height: 760 } });
    await context.grantPermissions(['notifications'], { origin: system.url });
    await context.addInitScript({ content: stubScript([sub.toJSON()], vapid) });
    const opened = await openPage(context);
    relay = opened.relay;
    const { page } = opened;

    await page.goto(`${system.url}/notifications`);
    await page.locator('body[data-ready="true"]').waitFor();
    // The manifest parses, and nothing but this off-the-record profile keeps the site from being installable.
    const manifest = await opened.cdp.send('Page.getAppManifest');
    assert.deepEqual(manifest.errors, []);
    assert.equal(manifest.url, `${system.url}/manifest.webmanifest`);
    const { installabilityErrors } = await opened.cdp.send('Page.getInstallabilityErrors');
    assert.deepEqual(
      installabilityErrors.map((e) => e.errorId),
      ['in-incognito'],
    );
    await page.locator('#email').fill('robin@example.com');
    await page.locator('#password').fill(PASSWORD);
    await page.locator('#sign-in button[type="submit"]').click();
    await page.locator('#push-status[data-state="off"]').waitFor();
    await page.locator('#enable').click();
    await page.locator('#push-status[data-state="on"]').waitFor();
    assert.deepEqual(await page.evaluate('window.__pushCalls'), [
      { op: 'subscribe', userVisibleOnly: true, applicationServerKey: vapid },
    ]);

    // The installation: the customer's, with the local push service's subscription and the template.
    const { installations } = await system.push!.listInstallations({ tag: customerTag(customer.id) });
    assert.equal(installations.length, 1);
    const [installation] = installations;
    assert.equal(installation!.platform, 'browser');
    assert.deepEqual(installation!.pushChannel, { endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth });
    assert.deepEqual(Object.keys(installation!.templates), [ORDER_STATUS_TEMPLATE]);

    // The restaurant accepts: the notifier sends by the customer's tag through Hubbub's Web Push
    // provider; the push service verifies and decrypts it; the service worker shows it.
    await transition(restaurant, orderId, 'accepted');
    await waitFor(() => sub.messages.length === 1, { timeoutMs: 20_000, what: 'the push at the local push service' });
    const accepted = sub.messages[0]!;
    assert.equal(accepted.vapid.publicKey, vapid);
    assert.equal(accepted.ttl, 3600);
    assert.equal(accepted.urgency, 'high');
    assert.deepEqual(JSON.parse(accepted.text), orderNotification({ orderId, status: 'accepted' }));
    await Promise.all(opened.relayed);
    const shownFirst = await shownNotifications(opened, 'Order accepted');
    assert.deepEqual(shownFirst, [
      {
        title: 'Order accepted',
        body: `The restaurant accepted order ${orderId} and will start on it.`,
        tag: `order-${orderId}`,
        data: {
          ...orderNotification({ orderId, status: 'accepted' }),
          url: `${system.url}/notifications?order=${orderId}`,
        },
      },
    ]);
    await waitFor(() => completed.length === 1, { what: 'the accepted notification’s outcome' });
    assert.equal(completed[0]!.state, 'Completed');
    assert.equal(completed[0]!.counts.browser?.success, 1);

    // The browser replaces the subscription: the service worker's pushsubscriptionchange handler
    // subscribes again (the worker's PushManager is given a new subscription of the local push
    // service) and PUTs it under the id push.js left in Cache Storage, with the session cookie.
    const renewed = endpoint.subscribe({ applicationServerKey: vapid, onMessage: (m) => relay(m) });
    const [worker] = context.serviceWorkers();
    assert.ok(worker !== undefined, 'the service worker runs');
    await worker.evaluate(`(() => {
      self.registration.pushManager.subscribe = async () => ({ toJSON: () => (${JSON.stringify(renewed.toJSON())}) });
      self.dispatchEvent(new ExtendableEvent('pushsubscriptionchange'));
    })()`);
    await waitFor(
      async () => {
        const now = await system.push!.getInstallation(installation!.installationId);
        return (now?.pushChannel as { endpoint?: string } | undefined)?.endpoint === renewed.endpoint;
      },
      { what: 'the installation to carry the renewed subscription' },
    );

    // Preparing and ready notify nothing; picked up, sent to the renewed subscription, replaces the
    // order's notification.
    await transition(restaurant, orderId, 'preparing');
    await transition(restaurant, orderId, 'ready');
    await transition(courier, orderId, 'picked_up');
    await waitFor(() => renewed.messages.length === 1, { timeoutMs: 20_000, what: 'the second push' });
    assert.equal(JSON.parse(renewed.messages[0]!.text).status, 'picked_up');
    assert.equal(sub.messages.length, 1);
    await Promise.all(opened.relayed);
    const shown = await shownNotifications(opened, 'Out for delivery');
    assert.equal(shown.length, 1, 'one notification per order: the new status replaces the old');
    assert.equal(shown[0]!.body, `A courier picked up order ${orderId} and is on the way.`);
    await Promise.all(opened.relayed);

    // The page lists it too (the service worker told it).
    const item = page.locator('#received li');
    await waitFor(async () => (await item.first().textContent())?.includes('Out for delivery') === true, {
      what: 'the page to list the notification',
    });
    assert.equal(await item.count(), 1);
    assert.equal(await item.getAttribute('data-order'), orderId);
    assert.equal(await page.locator('#received-count').textContent(), '1');
    await page.screenshot({ path: join(artifactsDir, 'push-notification.png') });

    // The notification's page: the order as it is now.
    await page.goto(shown[0]!.data.url);
    await page.locator('#order-card:not([hidden])').waitFor();
    assert.equal(await page.locator('#order-id').textContent(), orderId);
    assert.equal(await page.locator('#order-status').textContent(), 'Out for delivery');
    await page.locator('#push-status[data-state="on"]').waitFor();
    await page.screenshot({ path: join(artifactsDir, 'push-order-page.png') });

    // Turning notifications off removes the installation: the delivered status reaches no one.
    await page.locator('#disable').click();
    await page.locator('#push-status[data-state="off"]').waitFor();
    assert.deepEqual((await system.push!.listInstallations({ tag: customerTag(customer.id) })).installations, []);
    await transition(courier, orderId, 'delivered');
    await waitFor(() => completed.some((o) => o.state === 'NoTargetFound'), {
      timeoutMs: 20_000,
      what: 'the delivered notification to find no installation',
    });
    assert.equal(sub.messages.length + renewed.messages.length, 2);
    await page.close();
    await context.close();
  });

  it('a browser another account registered gets a new subscription and id; the old one is gone', async () => {
    const alex = await signUp('alex@example.com');
    const bea = await signUp('bea@example.com');
    const vapid = system.keys.push.vapid.publicKey;
    let relay: (m: ReceivedPush) => void = () => {};
    const subs = [1, 2].map(() => endpoint.subscribe({ applicationServerKey: vapid, onMessage: (m) => relay(m) }));
    const removed: string[] = [];
    system.push!.on('channel:removed', (event) => void removed.push(event.installationId));

    const context = await browser.newContext({ viewport: { width: 900, height: 600 } });
    await context.grantPermissions(['notifications'], { origin: system.url });
    await context.addInitScript({ content: stubScript([subs[0]!.toJSON(), subs[1]!.toJSON()], vapid) });
    // The browser's push service stops delivering to a subscription the page unsubscribes.
    await context.exposeFunction('__pushUnsubscribed', (url: string) =>
      subs.find((x) => x.endpoint === url)?.unsubscribe(),
    );
    const opened = await openPage(context);
    relay = opened.relay;
    const { page } = opened;

    const signInAndEnable = async (email: string) => {
      await page.goto(`${system.url}/notifications`);
      await page.locator('body[data-ready="true"]').waitFor();
      await page.locator('#email').fill(email);
      await page.locator('#password').fill(PASSWORD);
      await page.locator('#sign-in button[type="submit"]').click();
      await page.locator('#push-status[data-state="off"]').waitFor();
      await page.locator('#enable').click();
      await page.locator('#push-status[data-state="on"]').waitFor();
    };
    await signInAndEnable('alex@example.com');
    const [alexInstallation] = (await system.push!.listInstallations({ tag: customerTag(alex.id) })).installations;
    assert.equal((alexInstallation!.pushChannel as { endpoint: string }).endpoint, subs[0]!.endpoint);

    // Alex's session ends without turning notifications off; Bea signs in on the same browser.
    await context.clearCookies();
    await signInAndEnable('bea@example.com');
    const [beaInstallation] = (await system.push!.listInstallations({ tag: customerTag(bea.id) })).installations;
    assert.ok(beaInstallation !== undefined);
    assert.notEqual(beaInstallation.installationId, alexInstallation!.installationId);
    assert.equal((beaInstallation.pushChannel as { endpoint: string }).endpoint, subs[1]!.endpoint);
    const stillAlex = await system.push!.getInstallation(alexInstallation!.installationId);
    assert.equal(stillAlex?.userId, alex.id, 'Bea did not take over Alex’s installation');
    assert.deepEqual(
      ((await page.evaluate('window.__pushCalls')) as { op: string }[]).map((c) => c.op),
      ['unsubscribe', 'subscribe'], // on Bea's page: Alex's subscription dropped, a new one made
    );

    // Alex's notifications no longer reach this browser: the push service answers 410 and Hubbub
    // marks the channel expired. Bea's arrive.
    const send = (customerId: string, status: 'accepted' | 'delivered') =>
      system.push!.send(
        { format: 'template', properties: orderNotification({ orderId: `order-of-${status}`, status })! },
        { kind: 'tags', expression: customerTag(customerId) },
      );
    await send(alex.id, 'accepted');
    await waitFor(() => removed.includes(alexInstallation!.installationId), { timeoutMs: 15_000 });
    assert.equal((await system.push!.getInstallation(alexInstallation!.installationId))?.pushChannelExpired, true);
    await send(bea.id, 'delivered');
    await waitFor(() => subs[1]!.messages.length === 1, { timeoutMs: 15_000 });
    assert.equal(subs[0]!.messages.length, 0);
    await Promise.all(opened.relayed);
    const shown = await shownNotifications(opened, 'Delivered');
    assert.deepEqual(
      shown.map((n) => n.title),
      ['Delivered'],
    );
    await Promise.all(opened.relayed);
    await page.close();
    await context.close();
  });
});
