import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isServiceBusError, ServiceBusClient } from '@azure/service-bus';
import { createSasToken } from '@hubbub/bus';
import { ManualClock, waitFor } from '@hubbub/kernel';
import { type Harness, KEY, startHarness } from './harness.ts';

// Claims-based security through the official SDK: tokens are verified against the bus's keys,
// and a refused or expired token surfaces as the SDK's UnauthorizedAccess.

const quick = { retryOptions: { maxRetries: 0, timeoutInMs: 5000 } };

async function code(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (err) {
    assert.ok(isServiceBusError(err), `expected a ServiceBusError, got ${err}`);
    return err.code;
  }
  assert.fail('expected a failure');
}

describe('CBS: SAS tokens verified against the bus keys', () => {
  let h: Harness;
  const clock = new ManualClock(Date.now());
  before(async () => {
    h = await startHarness({ front: { clock } });
  });
  after(() => h.close());

  it('accepts a token signed with the bus key and sends', async () => {
    const client = new ServiceBusClient(h.connectionString, quick);
    await client.createSender('orders').sendMessages({ body: 'ok' });
    await client.close();
  });

  it('refuses a wrong key with UnauthorizedAccess', async () => {
    const client = new ServiceBusClient(h.connectionString.replace(KEY.key, 'wrong-key'), quick);
    assert.equal(await code(() => client.createSender('orders').sendMessages({ body: 'no' })), 'UnauthorizedAccess');
    await client.close();
  });

  it('refuses an unknown key name with UnauthorizedAccess', async () => {
    const client = new ServiceBusClient(h.connectionString.replace(KEY.name, 'Nobody'), quick);
    assert.equal(await code(() => client.createSender('orders').sendMessages({ body: 'no' })), 'UnauthorizedAccess');
    await client.close();
  });

  it('refuses an expired token with UnauthorizedAccess', async () => {
    const token = createSasToken(`sb://127.0.0.1:${h.port}/`, KEY, clock.now() / 1000 - 60);
    const cs = `Endpoint=sb://127.0.0.1:${h.port};SharedAccessSignature=${token};UseDevelopmentEmulator=true`;
    const client = new ServiceBusClient(cs, quick);
    assert.equal(await code(() => client.createSender('orders').sendMessages({ body: 'no' })), 'UnauthorizedAccess');
    await client.close();
  });

  it('refuses a token for another entity', async () => {
    const token = createSasToken(`sb://127.0.0.1:${h.port}/payments`, KEY, clock.now() / 1000 + 600);
    const cs = `Endpoint=sb://127.0.0.1:${h.port};SharedAccessSignature=${token};UseDevelopmentEmulator=true`;
    const client = new ServiceBusClient(cs, quick);
    assert.equal(await code(() => client.createSender('orders').sendMessages({ body: 'no' })), 'UnauthorizedAccess');
    await client.close();
  });

  it("checks the key's rights: a Send-only key sends but may not receive or manage rules", async () => {
    const limited = await startHarness({
      entities: { queues: [{ name: 'orders' }], topics: [{ name: 't', subscriptions: [{ name: 's' }] }] },
      front: { keys: [KEY, { name: 'sender', key: 'sender-key-0123456789', rights: ['Send'] }] },
    });
    const cs = limited.connectionString.replace(KEY.name, 'sender').replace(KEY.key, 'sender-key-0123456789');
    const client = new ServiceBusClient(cs, quick);
    await client.createSender('orders').sendMessages({ body: 'allowed' });
    assert.equal(
      await code(() => client.createReceiver('orders').receiveMessages(1, { maxWaitTimeInMs: 500 })),
      'UnauthorizedAccess',
    );
    assert.equal(await code(() => client.createRuleManager('t', 's').deleteRule('$Default')), 'UnauthorizedAccess');
    await client.close();
    await limited.close();
  });

  it('enforces token expiry per link: a receiver outliving its token is detached with UnauthorizedAccess', async () => {
    const token = createSasToken(`sb://127.0.0.1:${h.port}/`, KEY, clock.now() / 1000 + 600);
    const cs = `Endpoint=sb://127.0.0.1:${h.port};SharedAccessSignature=${token};UseDevelopmentEmulator=true`;
    const client = new ServiceBusClient(cs, quick);
    const receiver = client.createReceiver('orders');
    const errors: string[] = [];
    let received = 0;
    const sub = receiver.subscribe(
      {
        processMessage: async () => {
          received++;
        },
        processError: async (args) => {
          if (isServiceBusError(args.error)) errors.push(args.error.code);
        },
      },
      { autoCompleteMessages: true },
    );
    // A message through the receiver shows its link is attached before the clock moves.
    await client.createSender('orders').sendMessages({ body: 'probe' });
    await waitFor(() => received > 0, { timeoutMs: 5000 });
    clock.advance(601_000);
    await waitFor(() => errors.includes('UnauthorizedAccess'), { timeoutMs: 10_000 });
    await sub.close();
    await client.close();
  });
});
