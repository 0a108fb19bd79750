import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileTemplate, parseTagExpression, toProperties } from '@hubbub/push';
import {
  ARRIVING,
  customerTag,
  installationTemplates,
  NOTIFIED_STATUSES,
  ORDER_STATUS_TEMPLATE,
  orderNotification,
  orderUrl,
  TEMPLATE_PROPERTIES,
} from './push-templates.ts';

describe('order-status push templates', () => {
  it('renders, with the push service’s compiler, the JSON the service worker shows', () => {
    const template = installationTemplates()[ORDER_STATUS_TEMPLATE]!;
    const properties = orderNotification({ orderId: 'o-1', status: 'rejected', reason: 'closed "today"' });
    assert.ok(properties !== null);
    assert.deepEqual(Object.keys(properties).sort(), [...TEMPLATE_PROPERTIES].sort());
    const rendered = JSON.parse(compileTemplate(template.body, ORDER_STATUS_TEMPLATE).render(toProperties(properties)));
    assert.deepEqual(rendered, {
      title: 'Order rejected',
      body: 'The restaurant could not take order o-1: closed "today"',
      url: '/notifications?order=o-1',
      orderId: 'o-1',
      status: 'rejected',
    });
    assert.deepEqual(template.headers, { TTL: '3600', Urgency: 'high' });
  });

  it('notifies the statuses the customer waits for, and no others', () => {
    assert.deepEqual([...NOTIFIED_STATUSES].sort(), ['accepted', 'cancelled', 'delivered', 'picked_up', 'rejected']);
    for (const status of ['placed', 'preparing', 'ready'] as const) {
      assert.equal(orderNotification({ orderId: 'o-1', status }), null);
    }
    for (const status of NOTIFIED_STATUSES) {
      const n = orderNotification({ orderId: 'o-2', status, reason: null });
      assert.equal(n?.status, status);
      assert.ok(n.body.includes('o-2'), n.body);
    }
  });

  it('tells the customer once the courier is about to arrive (an event, not an order status)', () => {
    assert.equal(ARRIVING, 'arriving');
    assert.ok(!(NOTIFIED_STATUSES as readonly string[]).includes(ARRIVING));
    const properties = orderNotification({ orderId: 'o-3', status: ARRIVING, customerId: 'c' })!;
    const template = installationTemplates()[ORDER_STATUS_TEMPLATE]!;
    const rendered = JSON.parse(compileTemplate(template.body, ORDER_STATUS_TEMPLATE).render(toProperties(properties)));
    assert.equal(rendered.title, 'Your courier is about to arrive');
    assert.ok(rendered.body.includes('o-3'));
    assert.equal(rendered.status, 'arriving');
    assert.equal(rendered.url, '/notifications?order=o-3');
    // Names that are no status (nor inherited properties of the messages) notify nothing.
    for (const status of ['constructor', 'toString', '__proto__']) {
      assert.equal(orderNotification({ orderId: 'o-3', status: status as typeof ARRIVING }), null);
    }
  });

  it('names the customer by the installation’s user id and links the order page', () => {
    assert.equal(customerTag('c_42'), '$UserId:{c_42}');
    const expression = parseTagExpression(customerTag('u-1'));
    assert.ok(expression.matches(new Set(['$UserId:{u-1}'])));
    assert.ok(!expression.matches(new Set(['$UserId:{u-2}'])));
    assert.ok(parseTagExpression('$UserId:u-1').matches(new Set([customerTag('u-1')])), 'the notifier’s unbraced form');
    assert.equal(orderUrl('a b'), '/notifications?order=a%20b');
    assert.equal(
      orderNotification({ orderId: 'o', status: 'rejected', reason: 'x'.repeat(500) })?.body.length,
      'The restaurant could not take order o: '.length + 200,
    );
  });
});
