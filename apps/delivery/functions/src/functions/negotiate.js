// POST /api/negotiate?orderid=<id>&token=<tracking token> — hands the customer watching order <id>
// the SignalR connection info for hub "tracking" and adds them to the order's group on the server side.
//
// The tracking token of the customer's link (src/tracking.js, signed with the TrackingKey app
// setting, expiring) is the credential: the order id alone grants nothing. When customer sign-in
// arrives, the user id comes from the identity provider and the order is checked to be theirs.
const { app, input, output } = require('@azure/functions');
const { ORDER_ID, verifyTrackingToken } = require('../tracking.js');

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

function refuse(status, code, message, detail) {
  return { status, jsonBody: { code, message, detail } };
}

/** The one value of a query parameter, or undefined when it is absent or given more than once. */
function single(query, name) {
  const values = query.getAll(name);
  return values.length === 1 ? values[0] : undefined;
}

app.http('negotiate', {
  methods: ['POST', 'GET'],
  authLevel: 'anonymous',
  extraInputs: [connectionInfo],
  extraOutputs: [groups],
  handler: async (request, context) => {
    const orderId = single(request.query, 'orderid') ?? '';
    if (!ORDER_ID.test(orderId)) {
      return refuse(
        400,
        'DELIVERY_INVALID_ORDER_ID',
        'Query parameter "orderid" must be 1-64 letters, digits, "-" or "_".',
        {
          field: 'orderid',
        },
      );
    }
    const key = process.env.TrackingKey;
    if (key === undefined || key.length < 16) {
      context.error('The TrackingKey app setting is missing or shorter than 16 characters.');
      return refuse(500, 'DELIVERY_NOT_CONFIGURED', 'Tracking is not configured on this server.', {
        setting: 'TrackingKey',
      });
    }
    const token = single(request.query, 'token');
    if (token === undefined) {
      return refuse(
        401,
        'DELIVERY_TRACKING_TOKEN_REQUIRED',
        'Open the tracking link of your order: it carries a token.',
        {
          field: 'token',
        },
      );
    }
    const verdict = verifyTrackingToken(token, key);
    if (verdict.error !== undefined || verdict.orderId !== orderId) {
      const reason = verdict.error ?? 'another-order';
      return refuse(
        401,
        'DELIVERY_TRACKING_TOKEN_INVALID',
        `The tracking link is not valid for this order (${reason}).`,
        {
          field: 'token',
          reason,
        },
      );
    }
    // Membership is granted here, by the server: the customer's connections (now and later) join
    // the order's group, so locations of order X reach only the customers of order X.
    context.extraOutputs.set(groups, { action: 'add', userId: `customer-${orderId}`, groupName: `order-${orderId}` });
    return { jsonBody: context.extraInputs.get(connectionInfo) };
  },
});
