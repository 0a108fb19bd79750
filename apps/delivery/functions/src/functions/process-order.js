// Topic "orders", subscription "processing" → the order document: the seed's WebJob. Each message
// (subject "submitted", sent by the REST API once the customer's request passed its checks) is
// validated and priced against the restaurant's menu as it is now (cosmosDB input by
// {restaurantId}; with the setting CosmosDBCachedReads the system serves it from memory kept
// coherent by the restaurants container's change feed) and written to container "orders" (cosmosDB output) as "placed" — or as
// "rejected" with the reason when the menu no longer allows it, so an order the API accepted
// always ends in a status. The "placed"/"rejected" event goes back on the topic for the
// notifications subscription (the serviceBus output sends a body only, as on Azure: the status is
// in it), and to the order's live group in the hub (signalR output: group "order-<id>", target
// "orderStatus", as the API sends each later status) with the restaurant's and the operations
// board's groups. A message that is not an order throws:
// Service Bus retries it, then dead-letters it.
//
// A redelivered message finds its order written already (cosmosDB input by {orderId}) and does not
// write it again: a status set through the API since is never overwritten. While the order is
// untouched since, its event is sent again (events are at least once).
const { app, input, output } = require('@azure/functions');
const { priceOrder } = require('../orders.js');

const connection = 'CosmosDBConnection';
const databaseName = '%DeliveryDatabase%';
const ORDER_ID = /^[A-Za-z0-9_-]{1,64}$/;

const restaurant = input.cosmosDB({
  connection,
  databaseName,
  containerName: 'restaurants',
  id: '{restaurantId}',
  partitionKey: '{restaurantId}',
});
const existing = input.cosmosDB({
  connection,
  databaseName,
  containerName: 'orders',
  id: '{orderId}',
  partitionKey: '{orderId}',
});
const orders = output.cosmosDB({
  connection,
  databaseName,
  containerName: 'orders',
  createIfNotExists: true,
  partitionKey: '/id',
});
const events = output.serviceBusTopic({ connection: 'ServiceBusConnection', topicName: '%OrdersTopic%' });
const live = output.generic({
  type: 'signalR',
  name: 'live',
  hubName: '%TrackingHub%',
  connectionStringSetting: 'AzureSignalRConnectionString',
});

/** The submission in a message, or throws naming what is wrong. */
function toSubmission(body) {
  let value = body;
  if (Buffer.isBuffer(value)) value = value.toString('utf8');
  if (typeof value === 'string') value = JSON.parse(value);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('an order message must be a JSON object');
  }
  for (const field of ['orderId', 'customerId', 'restaurantId']) {
    if (typeof value[field] !== 'string' || !ORDER_ID.test(value[field])) {
      throw new Error(`"${field}" must be 1-64 letters, digits, "-" or "_"`);
    }
  }
  if (!Number.isFinite(Date.parse(value.submittedAt))) throw new Error('"submittedAt" must be an ISO 8601 time');
  return value;
}

/**
 * What the order's page receives live (target "orderStatus" in group "order-<id>"), and the boards
 * that hear about the order: its restaurant's ("restaurant-<id>") and the operations board's.
 */
const liveStatus = (order) => {
  const status = { orderId: order.id, status: order.status, at: order.updatedAt, reason: order.reason ?? null };
  return [`order-${order.id}`, `restaurant-${order.restaurantId}`, 'operations'].map((groupName) => ({
    target: 'orderStatus',
    groupName,
    arguments: [status],
  }));
};

/** The status event the notifications subscription receives. */
const statusEvent = (order) => ({
  orderId: order.id,
  status: order.status,
  customerId: order.customerId,
  restaurantId: order.restaurantId,
  at: order.updatedAt,
  reason: order.reason ?? null,
});

app.serviceBusTopic('processOrder', {
  connection: 'ServiceBusConnection',
  topicName: '%OrdersTopic%',
  subscriptionName: '%OrdersProcessingSubscription%',
  extraInputs: [restaurant, existing],
  extraOutputs: [orders, events, live],
  handler: async (message, context) => {
    const submission = toSubmission(message);
    const written = context.extraInputs.get(existing);
    if (written !== null && written !== undefined) {
      // Written by an earlier delivery of this message whose event may not have gone out (the
      // invocation failed after the write): while nobody has moved the order since, send it again.
      const history = written.history ?? [];
      const untouched = history.length === 1 || (history.length === 2 && history[1].by === 'processor');
      if (untouched) {
        context.extraOutputs.set(events, statusEvent(written));
        context.extraOutputs.set(live, liveStatus(written));
      }
      context.log(`order ${submission.orderId} is written already (${written.status}); not written again`);
      return;
    }
    const at = new Date().toISOString();
    const order = {
      id: submission.orderId,
      customerId: submission.customerId,
      restaurantId: submission.restaurantId,
      deliveryAddress: submission.deliveryAddress,
      note: submission.note ?? null,
      requestHash: typeof submission.requestHash === 'string' ? submission.requestHash : null,
      createdAt: submission.submittedAt,
      updatedAt: at,
      courierId: null,
      reason: null,
    };
    let priced;
    try {
      priced = priceOrder(context.extraInputs.get(restaurant), submission);
    } catch (err) {
      if (err.code !== 'DELIVERY_INVALID_ORDER') throw err;
      // The API checked this order against the menu; the menu changed since. The order is kept, rejected.
      const reason = `invalid: ${err.field}: ${err.message}`;
      Object.assign(order, { status: 'rejected', reason, items: submission.items, lines: [], totalCents: 0 });
      order.history = [
        { status: 'placed', at: submission.submittedAt, by: `customer:${submission.customerId}` },
        { status: 'rejected', at, by: 'processor', reason },
      ];
      context.extraOutputs.set(orders, order);
      context.extraOutputs.set(events, statusEvent(order));
      context.extraOutputs.set(live, liveStatus(order));
      return;
    }
    const restaurantName = context.extraInputs.get(restaurant).name;
    Object.assign(order, { restaurantName, status: 'placed', ...priced });
    order.history = [{ status: 'placed', at: submission.submittedAt, by: `customer:${submission.customerId}` }];
    context.extraOutputs.set(orders, order);
    context.extraOutputs.set(events, statusEvent(order));
    context.extraOutputs.set(live, liveStatus(order));
  },
});
