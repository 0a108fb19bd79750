/**
 * App parts on the system's port: made from the open engines, mounted ahead of the function app,
 * started before it and closed after it; a part that fails to start fails the start and leaves
 * nothing open.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sendJson, silentLogger } from '@hubbub/kernel';
import type { PushService } from '@hubbub/push';
import { type AppPart, startSystem } from '../src/index.ts';
import { fixture } from './function-apps.ts';

describe('app parts', () => {
  it('are made from the open engines, take their routes ahead of the functions and close in order', async () => {
    const events: string[] = [];
    let partPush: PushService | undefined;
    const system = await startSystem({
      port: 0,
      logger: silentLogger,
      app: { dir: fixture('cosmos-app') },
      settings: { CosmosDBConnection: 'memory://', ShopDatabase: 'shop' },
      parts: [
        ({ bus, store, url, push }): AppPart => {
          partPush = push; // the push service reaches parts too (the delivery app registers browsers)
          return {
            async start() {
              await bus.admin.createTopic('made-by-part');
              const { database } = await store.databases.createIfNotExists({ id: 'shop' });
              await database.containers.createIfNotExists({ id: 'orders', partitionKey: '/id' });
              events.push(`start ${url.startsWith('http://127.0.0.1:')}`);
            },
            handleRequest(request, response) {
              if (request.url !== '/api/orders/from-part') return false;
              sendJson(response, 200, { from: 'part' });
              return true;
            },
            async close() {
              events.push('close');
            },
          };
        },
      ],
    });
    try {
      assert.ok(await system.bus.admin.topicExists('made-by-part'));
      assert.ok(partPush !== undefined && partPush === system.push);
      const taken = await fetch(`${system.url}/api/orders/from-part`);
      assert.deepEqual(await taken.json(), { from: 'part' });
      const passed = await fetch(`${system.url}/api/orders/absent`);
      assert.equal(passed.status, 404, 'what the part leaves goes on to the function app');
      assert.ok('bound' in ((await passed.json()) as object), 'the function app answered');
    } finally {
      await system.close();
    }
    assert.deepEqual(events, ['start true', 'close']);
  });

  it('a part that fails to start fails the start, and the parts made before it are closed', async () => {
    const events: string[] = [];
    await assert.rejects(
      startSystem({
        port: 0,
        logger: silentLogger,
        parts: [
          () => ({ close: async () => void events.push('first closed') }),
          () => ({
            start: async () => {
              throw Object.assign(new Error('no'), { code: 'TEST_PART' });
            },
          }),
        ],
      }),
      { code: 'TEST_PART' },
    );
    assert.deepEqual(events, ['first closed']);
  });
});
