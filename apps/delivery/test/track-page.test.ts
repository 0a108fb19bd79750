/**
 * The tracking page in real headless Chromium: it negotiates through the `negotiate` function with
 * the official browser client, the simulator sends positions of two orders to queue `locations`,
 * and the page of order 1001 shows its courier's marker moving to the customer and lists exactly
 * that order's positions. Screenshots are kept in test-artifacts/delivery/.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import type { Browser } from 'playwright-core';
import { cityRoutes, type LocationMessage, runSimulator } from '../src/index.ts';
import { artifactsDir, browserSkipReason, launchBrowser } from './browser.ts';
import { startTestSystem, type TestSystem } from './system.ts';

const skip = browserSkipReason();

describe('tracking page in headless Chromium', { skip }, () => {
  let system: TestSystem;
  let browser: Browser;
  before(async () => {
    system = await startTestSystem({ demoOrders: ['1001', '1002', '1003'] });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await system?.[Symbol.asyncDispose]();
  });

  it('moves the courier marker and lists the positions of its own order only', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    await page.goto(system.trackingLink('1001'));
    await page.locator('#status[data-state="live"]').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#courier').getAttribute('visibility'), 'hidden');
    assert.equal(await page.locator('#store').textContent(), 'Pike Street Pizza');

    const sender = system.bus.createSender('locations');
    const mine: LocationMessage[] = [];
    const routes = cityRoutes().filter((r) => r.orderid === '1001' || r.orderid === '1002');
    let firstTransform: string | null = null;
    const result = await runSimulator({
      routes,
      intervalMs: 120,
      speedMps: 1500, // 180 m per position: a route in about ten positions
      send: async (location) => {
        if (location.orderid === '1001') mine.push(location);
        await sender.send({ body: location, contentType: 'application/json', subject: 'driveby' });
        if (firstTransform === null && location.orderid === '1001') {
          await page.locator('#messages li').first().waitFor();
          firstTransform = await page.locator('#courier').getAttribute('transform');
        }
      },
    });
    await sender.close();
    assert.equal(result.arrived, 2);
    assert.ok(mine.length >= 5, `order 1001 sent ${mine.length} positions`);

    const items = page.locator('#messages li');
    await waitFor(async () => (await items.count()) === mine.length, { what: `${mine.length} listed positions` });
    assert.equal(await page.locator('#count').textContent(), String(mine.length));
    const texts = await items.allTextContents();
    const orders = await items.evaluateAll((lis) => lis.map((li) => li.getAttribute('data-order')));
    assert.deepEqual(new Set(orders), new Set(['1001']));
    const last = mine.at(-1)!;
    assert.ok(texts[0]!.includes(`${last.lat.toFixed(5)}, ${last.longitude.toFixed(5)}`), texts[0]);

    // The marker glides to the last position: the customer's pin.
    const courier = page.locator('#courier');
    assert.equal(await courier.getAttribute('visibility'), 'visible');
    assert.equal(Number(await courier.getAttribute('data-lat')), last.lat);
    const pinAt = await page.locator('.pin.customer').getAttribute('transform');
    const xy = (t: string | null) => (t?.match(/-?[\d.]+/g) ?? []).map(Number);
    const [px, py] = xy(pinAt);
    await waitFor(
      async () => {
        const [x, y] = xy(await courier.getAttribute('transform'));
        return Math.abs(x! - px!) < 1 && Math.abs(y! - py!) < 1;
      },
      { what: "the marker on the customer's pin" },
    );
    assert.notDeepEqual(xy(await courier.getAttribute('transform')), xy(firstTransform));
    assert.equal(await page.locator('#distance').textContent(), 'arrived');

    await page.screenshot({ path: join(artifactsDir, 'track-order-1001.png') });
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('draws map tiles under the route when a tile URL is given', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const requested: string[] = [];
    // A stand-in tile server: each tile is an SVG naming itself.
    await page.route('https://tiles.test/**', (route) => {
      const [z, x, y] = new URL(route.request().url()).pathname.slice(1).replace('.png', '').split('/');
      requested.push(`${z}/${x}/${y}`);
      return route.fulfill({
        contentType: 'image/svg+xml',
        body: `<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256"><rect width="256" height="256" fill="#dfe7ee" stroke="#9fb3c8"/><text x="128" y="128" text-anchor="middle" font-size="14" fill="#52677d">${z}/${x}/${y}</text></svg>`,
      });
    });
    const tiles = encodeURIComponent('https://tiles.test/{z}/{x}/{y}.png');
    await page.goto(`${system.trackingLink('1002')}&tiles=${tiles}`);
    await page.locator('#status[data-state="live"]').waitFor({ timeout: 10_000 });
    const images = page.locator('#tiles image');
    const count = await images.count();
    // The city's bounds cover tiles x 10499–10501, y 22882–22886 at zoom 16; the wide window shows more columns.
    assert.ok(count > 3 * 5 && count <= 7 * 5, `${count} tiles`);
    assert.equal(await page.locator('#base').isVisible(), false);
    assert.equal(await page.locator('#attribution').textContent(), 'Tiles: tiles.test');
    await waitFor(() => requested.length === count, { what: 'every tile requested' });
    for (const t of requested) assert.match(t, /^16\/(1049[7-9]|1050[0-3])\/2288[2-6]$/);
    await page.screenshot({ path: join(artifactsDir, 'track-tiles.png') });
    await page.close();
  });

  it('asks which order to track when the link names none', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${system.url}/track`);
    await page.locator('#picker').waitFor({ state: 'visible' });
    await page.locator('#picker-orders a').first().waitFor();
    assert.equal(await page.locator('#picker-orders a').count(), 3);
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'offline');
    await page.screenshot({ path: join(artifactsDir, 'track-no-order.png') });
    await page.locator('#picker-orders a').first().click();
    await page.locator('#status[data-state="live"]').waitFor({ timeout: 10_000 });
    await page.close();
  });

  it('says so when the link carries no valid tracking token', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${system.url}/track?order=1001&token=forged.token`);
    await page.locator('#status', { hasText: 'not valid' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'offline');
    // Nothing of the order is shown to a link the server refused.
    assert.equal(await page.locator('#store').textContent(), '—');
    assert.equal(await page.locator('#customer').textContent(), '—');
    assert.equal(await page.locator('#courier-name').textContent(), '—');
    assert.equal(await page.locator('#pins > *').count(), 0);
    await page.screenshot({ path: join(artifactsDir, 'track-bad-token.png') });
    await page.close();
  });

  it('shows nothing of an order and offers the demo orders when the link has no token', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const negotiations: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('negotiate')) negotiations.push(r.url());
    });
    await page.goto(`${system.url}/track?order=1001`);
    await page.locator('#picker').waitFor({ state: 'visible' });
    await page.locator('#picker-orders a').first().waitFor();
    assert.equal(await page.locator('#status').textContent(), 'This tracking link is incomplete');
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'offline');
    assert.equal(await page.locator('#store').textContent(), '—');
    assert.equal(await page.locator('#pins > *').count(), 0);
    assert.deepEqual(negotiations, [], 'no connection is tried without a token');
    await page.screenshot({ path: join(artifactsDir, 'track-no-token.png') });
    await page.close();
  });
});
