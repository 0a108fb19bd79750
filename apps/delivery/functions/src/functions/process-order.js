// Topic "orders", subscription "processing" → the order documents: the seed's WebJob, in batches
// (`cardinality: 'many'`: each invocation takes what the subscription holds, up to the host's
// maxMessageBatchSize). Each message (subject "submitted", sent by the REST API once the
// customer's request passed its checks, with the order id as its correlation id) is validated and
// priced against its restaurant's menu as it is now (cosmosDB input: the restaurants container)
// and written to container "orders" (cosmosDB output, the batch's orders as one array) as "placed"
// — or as "rejected" with the reason when the menu no longer allows it, so an order the API
// accepted always ends in a status. The "placed"/"rejected" events go back on the topic for the
// notifications subscription (the serviceBus output sends bodies only, as on Azure: the status is
// in each), and to each order's live group in the hub (signalR output: group "order-<id>", target
// "orderStatus", as the API sends each later status) with the restaurant's and the operations
// board's groups.
//
// The batch completes when the invocation succeeds and comes again whole when it throws, so one
// bad message must not fail its neighbours: a message that is no order (or carries no order id as
// its correlation id) is logged as an error and left out, and an order the menu refuses is written
// rejected; the function throws only when the store or the bus fails (the outputs are written
// after it returns), and then the whole batch is delivered again.
//
// A redelivered message finds its order written already (cosmosDB input: the batch's orders by
// {CorrelationIdArray}) and does not write it again: a status set through the API since is never
// overwritten. While the order is untouched since, its event is sent again (events are at least
// once).
const { app, input, output } = require('@azure/functions');
const { priceOrder } = require('../orders.js');

const connection = 'CosmosDBConnection';
const databaseName = '%DeliveryDatabase%';
const ORDER_ID = /^[A-Za-z0-9_-]{1,64}$/;

const restaurants = input.cosmosDB({
  connection,
  databaseName,
  containerName: 'restaurants',
  sqlQuery: 'SELECT * FROM c',
});
const existing = input.cosmosDB({
  connection,
  databaseName,
  containerName: 'orders',
  sqlQuery: 'SELECT * FROM c WHERE ARRAY_CONTAINS({CorrelationIdArray}, c.id)',
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

/**
 * What one submission makes: `{order}` to write with its event, `{again}` an order written before
 * whose event goes out again, or `{}` (written before and moved since: nothing).
 */
function processOne(submission, written, restaurant, context) {
  if (written !== undefined) {
    // Written by an earlier delivery of this message whose event may not have gone out (the
    // invocation failed after the write): while nobody has moved the order since, send it again.
    const history = written.history ?? [];
    const untouched = history.length === 1 || (history.length === 2 && history[1].by === 'processor');
    context.log(`order ${submission.orderId} is written already (${written.status}); not written again`);
    return untouched ? { again: written } : {};
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
    priced = priceOrder(restaurant ?? null, submission);
  } catch (err) {
    if (err.code !== 'DELIVERY_INVALID_ORDER') throw err;
    // The API checked this order against the menu; the menu changed since. The order is kept, rejected.
    const reason = `invalid: ${err.field}: ${err.message}`;
    Object.assign(order, { status: 'rejected', reason, items: submission.items, lines: [], totalCents: 0 });
    order.history = [
      { status: 'placed', at: submission.submittedAt, by: `customer:${submission.customerId}` },
      { status: 'rejected', at, by: 'processor', reason },
    ];
    return { order };
  }
  Object.assign(order, { restaurantName: restaurant.name, status: 'placed', ...priced });
  order.history = [{ status: 'placed', at: submission.submittedAt, by: `customer:${submission.customerId}` }];
  return { order };
}

app.serviceBusTopic('processOrder', {
  connection: 'ServiceBusConnection',
  topicName: '%OrdersTopic%',
  subscriptionName: '%OrdersProcessingSubscription%',
  cardinality: 'many',
  extraInputs: [restaurants, existing],
  extraOutputs: [orders, events, live],
  handler: async (messages, context) => {
    const { messageIdArray = [], correlationIdArray = [] } = context.triggerMetadata ?? {};
    const menus = new Map((context.extraInputs.get(restaurants) ?? []).map((r) => [r.id, r]));
    const written = new Map((context.extraInputs.get(existing) ?? []).map((o) => [o.id, o]));
    const toWrite = [];
    const toAnnounce = [];
    messages.forEach((message, i) => {
      let submission;
      try {
        submission = toSubmission(message);
        if (correlationIdArray[i] !== submission.orderId) {
          throw new Error('the correlation id must be the order id ("orderId")');
        }
      } catch (err) {
        // No order to record: left out (logged), so that it does not fail the batch around it.
        context.error(`message ${messageIdArray[i] ?? i} is no order and is dropped: ${err.message}`);
        return;
      }
      const outcome = processOne(
        submission,
        written.get(submission.orderId),
        menus.get(submission.restaurantId),
        context,
      );
      if (outcome.order !== undefined) {
        // The same order twice in one batch: the second finds the first written.
        written.set(outcome.order.id, outcome.order);
        toWrite.push(outcome.order);
        toAnnounce.push(outcome.order);
      } else if (outcome.again !== undefined) toAnnounce.push(outcome.again);
    });
    if (toWrite.length > 0) context.extraOutputs.set(orders, toWrite);
    if (toAnnounce.length > 0) {
      context.extraOutputs.set(events, toAnnounce.map(statusEvent));
      context.extraOutputs.set(live, toAnnounce.flatMap(liveStatus));
    }
  },
});
