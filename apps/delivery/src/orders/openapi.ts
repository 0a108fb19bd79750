/**
 * The OpenAPI 3.1 document of the REST API, generated from the zod schemas the routes validate
 * with (`z.toJSONSchema`: JSON Schema 2020-12, OpenAPI 3.1's dialect), so the document and the
 * checks cannot drift apart.
 * @module
 */
import { z } from 'zod';
import * as schemas from './schemas.ts';

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (id: string) => ({ content: { 'application/json': { schema: ref(id) } } });
const error = (description: string) => ({ description, ...json('Error') });
const reply = (description: string, id?: string, headers?: Record<string, unknown>) => ({
  description,
  ...(id === undefined ? {} : json(id)),
  ...(headers === undefined ? {} : { headers }),
});
const idParam = (name: string) => ({
  name,
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: schemas.ID.source },
});
const etag = { ETag: { description: "The order's version, for If-Match", schema: { type: 'string' } } };
const ifMatch = {
  name: 'If-Match',
  in: 'header',
  required: false,
  description: 'Only when the order is still this version (412 otherwise); without it a lost race is checked again',
  schema: { type: 'string' },
};
const signedIn = [{ bearer: [] }, { cookie: [] }];
const common = {
  '400': error('A body, query or header is invalid (`detail.field` names it)'),
  '401': error('No valid session'),
  '413': error('The body is too large'),
  '415': error('The body is not application/json'),
};

/** The query parameters a query schema allows, each with its JSON Schema. */
function queryParameters(schema: z.ZodType): Record<string, unknown>[] {
  const json = z.toJSONSchema(schema, { io: 'input' }) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: 'query',
    required: json.required?.includes(name) ?? false,
    schema: property,
  }));
}

let cached: { schemas: Record<string, unknown> } | undefined;

/** The component schemas: every schema of `schemas.ts` with an id. */
function components(): Record<string, unknown> {
  cached ??= (() => {
    const ids = new Set(
      Object.values(schemas).flatMap((s) => {
        const id = s instanceof z.ZodType ? (z.globalRegistry.get(s) as { id?: string } | undefined)?.id : undefined;
        return id === undefined ? [] : [id];
      }),
    );
    const all = z.toJSONSchema(z.globalRegistry, { uri: (id) => `#/components/schemas/${id}` }).schemas;
    const out: Record<string, unknown> = {};
    for (const [id, schema] of Object.entries(all)) {
      if (!ids.has(id)) continue;
      const { $schema: _, $id: __, ...rest } = schema as Record<string, unknown>;
      out[id] = rest;
    }
    return { schemas: out };
  })();
  return cached.schemas;
}

export function openApiDocument(serverUrl: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Hubbub Delivery API',
      version: '1.0.0',
      description:
        'Restaurants, menus, accounts and orders of Hubbub Delivery. Amounts are integer cents. Errors are `{code, message, detail}` with a stable `DELIVERY_*` code.',
    },
    servers: [{ url: serverUrl }],
    components: {
      schemas: components(),
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'The token of POST /api/v1/session' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'hubbub_session' },
      },
    },
    paths: {
      '/api/v1/restaurants': {
        get: { summary: 'List restaurants', responses: { '200': reply('The restaurants', 'RestaurantList') } },
      },
      '/api/v1/restaurants/{restaurantId}': {
        get: {
          summary: 'A restaurant with its menu',
          parameters: [idParam('restaurantId')],
          responses: { '200': reply('The restaurant', 'Restaurant'), '404': error('No such restaurant') },
        },
      },
      '/api/v1/restaurants/{restaurantId}/menu': {
        get: {
          summary: "A restaurant's menu",
          parameters: [idParam('restaurantId')],
          responses: { '200': reply('The menu', 'Menu'), '404': error('No such restaurant') },
        },
      },
      '/api/v1/account': {
        post: {
          summary: 'Sign up (customers) and sign in',
          requestBody: { required: true, ...json('SignUp') },
          responses: {
            '201': reply('Signed in; also sets the session cookie', 'Session'),
            ...common,
            '409': error('The email is taken'),
            '429': error('Too many sign-ups'),
          },
        },
        get: {
          summary: 'The signed-in account',
          security: signedIn,
          responses: { '200': reply('The account', 'Account'), '401': common['401'] },
        },
      },
      '/api/v1/session': {
        post: {
          summary: 'Sign in',
          requestBody: { required: true, ...json('SignIn') },
          responses: {
            '201': reply('Signed in; also sets the session cookie', 'Session'),
            ...common,
            '429': error('Too many failed sign-ins'),
          },
        },
        delete: {
          summary: 'Sign out',
          security: signedIn,
          responses: { '204': reply('Signed out; the cookie is cleared'), '401': common['401'] },
        },
      },
      '/api/v1/orders': {
        post: {
          summary: 'Place an order (customers)',
          description:
            'Answers 202 once the order is durably on the bus; the processor writes it (GET its URL answers 404 until then). The same Idempotency-Key again names the same order and places nothing new.',
          security: signedIn,
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: true,
              schema: { type: 'string', pattern: '^[\\x21-\\x7e]{8,128}$' },
            },
          ],
          requestBody: { required: true, ...json('OrderCreate') },
          responses: {
            '202': reply('Accepted', 'OrderAccepted', {
              Location: { description: "The order's URL", schema: { type: 'string' } },
            }),
            ...common,
            '403': error('Not a customer account'),
            '422': error('The order does not fit the menu or the delivery area (`detail.field`)'),
            '503': error('The bus is unavailable; nothing was accepted'),
          },
        },
        get: {
          summary: 'The orders the caller may see, newest first',
          security: signedIn,
          parameters: queryParameters(schemas.ListQuery),
          responses: { '200': reply('A page', 'OrderPage'), '400': common['400'], '401': common['401'] },
        },
      },
      '/api/v1/orders/{orderId}': {
        get: {
          summary: 'One order',
          security: signedIn,
          parameters: [idParam('orderId')],
          responses: {
            '200': reply('The order', 'Order', etag),
            '401': common['401'],
            '404': error("No such order, or another's"),
          },
        },
      },
      '/api/v1/orders/{orderId}/transitions': {
        post: {
          summary: 'Move an order along its status machine',
          description:
            'placed → accepted | rejected (restaurant) → preparing → ready (restaurant) → picked_up → delivered (courier); the operator may make any of these. The same transition again succeeds and changes nothing.',
          security: signedIn,
          parameters: [idParam('orderId'), ifMatch],
          requestBody: { required: true, ...json('Transition') },
          responses: {
            '200': reply('The order after the transition', 'Order', etag),
            ...common,
            '403': error('The role may not make this transition'),
            '404': error("No such order, or another's"),
            '409': error('The status does not allow it'),
            '412': error('If-Match names an old version'),
          },
        },
      },
      '/api/v1/restaurants/{restaurantId}/orders': {
        get: {
          summary: "The restaurant's active orders, oldest first (its own account, the operator)",
          security: signedIn,
          parameters: [idParam('restaurantId')],
          responses: {
            '200': reply('Placed, accepted, preparing, ready and picked-up orders', 'OrderList'),
            '401': common['401'],
            '403': error('Not a restaurant or operator account'),
            '404': error('No such restaurant, or another restaurant'),
          },
        },
      },
      '/api/v1/courier/offers': {
        get: {
          summary: 'Orders a courier may take: accepted, preparing or ready, without a courier (couriers)',
          security: signedIn,
          parameters: queryParameters(schemas.OffersQuery),
          responses: {
            '200': reply('Nearest restaurant first when lat and lng are given', 'OfferList'),
            '400': common['400'],
            '401': common['401'],
            '403': error('Not a courier account'),
          },
        },
      },
      '/api/v1/courier/deliveries': {
        get: {
          summary: "The courier's orders under way (couriers)",
          security: signedIn,
          responses: {
            '200': reply('Oldest first', 'OrderList'),
            '401': common['401'],
            '403': error('Not a courier account'),
          },
        },
      },
      '/api/v1/orders/{orderId}/assignment': {
        post: {
          summary: 'Take an offer: the order becomes the calling courier’s (couriers)',
          description:
            'Written with the etag read, so of two couriers taking one order one wins; the other gets 409 DELIVERY_ORDER_TAKEN. Taking one’s own order again succeeds and changes nothing. Only the assigned courier may then pick the order up and deliver it.',
          security: signedIn,
          parameters: [idParam('orderId'), ifMatch],
          responses: {
            '200': reply('The order, now the courier’s', 'Order', etag),
            '401': common['401'],
            '403': error('Not a courier account'),
            '404': error('No such order, or not an offer (placed, over)'),
            '409': error('Another courier took it'),
            '412': error('If-Match names an old version'),
          },
        },
      },
      '/api/v1/orders/{orderId}/location': {
        post: {
          summary: "The courier's position while it delivers the order (its courier)",
          description:
            "Put on queue `locations` in the tracking system's shape (`{orderid, storeid, courierid, lat, longitude, timestamp}`, and once the order is picked up `eta: {meters, seconds}`, the server's arrival estimate): the order's group and the operations board receive it as `location`. The first position within 2 minutes or 300 m of the door sends the customer one push, 'Your courier is about to arrive'.",
          security: signedIn,
          parameters: [idParam('orderId')],
          requestBody: { required: true, ...json('CourierPosition') },
          responses: {
            '202': reply('Queued', 'PositionQueued'),
            ...common,
            '403': error('Not a courier account'),
            '404': error("No such order, or another courier's"),
            '409': error('The order is over (delivered)'),
            '429': error('More than a few positions a second'),
          },
        },
      },
      '/api/v1/operations/overview': {
        get: {
          summary: 'Every active order and courier, stuck orders marked (operators)',
          security: signedIn,
          responses: {
            '200': reply('The overview', 'OperationsOverview'),
            '401': common['401'],
            '403': error('Not an operator account'),
          },
        },
      },
      '/api/v1/live/negotiate': {
        ...Object.fromEntries(
          ['get', 'post'].map((method) => [
            method,
            {
              summary: "Connection info for a staff board's live updates (restaurant, courier, operator)",
              description:
                "What the SignalR client's negotiate asks for (`withUrl('/api/v1/live')`): hub `tracking`, the caller's account as hub user, added by the server to its board's group — `restaurant-{id}` (its orders' `orderStatus`), `couriers` (`orderStatus` of offers and deliveries, `orderAssigned`), `operations` (every `orderStatus`, `orderAssigned` and `location`).",
              security: signedIn,
              responses: {
                '200': {
                  description: 'Connect to `url` with `accessToken`',
                  content: {
                    'application/json': {
                      schema: {
                        type: 'object',
                        required: ['url', 'accessToken', 'group'],
                        properties: {
                          url: { type: 'string' },
                          accessToken: { type: 'string' },
                          group: { type: 'string' },
                        },
                      },
                    },
                  },
                },
                '401': common['401'],
                '403': error('A customer account (customers follow their orders)'),
                '503': error('The server runs without the hub'),
              },
            },
          ]),
        ),
      },
      '/api/v1/push/installations/{installationId}': {
        parameters: [
          {
            name: 'installationId',
            in: 'path',
            required: true,
            description: 'Chosen by the browser, random (a UUID)',
            schema: { type: 'string', pattern: schemas.INSTALLATION_ID.source },
          },
        ],
        put: {
          summary: "Register the browser's Web Push subscription for order notifications (customers)",
          description:
            "Creates or updates a browser installation in Hubbub's push service carrying the customer's id (tag `$UserId:{id}`) and the `orderStatus` template; it expires 90 days after the last PUT (the web app renews it on each visit). A customer keeps 10 at most: a new one evicts the least recently updated.",
          security: signedIn,
          requestBody: { required: true, ...json('PushSubscription') },
          responses: {
            '200': reply('Updated', 'PushInstallation'),
            '201': reply('Created', 'PushInstallation'),
            ...common,
            '403': error('Not a customer account'),
            '409': error("The id is another account's installation: subscribe with a new id"),
            '503': error('The server runs without push'),
          },
        },
        get: {
          summary: "The customer's installation",
          security: signedIn,
          responses: {
            '200': reply('The installation', 'PushInstallation'),
            '401': common['401'],
            '404': error("No such installation, or another's"),
          },
        },
        delete: {
          summary: 'Unsubscribe: remove the installation',
          security: signedIn,
          responses: {
            '204': reply('Removed'),
            '401': common['401'],
            '404': error("No such installation, or another's"),
          },
        },
      },
      '/api/v1/orders/{orderId}/negotiate': {
        ...Object.fromEntries(
          ['get', 'post'].map((method) => [
            method,
            {
              summary: "Connection info for the order's live status (its customer, restaurant, courier, the operator)",
              description:
                "What the SignalR client's negotiate asks for (`withUrl('/api/v1/orders/{orderId}')` POSTs here): the hub URL and an access token for hub `tracking`, with the caller's account as hub user, added by the server to group `order-{orderId}`. The group receives `orderStatus` `{orderId, status, at, reason}` at each status change, and `location` for the courier's positions.",
              security: signedIn,
              parameters: [idParam('orderId')],
              responses: {
                '200': {
                  description: 'Connect to `url` with `accessToken`',
                  content: {
                    'application/json': {
                      schema: {
                        type: 'object',
                        required: ['url', 'accessToken'],
                        properties: { url: { type: 'string' }, accessToken: { type: 'string' } },
                      },
                    },
                  },
                },
                '401': common['401'],
                '404': error('No such order, or one the caller may not watch'),
                '503': error('The server runs without the hub'),
              },
            },
          ]),
        ),
      },
      '/api/v1/orders/{orderId}/cancel': {
        post: {
          summary: 'Cancel an order while it is placed (customers)',
          security: signedIn,
          parameters: [idParam('orderId'), ifMatch],
          requestBody: { required: false, ...json('Cancel') },
          responses: {
            '200': reply('The cancelled order', 'Order', etag),
            ...common,
            '404': error("No such order, or another's"),
            '409': error('The restaurant has accepted or rejected it already'),
            '412': error('If-Match names an old version'),
          },
        },
      },
    },
  };
}
