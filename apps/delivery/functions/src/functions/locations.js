// Queue "locations" → SignalR: forwards each courier position to the group of its order
// (target "location"), so only the customers watching that order receive it, and to the
// operations board (group "operations"), which shows every courier.
//
// Message body (the seed's shape): {"orderid", "storeid", "lat", "longitude"} plus optional
// "courierid" and "timestamp". A message that is not a location throws, so Service Bus retries it
// and finally dead-letters it (inspect with `hubbub dlq list locations`).
const { app, output } = require('@azure/functions');

const ORDER_ID = /^[A-Za-z0-9_-]{1,64}$/;

const signalR = output.generic({
  type: 'signalR',
  name: 'signalR',
  hubName: '%TrackingHub%',
  connectionStringSetting: 'AzureSignalRConnectionString',
});

/** The location in a queue message, or throws naming what is wrong. */
function toLocation(body) {
  let value = body;
  if (Buffer.isBuffer(value)) value = value.toString('utf8');
  if (typeof value === 'string') value = JSON.parse(value);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('a location message must be a JSON object');
  }
  const orderid = String(value.orderid ?? '');
  if (!ORDER_ID.test(orderid)) throw new Error('"orderid" must be 1-64 letters, digits, "-" or "_"');
  const lat = Number(value.lat);
  const longitude = Number(value.longitude);
  if (!(Math.abs(lat) <= 90)) throw new Error('"lat" must be a number between -90 and 90');
  if (!(Math.abs(longitude) <= 180)) throw new Error('"longitude" must be a number between -180 and 180');
  const timestamp = Number.isFinite(Date.parse(value.timestamp))
    ? new Date(value.timestamp).toISOString()
    : new Date().toISOString();
  return {
    orderid,
    storeid: value.storeid ?? null,
    courierid: value.courierid ?? null,
    lat,
    longitude,
    timestamp,
  };
}

app.serviceBusQueue('forwardLocation', {
  connection: 'ServiceBusConnection',
  queueName: '%LocationsQueue%',
  extraOutputs: [signalR],
  handler: async (message, context) => {
    const location = toLocation(message);
    context.extraOutputs.set(
      signalR,
      [`order-${location.orderid}`, 'operations'].map((groupName) => ({
        target: 'location',
        groupName,
        arguments: [location],
      })),
    );
    context.debug(`order ${location.orderid}: ${location.lat}, ${location.longitude}`);
  },
});
