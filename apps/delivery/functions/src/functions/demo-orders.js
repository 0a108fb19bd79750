// GET /api/demo-orders — the simulated demo orders with tracking links, for the tracking page's
// picker. Served only when the DemoOrders app setting lists them (npm start sets it while it
// simulates couriers): demo orders are public by design, real orders never are.
const { app } = require('@azure/functions');
const { ORDER_ID, createTrackingToken } = require('../tracking.js');

app.http('demoOrders', {
  route: 'demo-orders',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async () => {
    const ids = (process.env.DemoOrders ?? '').split(',').filter((id) => ORDER_ID.test(id));
    const key = process.env.TrackingKey;
    if (ids.length === 0 || key === undefined || key.length < 16) {
      return {
        status: 404,
        jsonBody: { code: 'DELIVERY_NO_DEMO', message: 'No demo orders on this server.', detail: {} },
      };
    }
    const orders = ids.map((orderid) => ({ orderid, token: createTrackingToken(orderid, key, { ttlSeconds: 3600 }) }));
    return { jsonBody: { orders } };
  },
});
