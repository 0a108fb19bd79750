// Queue "locations" → SignalR: forwards each courier position to the group of its order
// (target "location"), so only the customers watching that order receive it, and to the
// operations board (group "operations"), which shows every courier.
//
// Message body (the seed's shape): {"orderid", "storeid", "lat", "longitude"} plus optional
// "courierid", "timestamp" and "eta" — the REST API's arrival estimate once the order is picked up
// ({"meters", "seconds"}: whole metres and seconds left, seconds null until the speed is known), so
// every client shows the server's number; an "eta" that is not one is left out. A message that is not a location throws, so Service Bus retries it
// and finally dead-letters it (inspect with `hubbub dlq list locations`).
const { app, output } = require('@azure/functions');

const ORDER_ID = /^[A-Za-z0-9_-]{1,64}$/;

const signalR = output.generic({
  type: 'signalR',
  name: 'signalR',
  hubName: '%TrackingHub%',
  connectionStringSetting: 'AzureSignalRConnectionString',
});

const MAX_METERS = 1_000_000;
const MAX_SECONDS = 86_400;

/** The estimate on a message when it is one (`{meters, seconds}` in range), else undefined. */
function toEta(value) {
  if (typeof value !== 'object' || value === null) return undefined;
  const { meters, seconds } = value;
  if (!Number.isFinite(meters) || meters < 0 || meters > MAX_METERS) return undefined;
  if (seconds !== null && (!Number.isFinite(seconds) || seconds < 0 || seconds > MAX_SECONDS)) return undefined;
  return { meters: Math.round(meters), seconds: seconds === null ? null : Math.round(seconds) };
}

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
  const eta = toEta(value.eta);
  return {
    orderid,
    storeid: value.storeid ?? null,
    courierid: value.courierid ?? null,
    lat,
    longitude,
    timestamp,
    ...(eta === undefined ? {} : { eta }),
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
