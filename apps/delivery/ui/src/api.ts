/**
 * The REST API (`/api/v1`) as the web app uses it: same origin, the session in the HttpOnly
 * cookie, every failure an {@link ApiError} with the server's stable code.
 */

export type OrderStatus =
  | 'placed'
  | 'accepted'
  | 'rejected'
  | 'preparing'
  | 'ready'
  | 'picked_up'
  | 'delivered'
  | 'cancelled';

export interface Account {
  id: string;
  email: string;
  name: string;
  role: 'customer' | 'restaurant' | 'courier' | 'operator';
  restaurantId?: string;
}

export interface LatLng {
  lat: number;
  lng: number;
}

export interface MenuItem {
  id: string;
  name: string;
  description: string;
  priceCents: number;
  available: boolean;
}

export interface Restaurant {
  id: string;
  name: string;
  cuisine: string;
  location: LatLng;
  deliveryFeeCents: number;
  currency: string;
  open: boolean;
  menu?: MenuItem[];
}

export interface Order {
  id: string;
  restaurantId: string;
  restaurantName?: string;
  status: OrderStatus;
  lines: { itemId: string; name: string; quantity: number; unitPriceCents: number; lineCents: number }[];
  subtotalCents?: number;
  deliveryFeeCents?: number;
  totalCents: number;
  currency?: string;
  deliveryAddress: LatLng & { label?: string };
  note: string | null;
  courierId: string | null;
  assignedAt?: string | null;
  reason: string | null;
  createdAt: string;
  updatedAt?: string;
  history: { status: OrderStatus; at: string; reason?: string }[];
  next: OrderStatus[];
}

/** An order a courier may take, with where it is picked up and how far. */
export interface Offer extends Order {
  pickup: LatLng;
  /** From the courier to the restaurant; null when the courier's position is not known. */
  distanceMeters: number | null;
  tripMeters: number;
}

export type ActiveStatus = 'placed' | 'accepted' | 'preparing' | 'ready' | 'picked_up';

export interface Overview {
  now: string;
  thresholdsSeconds: Record<ActiveStatus, number>;
  orders: {
    id: string;
    status: ActiveStatus;
    restaurantId: string;
    restaurantName?: string;
    pickup: LatLng | null;
    deliveryAddress: LatLng & { label?: string };
    courierId: string | null;
    createdAt: string;
    since: string;
    stuck: boolean;
    totalCents: number;
    currency?: string;
  }[];
  couriers: { courierId: string; orderId: string; lat: number; lng: number; at: string }[];
}

export interface NewOrder {
  restaurantId: string;
  items: { itemId: string; quantity: number }[];
  deliveryAddress: LatLng & { label?: string };
  note?: string;
}

/** A refused request: `code` is the server's (`DELIVERY_NOT_FOUND`, …) or `NETWORK` when it was not reached. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly field: string | undefined;
  constructor(code: string, status: number, message: string, field?: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.field = field;
  }
}

async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  let reply: Response;
  try {
    reply = await fetch(`/api/v1${path}`, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new ApiError('NETWORK', 0, 'The server cannot be reached. Check your connection and try again.');
  }
  if (reply.status === 204) return undefined as T;
  const json = (await reply.json().catch(() => ({}))) as Record<string, unknown>;
  if (!reply.ok) {
    const detail = json.detail as { field?: string } | undefined;
    throw new ApiError(
      typeof json.code === 'string' ? json.code : `HTTP_${reply.status}`,
      reply.status,
      typeof json.message === 'string' ? json.message : `The server answered ${reply.status}.`,
      detail?.field,
    );
  }
  return json as T;
}

export const api = {
  account: () => call<Account>('GET', '/account'),
  signUp: (b: { email: string; password: string; name: string }) => call<{ account: Account }>('POST', '/account', b),
  signIn: (b: { email: string; password: string }) => call<{ account: Account }>('POST', '/session', b),
  signOut: () => call<void>('DELETE', '/session'),
  restaurants: () => call<{ items: Restaurant[] }>('GET', '/restaurants'),
  restaurant: (id: string) => call<Restaurant>('GET', `/restaurants/${encodeURIComponent(id)}`),
  orders: (cursor?: string) =>
    call<{ items: Order[]; next: string | null }>(
      'GET',
      `/orders?limit=20${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
    ),
  order: (id: string) => call<Order>('GET', `/orders/${encodeURIComponent(id)}`),
  placeOrder: (order: NewOrder, idempotencyKey: string) =>
    call<{ id: string; status: 'submitted'; url: string }>('POST', '/orders', order, {
      'idempotency-key': idempotencyKey,
    }),
  cancel: (id: string) => call<Order>('POST', `/orders/${encodeURIComponent(id)}/cancel`),
  transition: (id: string, to: OrderStatus, reason?: string) =>
    call<Order>('POST', `/orders/${encodeURIComponent(id)}/transitions`, { to, ...(reason ? { reason } : {}) }),
  restaurantOrders: (restaurantId: string) =>
    call<{ items: Order[] }>('GET', `/restaurants/${encodeURIComponent(restaurantId)}/orders`),
  offers: (at?: LatLng) =>
    call<{ items: Offer[] }>('GET', `/courier/offers${at === undefined ? '' : `?lat=${at.lat}&lng=${at.lng}`}`),
  deliveries: () => call<{ items: Order[] }>('GET', '/courier/deliveries'),
  assign: (id: string) => call<Order>('POST', `/orders/${encodeURIComponent(id)}/assignment`),
  sendPosition: (id: string, at: LatLng & { accuracy?: number }) =>
    call<{ orderId: string; at: string }>('POST', `/orders/${encodeURIComponent(id)}/location`, at),
  overview: () => call<Overview>('GET', '/operations/overview'),
};
