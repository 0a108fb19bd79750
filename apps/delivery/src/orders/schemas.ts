/**
 * The REST API's request and response bodies as zod schemas: requests are validated with them
 * (an error names the first bad field as `items[0].quantity`), and the OpenAPI document is
 * generated from the same schemas (`openapi.ts`).
 * @module
 */
import { z } from 'zod';
import { MAX_LINES, MAX_QUANTITY, ORDER_STATUSES, type OrderStatus } from './rules.ts';

/** Ids of restaurants, menu items, orders and accounts. */
export const ID = /^[A-Za-z0-9_-]{1,64}$/;
const id = z.string().regex(ID, 'must be 1-64 letters, digits, "-" or "_"');

const statuses = z.enum(ORDER_STATUSES as unknown as [OrderStatus, ...OrderStatus[]]);
const roles = z.enum(['customer', 'restaurant', 'courier', 'operator']);

export const SignUp = z
  .strictObject({
    email: z.email().max(254),
    password: z.string().min(8).max(128),
    name: z.string().trim().min(1).max(100),
  })
  .meta({ id: 'SignUp', description: 'A new customer account; signs in at once.' });

export const SignIn = z
  .strictObject({
    email: z.email().max(254),
    password: z.string().min(1).max(128),
  })
  .meta({ id: 'SignIn' });

const LatLng = z.strictObject({
  lat: z.number().min(-90).max(90),
  lng: z.number().min(-180).max(180),
});

export const OrderCreate = z
  .strictObject({
    restaurantId: id,
    items: z
      .array(z.strictObject({ itemId: id, quantity: z.int().min(1).max(MAX_QUANTITY) }))
      .min(1)
      .max(MAX_LINES),
    deliveryAddress: LatLng.extend({ label: z.string().trim().max(200).optional() }),
    note: z.string().trim().max(500).optional(),
  })
  .meta({ id: 'OrderCreate', description: 'An order: items of one restaurant and where to deliver them.' });

export const Transition = z
  .strictObject({
    to: statuses,
    reason: z.string().trim().min(1).max(500).optional(),
  })
  .refine((t) => t.to !== 'rejected' || t.reason !== undefined, {
    path: ['reason'],
    message: 'a rejection needs a reason',
  })
  .meta({ id: 'Transition', description: 'Moves an order to its next status; `reason` is required to reject.' });

export const Cancel = z.strictObject({ reason: z.string().trim().min(1).max(500).optional() }).meta({ id: 'Cancel' });

const base64url = (bytes: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, 'must be base64url')
    .refine((s) => Buffer.from(s, 'base64url').length === bytes, `must be ${bytes} bytes, base64url`)
    .describe(`${bytes} bytes, base64url`);

/** Push installation ids are chosen by the browser: random, 16–64 letters, digits, `-` or `_`. */
export const INSTALLATION_ID = /^[A-Za-z0-9_-]{16,64}$/;

export const PushSubscription = z
  .strictObject({
    endpoint: z.url({ protocol: /^https$/, error: 'must be an https URL' }).max(2048),
    expirationTime: z.number().int().positive().nullable().optional(),
    keys: z.strictObject({ p256dh: base64url(65), auth: base64url(16) }),
  })
  .meta({
    id: 'PushSubscription',
    description: "The browser's PushSubscription as `subscription.toJSON()` gives it; the endpoint must be https.",
  });

// Responses: not validated at run time, documented in the OpenAPI document.

export const ErrorBody = z
  .object({
    code: z.string(),
    message: z.string(),
    detail: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'Error', description: 'Every failure: a stable code, a message, and detail such as the field.' });

export const Account = z
  .object({
    id,
    email: z.email(),
    name: z.string(),
    role: roles,
    restaurantId: id.optional(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'Account' });

export const Session = z
  .object({ token: z.string(), expiresAt: z.iso.datetime(), account: Account })
  .meta({ id: 'Session', description: 'Also set as the HttpOnly cookie `hubbub_session` for the web app.' });

const MenuItem = z.object({
  id,
  name: z.string(),
  description: z.string(),
  priceCents: z.int(),
  available: z.boolean(),
});

export const Restaurant = z
  .object({
    id,
    name: z.string(),
    cuisine: z.string(),
    location: LatLng,
    deliveryFeeCents: z.int(),
    currency: z.string(),
    open: z.boolean(),
    menu: z.array(MenuItem),
  })
  .meta({ id: 'Restaurant' });

export const RestaurantList = z
  .object({ items: z.array(Restaurant.omit({ menu: true })) })
  .meta({ id: 'RestaurantList' });

export const Menu = z.object({ restaurantId: id, currency: z.string(), items: z.array(MenuItem) }).meta({ id: 'Menu' });

export const Order = z
  .object({
    id,
    customerId: id,
    restaurantId: id,
    restaurantName: z.string().optional(),
    status: statuses,
    lines: z.array(
      z.object({ itemId: id, name: z.string(), quantity: z.int(), unitPriceCents: z.int(), lineCents: z.int() }),
    ),
    subtotalCents: z.int().optional(),
    deliveryFeeCents: z.int().optional(),
    totalCents: z.int(),
    currency: z.string().optional(),
    deliveryAddress: LatLng.extend({ label: z.string().optional() }),
    note: z.string().nullable(),
    courierId: id.nullable(),
    assignedAt: z.iso.datetime().nullable().optional().describe('when the courier took the order'),
    reason: z.string().nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    history: z.array(
      z.object({ status: statuses, at: z.iso.datetime(), by: z.string(), reason: z.string().optional() }),
    ),
    next: z.array(statuses).describe('the statuses the caller may move the order to now'),
  })
  .meta({ id: 'Order', description: 'The `ETag` header carries its version for `If-Match`.' });

export const OrderAccepted = z
  .object({ id, status: z.literal('submitted'), url: z.string() })
  .meta({ id: 'OrderAccepted', description: 'Durably on the bus; the processor writes the order shortly.' });

export const OrderPage = z
  .object({ items: z.array(Order), next: z.string().nullable().describe('cursor of the next page, null on the last') })
  .meta({ id: 'OrderPage' });

export const PushInstallation = z
  .object({
    installationId: z.string().regex(INSTALLATION_ID),
    userId: id,
    endpointOrigin: z.string().describe("the push service's origin (the keys are never answered)"),
    templates: z.array(z.string()).describe('the templates notifications are sent with (`orderStatus`)'),
    expirationTime: z.iso.datetime().nullable(),
    lastUpdate: z.iso.datetime(),
    pushChannelExpired: z.boolean().describe('the push service reported the subscription gone; PUT a new one'),
  })
  .meta({ id: 'PushInstallation', description: "A browser's Web Push installation in Hubbub's push service." });

/** A courier's position, sent by its browser while it delivers an order. */
export const CourierPosition = z
  .strictObject({
    lat: z.number().min(-90).max(90),
    lng: z.number().min(-180).max(180),
    accuracy: z.number().min(0).max(100_000).optional().describe('metres, as the browser reports it'),
  })
  .meta({ id: 'CourierPosition', description: "Where the courier is now (the browser's geolocation)." });

export const PositionQueued = z
  .object({ orderId: id, at: z.iso.datetime() })
  .meta({ id: 'PositionQueued', description: "On queue `locations`: the order's watchers see it shortly." });

/** `?lat=&lng=` — where the courier is, to sort the offers by distance (both or neither). */
export const OffersQuery = z
  .strictObject({
    lat: z.coerce.number().min(-90).max(90).optional(),
    lng: z.coerce.number().min(-180).max(180).optional(),
    limit: z.coerce.number().int().min(1).max(50).default(20),
  })
  .refine((q) => (q.lat === undefined) === (q.lng === undefined), {
    path: ['lng'],
    message: 'lat and lng go together',
  });

export const Offer = Order.extend({
  pickup: LatLng.describe("the restaurant's location"),
  distanceMeters: z.number().nullable().describe('from the courier to the restaurant (null without a position)'),
  tripMeters: z.number().describe('from the restaurant to the delivery address, straight'),
}).meta({ id: 'Offer', description: 'An order a courier may take: accepted, preparing or ready, without a courier.' });

export const OfferList = z
  .object({ items: z.array(Offer).describe('nearest first, or oldest first without a position') })
  .meta({ id: 'OfferList' });

export const OrderList = z.object({ items: z.array(Order) }).meta({ id: 'OrderList' });

const ACTIVE = ['placed', 'accepted', 'preparing', 'ready', 'picked_up'] as const;

export const OperationsOverview = z
  .object({
    now: z.iso.datetime(),
    thresholdsSeconds: z
      .record(z.enum(ACTIVE), z.number())
      .describe('an order is stuck once it has been in its status longer than this'),
    orders: z.array(
      z.object({
        id,
        status: z.enum(ACTIVE),
        restaurantId: id,
        restaurantName: z.string().optional(),
        pickup: LatLng.nullable(),
        deliveryAddress: LatLng.extend({ label: z.string().optional() }),
        courierId: id.nullable(),
        createdAt: z.iso.datetime(),
        since: z.iso.datetime().describe('when the order entered its status'),
        stuck: z.boolean(),
        totalCents: z.int(),
        currency: z.string().optional(),
      }),
    ),
    couriers: z
      .array(z.object({ courierId: id, orderId: id, lat: z.number(), lng: z.number(), at: z.iso.datetime() }))
      .describe('the last position each courier sent in the last 15 minutes'),
  })
  .meta({ id: 'OperationsOverview', description: 'Every active order (oldest first) and courier, for one map.' });

export const ListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(4096).optional(),
  status: statuses.optional(),
});

/** `items[0].quantity` from a zod issue path. */
export function fieldOf(path: readonly PropertyKey[]): string {
  let field = '';
  for (const part of path)
    field += typeof part === 'number' ? `[${part}]` : `${field === '' ? '' : '.'}${String(part)}`;
  return field;
}

/** The issues of a failed parse, each with its field (unknown keys name the key). */
export function issuesOf(error: z.ZodError): { field: string; message: string }[] {
  return error.issues.map((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const path = keys.length > 0 ? [...issue.path, keys[0]!] : issue.path;
    return { field: fieldOf(path), message: issue.message };
  });
}
