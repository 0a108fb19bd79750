import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ServiceBusClient } from '@azure/service-bus';
import { createBusHttpHandler, createSasToken } from '@hubbub/bus';
import { type Harness, KEY, startHarness } from './harness.ts';

// One bus, two fronts: what the SDK sends over AMQP is received over the bus's HTTP API, and what
// an HTTP client sends is received by the SDK, with body and properties intact.

for (const engine of ['memory', 'file'] as const) {
  describe(`AMQP and HTTP on one bus (${engine} engine)`, () => {
    let h: Harness;
    let server: Server;
    let base: string;
    let client: ServiceBusClient;
    before(async () => {
      h = await startHarness({ engine, entities: { queues: [{ name: 'cross' }] } });
      const handler = createBusHttpHandler(h.bus, { keys: [KEY] });
      server = createServer((req, res) => handler(req, res));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      client = new ServiceBusClient(h.connectionString);
    });
    after(async () => {
      await client.close();
      await new Promise((r) => server.close(r));
      await h.close();
    });
    const auth = (): string => createSasToken(`${base}/cross`, KEY, Date.now() / 1000 + 600);

    it('SDK → HTTP', async () => {
      await client.createSender('cross').sendMessages({
        body: { lat: 30, lng: 70 },
        messageId: 'loc-1',
        subject: 'driveby',
        applicationProperties: { courier: 'c7', n: 3 },
      });
      const res = await fetch(`${base}/cross/messages/head?timeout=5`, {
        method: 'DELETE',
        headers: { authorization: auth() },
      });
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(await res.text()), { lat: 30, lng: 70 });
      const bp = JSON.parse(res.headers.get('brokerproperties')!);
      assert.equal(bp.MessageId, 'loc-1');
      assert.equal(bp.Label, 'driveby');
      assert.equal(res.headers.get('courier'), '"c7"');
    });

    it('HTTP → SDK', async () => {
      const res = await fetch(`${base}/cross/messages`, {
        method: 'POST',
        headers: {
          authorization: auth(),
          'content-type': 'application/json',
          brokerproperties: JSON.stringify({ MessageId: 'h-1', CorrelationId: 'c-1' }),
          courier: '"c9"',
        },
        body: JSON.stringify({ status: 'delivered' }),
      });
      assert.equal(res.status, 201);
      await fetch(`${base}/cross/messages`, {
        method: 'POST',
        headers: { authorization: auth(), 'content-type': 'text/plain' },
        body: 'plain text',
      });
      const receiver = client.createReceiver('cross');
      const got = [];
      while (got.length < 2) got.push(...(await receiver.receiveMessages(2, { maxWaitTimeInMs: 5000 })));
      assert.deepEqual(got[0]!.body, { status: 'delivered' });
      assert.equal(got[0]!.messageId, 'h-1');
      assert.equal(got[0]!.correlationId, 'c-1');
      assert.equal(got[0]!.applicationProperties?.courier, 'c9');
      assert.equal(got[1]!.body, 'plain text');
      for (const m of got) await receiver.completeMessage(m);
      await receiver.close();
    });
  });
}
