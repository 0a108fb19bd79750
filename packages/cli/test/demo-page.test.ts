/** The start page in real headless Chromium: two pages see each other's messages live. */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '@hubbub/kernel';
import { type RunningSystem, startSystem } from '../src/system.ts';
import { browserSkipReason, launchBrowser } from './browser.ts';

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
});
