import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createBus, openBus } from './client.ts';
import { fromEmulatorConfig } from './config.ts';
import { toMilliseconds } from './entities.ts';

describe('entity config', () => {
  it('reads durations as milliseconds or ISO 8601', () => {
    assert.equal(toMilliseconds('x', 1_500), 1_500);
    assert.equal(toMilliseconds('x', 'PT1M'), 60_000);
    assert.equal(toMilliseconds('x', 'P1DT2H3M4.5S'), 93_784_500);
    assert.throws(() => toMilliseconds('x', 'soon'), { code: 'BUS_INVALID_OPTION' });
    assert.throws(() => toMilliseconds('x', -1), { code: 'BUS_INVALID_OPTION' });
  });

  it("converts the Service Bus emulator's Config.json", () => {
    const config = fromEmulatorConfig({
      UserConfig: {
        Namespaces: [
          {
            Name: 'sbemulatorns',
            Queues: [{ Name: 'queue.1', Properties: { LockDuration: 'PT1M', MaxDeliveryCount: 3, ForwardTo: '' } }],
            Topics: [
              {
                Name: 'topic.1',
                Properties: { DefaultMessageTimeToLive: 'PT1H' },
                Subscriptions: [
                  {
                    Name: 'subscription.1',
                    Properties: { MaxDeliveryCount: 3 },
                    Rules: [
                      {
                        Name: 'app-prop-filter-1',
                        Properties: {
                          FilterType: 'Correlation',
                          CorrelationFilter: {
                            ContentType: 'application/text',
                            Label: 'x',
                            Properties: { prop3: 'v3' },
                          },
                        },
                      },
                      {
                        Name: 'sql-filter-1',
                        Properties: {
                          FilterType: 'Sql',
                          SqlFilter: { SqlExpression: "sys.MessageId = '123456'" },
                          Action: { SqlExpression: "SET sys.To = 'Entity'" },
                        },
                      },
                    ],
                  },
                ],
              },
            ],
          },
        ],
      },
    });
    assert.deepEqual(config.queues, [{ name: 'queue.1', lockDuration: 'PT1M', maxDeliveryCount: 3 }]);
    const sub = config.topics?.[0]?.subscriptions?.[0];
    assert.deepEqual(sub?.rules, [
      {
        name: 'app-prop-filter-1',
        filter: {
          kind: 'correlation',
          contentType: 'application/text',
          subject: 'x',
          applicationProperties: { prop3: 'v3' },
        },
      },
      {
        name: 'sql-filter-1',
        filter: { kind: 'sql', expression: "sys.MessageId = '123456'" },
        action: { sqlExpression: "SET sys.To = 'Entity'" },
      },
    ]);
  });

  it('creates the entities of a config file at start, and only the missing ones', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hubbub-bus-config-')), 'entities.json');
    writeFileSync(file, JSON.stringify({ queues: [{ name: 'orders', maxDeliveryCount: 4 }], topics: [{ name: 't' }] }));
    await using bus = await openBus({
      configFile: file,
      entities: { queues: [{ name: 'orders' }, { name: 'more' }] },
    });
    assert.equal((await bus.admin.getQueue('orders')).maxDeliveryCount, 4);
    assert.deepEqual(
      (await bus.admin.listQueues()).map((q) => q.name),
      ['orders', 'more'],
    );
  });

  it('fails clearly on a missing or invalid config file and on unknown engine URLs', async () => {
    await assert.rejects(openBus({ configFile: '/nonexistent/entities.json' }), { code: 'BUS_INVALID_OPTION' });
    await assert.rejects(openBus({ entities: { queues: [{ name: 'bad name' }] } }), {
      code: 'BUS_INVALID_ENTITY_NAME',
    });
    assert.throws(() => createBus({ url: 'redis://x' }), { code: 'BUS_INVALID_OPTION' });
    assert.throws(() => createBus({ url: 'file://' }), { code: 'BUS_INVALID_OPTION' });
  });
});
