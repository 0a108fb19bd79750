// Topic "orders", subscription "notifications" → a push notification to the customer: the seed's
// notifier. Each status event (sent by the REST API at each transition, and by processOrder for
// "placed" or "rejected") that matters to the customer — accepted, rejected, picked up, delivered,
// cancelled (../push.js says which and with what words) — becomes a template send through the
// Notification Hubs output to every installation of the customer (tag `$UserId:<customerId>`: a
// browser installation carries the customer's account id as its user id), which renders the
// installation's "orderStatus" template ({title, body, url, orderId, status}). The REST API's
// "arriving" event (status "arriving", once per order: the courier is about to arrive) goes the
// same way, keyed order-status/<order>/arriving.
//
// Idempotent: each send carries the key order-status/<order>/<status> — an order reaches each status
// once, so a redelivered message, or the same event published again (the API republishes it when a
// transition is retried, the processor when its message comes again), sends nothing twice within
// the push service's idempotency window. A message that is no status event throws: Service Bus
// retries it, then dead-letters it.
const { app, output } = require('@azure/functions');
const { orderNotification } = require('../push.js');

const ID = /^[A-Za-z0-9_-]{1,64}$/;

const push = output.generic({
  type: 'notificationHub',
  name: 'push',
  hubName: '%NotificationHubName%',
  connection: 'NotificationHubConnection',
  tagExpression: '$UserId:{customerId}',
  idempotencyKey: 'order-status/{orderId}/{status}',
});

/** The status event in a message, or throws naming what is wrong. */
function toEvent(body) {
  let value = body;
  if (Buffer.isBuffer(value)) value = value.toString('utf8');
  if (typeof value === 'string') value = JSON.parse(value);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('a status event must be a JSON object');
  }
  for (const field of ['orderId', 'customerId', 'status']) {
    if (typeof value[field] !== 'string' || !ID.test(value[field])) {
      throw new Error(`"${field}" must be 1-64 letters, digits, "-" or "_"`);
    }
  }
  return value;
}

app.serviceBusTopic('notifyOrder', {
  connection: 'ServiceBusConnection',
  topicName: '%OrdersTopic%',
  subscriptionName: '%OrdersNotificationsSubscription%',
  extraOutputs: [push],
  handler: async (message, context) => {
    const event = toEvent(message);
    const notification = orderNotification(event);
    if (notification === null) return;
    context.extraOutputs.set(push, notification);
    context.debug(`order ${event.orderId}: ${event.status} → customer ${event.customerId}`);
  },
});
