/**
 * Orders through the REST API against startSystem on memory:// store and bus: the create (202 once
 * durable, Idempotency-Key, validation naming the field), the processor writing what the API
 * accepted, who sees which order, paging, the status machine, idempotent and concurrent
 * transitions, and the status events on topic `orders`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { type ApiSystem, pizza, startApiSystem } from './api-client.ts';

let api: ApiSystem;
let customer: { token: string; id: string };
let other: { token: string; id: string };
let restaurant: string;
let otherRestaurant: string;
let courier: string;
let operator: string;
let keys = 0;
const key = () => `test-key-${++keys}-${Date.now()}`;

before(async () => {
  api = await startApiSystem();
  customer = await api.signUp('orders-customer@example.com');
  other = await api.signUp('orders-other@example.com');
  restaurant = await api.signIn('pike-street-pizza@example.com');
  otherRestaurant = await api.signIn('15th-ave-tacos@example.com');
  courier = await api.signIn('courier@example.com');
  operator = await api.signIn('operator@example.com');
  // The notifier takes subscription `notifications`: the tests read the same events from their own.
  await api.bus.admin.createSubscription('orders', 'test-events', {
    rules: [{ name: 'status', filter: { kind: 'sql', expression: "sys.Label IS NULL OR sys.Label <> 'submitted'" } }],
  });
});
after(async () => {
  await api?.[Symbol.asyncDispose]();
});

const transition = (token: string, id: string, to: string, extra: Record<string, unknown> = {}, headers = {}) =>
  api.call('POST', `/api/v1/orders/${id}/transitions`, { token, body: { to, ...extra }, headers });

describe('creating an order', () => {
  it('answers 202 with the URL once on the bus; the processor writes the priced order', async () => {
    const created = await api.call('POST', '/api/v1/orders', {
      token: customer.token,
      body: { ...pizza(2), note: 'ring twice' },
      headers: { 'idempotency-key': key() },
    });
    assert.equal(created.status, 202);
    assert.equal(created.body.status, 'submitted');
    assert.match(created.body.id, /^o-[0-9a-f]{24}$/);
    assert.equal(created.headers.get('location'), `${api.url}/api/v1/orders/${created.body.id}`);
    assert.equal(created.body.url, created.headers.get('location'));
    const order = (await api.processed(customer.token, created.body.id)).body;
    assert.equal(order.status, 'placed');
    assert.equal(order.customerId, customer.id);
    assert.equal(order.restaurantName, 'Pike Street Pizza');
    assert.deepEqual(order.lines, [
      { itemId: 'margherita', name: 'Margherita', quantity: 2, unitPriceCents: 1400, lineCents: 2800 },
    ]);
    assert.equal(order.subtotalCents, 2800);
    assert.equal(order.deliveryFeeCents, 299);
    assert.equal(order.totalCents, 3099);
    assert.equal(order.note, 'ring twice');
    assert.deepEqual(order.deliveryAddress, { lat: 47.62, lng: -122.315, label: '1 Test St' });
    assert.deepEqual(order.next, ['cancelled']);
    assert.equal(order.history.length, 1);
  });

  it('the same Idempotency-Key twice is one order', async () => {
    const k = key();
    const first = await api.call('POST', '/api/v1/orders', {
      token: customer.token,
      body: pizza(1),
      headers: { 'idempotency-key': k },
    });
    const second = await api.call('POST', '/api/v1/orders', {
      token: customer.token,
      body: pizza(1),
      headers: { 'idempotency-key': k },
    });
    assert.equal(first.status, 202);
    assert.equal(second.status, 202);
    assert.equal(second.body.id, first.body.id);
    await api.processed(customer.token, first.body.id);
    // The same key of another customer is another order.
    const others = await api.call('POST', '/api/v1/orders', {
      token: other.token,
      body: pizza(1),
      headers: { 'idempotency-key': k },
    });
    assert.notEqual(others.body.id, first.body.id);
    await api.processed(other.token, others.body.id);
    const runtime = await api.bus.admin.getRuntimeProperties({ topic: 'orders', subscription: 'processing' });
    assert.equal(runtime.activeMessageCount, 0, 'the duplicate never reached the processor');
    // Once written, the same key again is the same order; with another body it is refused.
    const later = await api.call('POST', '/api/v1/orders', {
      token: customer.token,
      body: pizza(1),
      headers: { 'idempotency-key': k },
    });
    assert.equal(later.status, 202);
    assert.equal(later.body.id, first.body.id);
    const reused = await api.call('POST', '/api/v1/orders', {
      token: customer.token,
      body: pizza(3),
      headers: { 'idempotency-key': k },
    });
    assert.equal(reused.status, 422);
    assert.equal(reused.body.code, 'DELIVERY_IDEMPOTENCY_KEY_REUSED');
    assert.equal(reused.body.detail.orderId, first.body.id);
    const { resources } = await api.store
      .database('delivery')
      .container('orders')
      .items.query({
        query: 'SELECT VALUE COUNT(1) FROM c WHERE c.id = @id',
        parameters: [{ name: '@id', value: first.body.id }],
      })
      .fetchAll();
    assert.deepEqual(resources, [1]);
  });

  it('refuses without a session, for another role, without a valid Idempotency-Key, and names bad fields', async () => {
    const post = (
      token: string | undefined,
      body: unknown,
      headers: Record<string, string> = { 'idempotency-key': key() },
    ) => api.call('POST', '/api/v1/orders', { ...(token === undefined ? {} : { token }), body, headers });
    const anonymous = await post(undefined, pizza());
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.code, 'DELIVERY_UNAUTHORIZED');
    const byRestaurant = await post(restaurant, pizza());
    assert.equal(byRestaurant.status, 403);
    assert.equal(byRestaurant.body.code, 'DELIVERY_FORBIDDEN');
    const noKey = await post(customer.token, pizza(), {});
    assert.equal(noKey.status, 400);
    assert.equal(noKey.body.code, 'DELIVERY_IDEMPOTENCY_KEY_REQUIRED');
    for (const k of ['short', 'has space inside', 'x'.repeat(129)]) {
      const reply = await post(customer.token, pizza(), { 'idempotency-key': k });
      assert.equal(reply.body.code, 'DELIVERY_INVALID_IDEMPOTENCY_KEY', k);
    }
    const invalid: [unknown, string][] = [
      [{ ...pizza(), restaurantId: 'no/slash' }, 'restaurantId'],
      [{ ...pizza(0) }, 'items[0].quantity'],
      [{ ...pizza(1.5) }, 'items[0].quantity'],
      [{ ...pizza(51) }, 'items[0].quantity'],
      [{ ...pizza(), items: [] }, 'items'],
      [{ ...pizza(), items: [{ itemId: 'margherita', quantity: 1, price: 1 }] }, 'items[0].price'],
      [{ ...pizza(), deliveryAddress: { lat: 91, lng: 0 } }, 'deliveryAddress.lat'],
      [{ ...pizza(), deliveryAddress: { lat: 47.6 } }, 'deliveryAddress.lng'],
      [{ ...pizza(), note: 'x'.repeat(501) }, 'note'],
      [{ ...pizza(), totalCents: 1 }, 'totalCents'],
    ];
    for (const [body, field] of invalid) {
      const reply = await post(customer.token, body);
      assert.equal(reply.status, 400, field);
      assert.equal(reply.body.code, 'DELIVERY_INVALID_BODY', field);
      assert.equal(reply.body.detail.field, field);
    }
    const unfit: [unknown, string][] = [
      [{ ...pizza(), restaurantId: 'nowhere' }, 'restaurantId'],
      [{ ...pizza(), items: [{ itemId: 'sushi', quantity: 1 }] }, 'items[0].itemId'],
      [
        {
          ...pizza(),
          items: [
            { itemId: 'margherita', quantity: 1 },
            { itemId: 'margherita', quantity: 2 },
          ],
        },
        'items[1].itemId',
      ],
      [{ ...pizza(), deliveryAddress: { lat: 47.7, lng: -122.3 } }, 'deliveryAddress'],
    ];
    for (const [body, field] of unfit) {
      const reply = await post(customer.token, body);
      assert.equal(reply.status, 422, field);
      assert.equal(reply.body.code, 'DELIVERY_INVALID_ORDER');
      assert.equal(reply.body.detail.field, field);
    }
    const wrongType = await api.call('POST', '/api/v1/orders', {
      token: customer.token,
      raw: JSON.stringify(pizza()),
      headers: { 'idempotency-key': key(), 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(wrongType.status, 415);
    const huge = await api.call('POST', '/api/v1/orders', {
      token: customer.token,
      raw: JSON.stringify({ ...pizza(), note: 'x'.repeat(70_000) }),
      headers: { 'idempotency-key': key(), 'content-type': 'application/json' },
    });
    assert.equal(huge.status, 413);
    const runtime = await api.bus.admin.getRuntimeProperties({ topic: 'orders', subscription: 'processing' });
    assert.equal(runtime.activeMessageCount, 0, 'nothing refused reached the bus');
  });
});

describe('reading orders', () => {
  it('a customer sees only their own orders, a restaurant only its own: another is 404', async () => {
    const order = (await api.order(customer.token, key())).body;
    const own = await api.call('GET', `/api/v1/orders/${order.id}`, { token: customer.token });
    assert.equal(own.status, 200);
    assert.match(own.headers.get('etag')!, /^"[^"]+"$/);
    for (const token of [other.token, otherRestaurant, courier]) {
      const reply = await api.call('GET', `/api/v1/orders/${order.id}`, { token });
      assert.equal(reply.status, 404);
      assert.equal(reply.body.code, 'DELIVERY_NOT_FOUND');
    }
    for (const token of [restaurant, operator]) {
      assert.equal((await api.call('GET', `/api/v1/orders/${order.id}`, { token })).status, 200);
    }
    const unknown = await api.call('GET', '/api/v1/orders/o-000000000000000000000000', { token: customer.token });
    assert.equal(unknown.status, 404);
    const badId = await api.call('GET', '/api/v1/orders/a%20b', { token: customer.token });
    assert.equal(badId.status, 404);
    assert.equal((await api.call('GET', `/api/v1/orders/${order.id}`)).status, 401);
    const list = await api.call('GET', '/api/v1/orders?limit=100', { token: other.token });
    assert.ok(list.body.items.every((o: { customerId: string }) => o.customerId === other.id));
    const tacos = await api.call('GET', '/api/v1/orders?limit=100', { token: otherRestaurant });
    assert.deepEqual(tacos.body.items, []);
  });

  it('pages newest first with a cursor; a bad cursor or limit names the field', async () => {
    const { token } = await api.signUp('pager@example.com');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await api.order(token, key())).body.id);
    const first = await api.call('GET', '/api/v1/orders?limit=2', { token });
    assert.equal(first.status, 200);
    assert.equal(first.body.items.length, 2);
    assert.equal(typeof first.body.next, 'string');
    const second = await api.call('GET', `/api/v1/orders?limit=2&cursor=${encodeURIComponent(first.body.next)}`, {
      token,
    });
    assert.equal(second.body.items.length, 1);
    assert.equal(second.body.next, null);
    const seen = [...first.body.items, ...second.body.items].map((o: { id: string }) => o.id);
    assert.deepEqual([...seen].sort(), [...ids].sort());
    const placed = await api.call('GET', '/api/v1/orders?status=placed', { token });
    assert.equal(placed.body.items.length, 3);
    const cancelled = await api.call('GET', '/api/v1/orders?status=cancelled', { token });
    assert.equal(cancelled.body.items.length, 0);
    const cases: [string, string, string][] = [
      ['?limit=0', 'DELIVERY_INVALID_QUERY', 'limit'],
      ['?limit=abc', 'DELIVERY_INVALID_QUERY', 'limit'],
      ['?status=lost', 'DELIVERY_INVALID_QUERY', 'status'],
      ['?colour=red', 'DELIVERY_INVALID_QUERY', 'colour'],
      ['?cursor=bm90IGEgY3Vyc29y', 'DELIVERY_INVALID_CURSOR', 'cursor'],
      ['?limit=1&limit=100', 'DELIVERY_INVALID_QUERY', 'limit'],
    ];
    for (const [query, code, field] of cases) {
      const reply = await api.call('GET', `/api/v1/orders${query}`, { token });
      assert.equal(reply.status, 400, query);
      assert.equal(reply.body.code, code, query);
      assert.equal(reply.body.detail.field, field, query);
    }
    // Another listing's cursor is refused too.
    const byOther = await api.call('GET', `/api/v1/orders?limit=2&cursor=${encodeURIComponent(first.body.next)}`, {
      token: operator,
    });
    assert.equal(byOther.body.code, 'DELIVERY_INVALID_CURSOR');
  });
});

describe('couriers', () => {
  it('see the orders ready for pick-up and their own; a pick-up by someone else leaves their list', async () => {
    const order = (await api.order(customer.token, key())).body;
    const ids = async (token: string) =>
      (await api.call('GET', '/api/v1/orders?limit=100', { token })).body.items.map((o: { id: string }) => o.id);
    assert.ok(!(await ids(courier)).includes(order.id), 'not while placed');
    for (const to of ['accepted', 'preparing', 'ready'])
      assert.equal((await transition(restaurant, order.id, to)).status, 200);
    assert.ok((await ids(courier)).includes(order.id), 'ready for pick-up');
    const offer = await api.call('GET', `/api/v1/orders/${order.id}`, { token: courier });
    assert.deepEqual(offer.body.next, ['picked_up']);
    assert.equal(
      (await transition(operator, order.id, 'picked_up')).status,
      200,
      'the operator may pick up for a courier',
    );
    assert.ok(!(await ids(courier)).includes(order.id), 'picked up by someone else');
    assert.equal((await api.call('GET', `/api/v1/orders/${order.id}`, { token: courier })).status, 404);
  });
});

describe('the status machine', () => {
  it('placed → accepted → preparing → ready → picked_up → delivered, each event on the topic', async () => {
    const order = (await api.order(customer.token, key())).body;
    const steps: [string, string][] = [
      [restaurant, 'accepted'],
      [restaurant, 'preparing'],
      [restaurant, 'ready'],
      [courier, 'picked_up'],
      [courier, 'delivered'],
    ];
    for (const [token, to] of steps) {
      const reply = await transition(token, order.id, to);
      assert.equal(reply.status, 200, `${to}: ${JSON.stringify(reply.body)}`);
      assert.equal(reply.body.status, to);
    }
    const final = (await api.call('GET', `/api/v1/orders/${order.id}`, { token: customer.token })).body;
    assert.deepEqual(
      final.history.map((h: { status: string }) => h.status),
      ['placed', 'accepted', 'preparing', 'ready', 'picked_up', 'delivered'],
    );
    assert.deepEqual(final.next, []);
    assert.match(final.courierId, /^u-/);
    // The topic carries the processor's event and each transition's, subject = status (as `notifications` gets them).
    const receiver = api.bus.createReceiver({ topic: 'orders', subscription: 'test-events' });
    const events: { subject: string | undefined; status: string }[] = [];
    await waitFor(
      async () => {
        for (const m of await receiver.receiveMessages(20, { maxWaitTimeMs: 200 })) {
          const body = m.body as { orderId: string; status: string };
          if (body.orderId === order.id) events.push({ subject: m.subject, status: body.status });
          await m.complete();
        }
        return events.length >= 6;
      },
      { timeoutMs: 10_000, what: 'the status events' },
    );
    await receiver.close();
    assert.deepEqual(
      events.map((e) => e.status),
      ['placed', 'accepted', 'preparing', 'ready', 'picked_up', 'delivered'],
    );
    assert.deepEqual(
      events.slice(1).map((e) => e.subject),
      ['accepted', 'preparing', 'ready', 'picked_up', 'delivered'],
    );
  });

  it('refuses transitions out of order and by the wrong role; the same transition twice changes nothing', async () => {
    const order = (await api.order(customer.token, key())).body;
    const early = await transition(restaurant, order.id, 'ready');
    assert.equal(early.status, 409);
    assert.equal(early.body.code, 'DELIVERY_INVALID_TRANSITION');
    assert.deepEqual(early.body.detail, { from: 'placed', to: 'ready' });
    const byCustomer = await transition(customer.token, order.id, 'accepted');
    assert.equal(byCustomer.status, 403);
    assert.equal(byCustomer.body.code, 'DELIVERY_FORBIDDEN');
    const byCourier = await transition(courier, order.id, 'accepted');
    assert.equal(byCourier.status, 404, 'a courier does not see a placed order');
    const byOtherRestaurant = await transition(otherRestaurant, order.id, 'accepted');
    assert.equal(byOtherRestaurant.status, 404);
    const noReason = await transition(restaurant, order.id, 'rejected');
    assert.equal(noReason.status, 400);
    assert.equal(noReason.body.detail.field, 'reason');
    const unknownStatus = await transition(restaurant, order.id, 'teleported');
    assert.equal(unknownStatus.body.detail.field, 'to');
    const accepted = await transition(restaurant, order.id, 'accepted');
    assert.equal(accepted.status, 200);
    const again = await transition(restaurant, order.id, 'accepted');
    assert.equal(again.status, 200);
    assert.equal(again.body.history.length, 2, 'the second accept changed nothing');
    assert.equal(again.headers.get('etag'), accepted.headers.get('etag'));
    const cancel = await api.call('POST', `/api/v1/orders/${order.id}/cancel`, { token: customer.token });
    assert.equal(cancel.status, 409, 'no cancelling once accepted');
    assert.equal(cancel.body.code, 'DELIVERY_INVALID_TRANSITION');
    const unknown = await transition(restaurant, 'o-000000000000000000000000', 'accepted');
    assert.equal(unknown.status, 404);
  });

  it('a customer cancels while placed (twice is fine), a rejection keeps its reason', async () => {
    const first = (await api.order(customer.token, key())).body;
    const cancelled = await api.call('POST', `/api/v1/orders/${first.id}/cancel`, {
      token: customer.token,
      body: { reason: 'changed my mind' },
    });
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.status, 'cancelled');
    assert.equal(cancelled.body.reason, 'changed my mind');
    const twice = await api.call('POST', `/api/v1/orders/${first.id}/cancel`, { token: customer.token });
    assert.equal(twice.status, 200);
    const notTheirs = await api.call('POST', `/api/v1/orders/${first.id}/cancel`, { token: other.token });
    assert.equal(notTheirs.status, 404);
    const accept = await transition(restaurant, first.id, 'accepted');
    assert.equal(accept.status, 409);
    const second = (await api.order(customer.token, key())).body;
    const rejected = await transition(restaurant, second.id, 'rejected', { reason: 'out of dough' });
    assert.equal(rejected.status, 200);
    assert.equal(rejected.body.reason, 'out of dough');
    assert.equal(rejected.body.history.at(-1).reason, 'out of dough');
  });

  it('of two concurrent transitions one wins: the other is 409 (re-checked) or 412 (If-Match)', async () => {
    const a = (await api.order(customer.token, key())).body;
    const [accept, reject] = await Promise.all([
      transition(restaurant, a.id, 'accepted'),
      transition(restaurant, a.id, 'rejected', { reason: 'busy' }),
    ]);
    const statuses = [accept.status, reject.status].sort();
    assert.deepEqual(statuses, [200, 409]);
    const loser = accept.status === 409 ? accept : reject;
    assert.equal(loser.body.code, 'DELIVERY_INVALID_TRANSITION');
    const final = (await api.call('GET', `/api/v1/orders/${a.id}`, { token: customer.token })).body;
    assert.equal(final.history.length, 2, 'exactly one transition was written');

    const b = await api.order(customer.token, key());
    const etag = b.headers.get('etag')!;
    const both = await Promise.all([
      transition(restaurant, b.body.id, 'accepted', {}, { 'if-match': etag }),
      transition(restaurant, b.body.id, 'rejected', { reason: 'busy' }, { 'if-match': etag }),
    ]);
    assert.deepEqual(both.map((r) => r.status).sort(), [200, 412]);
    assert.equal(both.find((r) => r.status === 412)!.body.code, 'DELIVERY_PRECONDITION_FAILED');
    const stale = await transition(restaurant, b.body.id, 'preparing', {}, { 'if-match': etag });
    assert.equal(stale.status, 412);
  });
});

describe('the processor', () => {
  it('rejects an order the menu no longer allows, and writes an order delivered again never twice', async () => {
    const sender = api.bus.createSender('orders');
    await sender.send({
      messageId: 'handmade-1',
      correlationId: 'o-handmade',
      subject: 'submitted',
      contentType: 'application/json',
      body: {
        orderId: 'o-handmade',
        customerId: customer.id,
        restaurantId: 'pike-street-pizza',
        items: [{ itemId: 'sold-out-special', quantity: 1 }],
        deliveryAddress: { lat: 47.62, lng: -122.315 },
        submittedAt: new Date().toISOString(),
      },
    });
    const order = (await api.processed(customer.token, 'o-handmade')).body;
    assert.equal(order.status, 'rejected');
    assert.match(order.reason, /^invalid: items\[0\]\.itemId/);
    // Delivered again while nobody has moved the order: not written again, its event sent again.
    const untouched = (await api.order(customer.token, key())).body;
    const events = api.bus.createReceiver({ topic: 'orders', subscription: 'test-events' });
    const placedEvents = async (n: number) => {
      let seen = 0;
      await waitFor(
        async () => {
          for (const m of await events.receiveMessages(50, { maxWaitTimeMs: 100 })) {
            if ((m.body as { orderId: string }).orderId === untouched.id) seen++;
            await m.complete();
          }
          return seen >= n;
        },
        { timeoutMs: 10_000, what: `${n} placed events` },
      );
      return seen;
    };
    assert.equal(await placedEvents(1), 1);
    await sender.send({
      messageId: 'redelivered-0',
      correlationId: untouched.id,
      subject: 'submitted',
      contentType: 'application/json',
      body: {
        orderId: untouched.id,
        customerId: customer.id,
        restaurantId: 'pike-street-pizza',
        items: [{ itemId: 'margherita', quantity: 7 }],
        deliveryAddress: { lat: 47.62, lng: -122.315 },
        submittedAt: new Date().toISOString(),
      },
    });
    assert.equal(await placedEvents(1), 1, 'the event came again');
    await events.close();
    const same = (await api.call('GET', `/api/v1/orders/${untouched.id}`, { token: customer.token })).body;
    assert.equal(same.lines[0].quantity, 2, 'not written again');

    // The same submission delivered again (another message id: past the duplicate window) after a
    // transition writes nothing: the order stays where the API moved it.
    const accepted = (await api.order(customer.token, key())).body;
    assert.equal((await transition(restaurant, accepted.id, 'accepted')).status, 200);
    await sender.send({
      messageId: 'redelivered-1',
      correlationId: accepted.id,
      subject: 'submitted',
      contentType: 'application/json',
      body: {
        orderId: accepted.id,
        customerId: customer.id,
        restaurantId: 'pike-street-pizza',
        items: [{ itemId: 'margherita', quantity: 9 }],
        deliveryAddress: { lat: 47.62, lng: -122.315 },
        submittedAt: new Date().toISOString(),
      },
    });
    await waitFor(
      async () =>
        (await api.bus.admin.getRuntimeProperties({ topic: 'orders', subscription: 'processing' }))
          .activeMessageCount === 0,
      { what: 'the processor to take the message' },
    );
    const kept = (await api.call('GET', `/api/v1/orders/${accepted.id}`, { token: customer.token })).body;
    assert.equal(kept.status, 'accepted');
    assert.equal(kept.lines[0].quantity, 2);
    await sender.close();
  });

  it('takes a batch: a bad message among good ones is left out, a refused order is written rejected, the others placed; the batch again writes nothing', async () => {
    const sender = api.bus.createSender('orders');
    const run = Date.now().toString(36);
    const submission = (orderId: string, itemId: string, correlationId: string | undefined = orderId) => ({
      messageId: `batch-${run}-${orderId}-${Math.random()}`,
      ...(correlationId === undefined ? {} : { correlationId }),
      subject: 'submitted',
      contentType: 'application/json',
      body: {
        orderId,
        customerId: customer.id,
        restaurantId: 'pike-street-pizza',
        items: [{ itemId, quantity: 3 }],
        deliveryAddress: { lat: 47.62, lng: -122.315 },
        submittedAt: new Date().toISOString(),
      },
    });
    const good = [`b1-${run}`, `b2-${run}`, `b3-${run}`];
    const refused = `b-refused-${run}`;
    const uncorrelated = `b-uncorrelated-${run}`;
    const batch = () => [
      submission(good[0]!, 'margherita'),
      { messageId: `batch-${run}-garbage-${Math.random()}`, subject: 'submitted', body: 'not an order' },
      submission(good[1]!, 'margherita'),
      submission(refused, 'sold-out-special'),
      submission(uncorrelated, 'margherita', 'someone-else'),
      submission(good[2]!, 'margherita'),
    ];
    await sender.send(batch());
    for (const id of good) {
      const order = (await api.processed(customer.token, id)).body;
      assert.equal(order.status, 'placed', id);
      assert.equal(order.lines[0].quantity, 3);
    }
    const rejected = (await api.processed(customer.token, refused)).body;
    assert.equal(rejected.status, 'rejected');
    assert.match(rejected.reason, /^invalid: items\[0\]\.itemId/);
    const drained = async () =>
      waitFor(
        async () =>
          (await api.bus.admin.getRuntimeProperties({ topic: 'orders', subscription: 'processing' }))
            .activeMessageCount === 0,
        { what: 'the processor to take the batch' },
      );
    await drained();
    // Nothing of the batch is retried or dead-lettered: the bad messages were left out, the rest completed.
    const dead = api.bus.createReceiver({ topic: 'orders', subscription: 'processing', subQueue: 'deadLetter' });
    assert.deepEqual(await dead.peekMessages(10), []);
    await dead.close();
    const missing = await api.call('GET', `/api/v1/orders/${uncorrelated}`, { token: customer.token });
    assert.equal(missing.status, 404, 'a submission without its order id as correlation id is not written');

    // The batch delivered again (new message ids: past the duplicate window) after a transition
    // writes nothing: the moved order stays where the API moved it, the others as they were.
    assert.equal((await transition(restaurant, good[1]!, 'accepted')).status, 200);
    const before = await Promise.all(
      [...good, refused].map(
        async (id) => (await api.call('GET', `/api/v1/orders/${id}`, { token: customer.token })).body,
      ),
    );
    await sender.send(
      batch().map((m) =>
        typeof m.body === 'object' ? { ...m, body: { ...m.body, items: [{ itemId: 'margherita', quantity: 9 }] } } : m,
      ),
    );
    await drained();
    const after = await Promise.all(
      [...good, refused].map(
        async (id) => (await api.call('GET', `/api/v1/orders/${id}`, { token: customer.token })).body,
      ),
    );
    assert.deepEqual(after, before);
    assert.equal(after[1].status, 'accepted');
    await sender.close();
  });
});
