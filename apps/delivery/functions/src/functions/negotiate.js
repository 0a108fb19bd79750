// POST /api/negotiate?orderid=<id> — hands the customer watching order <id> the SignalR
// connection info for hub "tracking" and adds them to the order's group on the server side.
//
// First part of the delivery system: the order id in the tracking link identifies the customer
// (user id "customer-<orderid>"). Customer sign-in comes later; then the user id comes from the
// identity provider (e.g. the x-ms-client-principal-id header) and the order is checked to be theirs.
const { app, input, output } = require('@azure/functions');

const ORDER_ID = /^[A-Za-z0-9_-]{1,64}$/;

const connectionInfo = input.generic({
  type: 'signalRConnectionInfo',
  name: 'connectionInfo',
  hubName: '%TrackingHub%',
  userId: 'customer-{query.orderid}',
  connectionStringSetting: 'AzureSignalRConnectionString',
});

const groups = output.generic({
  type: 'signalR',
  name: 'groups',
  hubName: '%TrackingHub%',
  connectionStringSetting: 'AzureSignalRConnectionString',
});

app.http('negotiate', {
  methods: ['POST', 'GET'],
  authLevel: 'anonymous',
  extraInputs: [connectionInfo],
  extraOutputs: [groups],
  handler: async (request, context) => {
    const orderId = request.query.get('orderid') ?? '';
    if (!ORDER_ID.test(orderId)) {
      return {
        status: 400,
        jsonBody: {
          error: {
            code: 'DELIVERY_INVALID_ORDER_ID',
            message: 'Query parameter "orderid" must be 1-64 letters, digits, "-" or "_".',
            detail: { field: 'orderid' },
          },
        },
      };
    }
    // Membership is granted here, by the server: the customer's connections (now and later) join
    // the order's group, so locations of order X reach only the customers of order X.
    context.extraOutputs.set(groups, { action: 'add', userId: `customer-${orderId}`, groupName: `order-${orderId}` });
    return { jsonBody: context.extraInputs.get(connectionInfo) };
  },
});
