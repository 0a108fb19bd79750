// The order rules, in one place for the processor (this function app) and the REST API
// (apps/delivery/src/orders/rules.ts wraps this file with types): the status machine and who may
// move an order along it, and the pricing of an order from a restaurant's menu. Plain functions,
// no I/O; amounts are integer cents.

/** Every status an order can be in. */
const STATUSES = ['placed', 'accepted', 'rejected', 'preparing', 'ready', 'picked_up', 'delivered', 'cancelled'];

/** from → to → roles that may make the move (the operator may do what restaurants and couriers do). */
const TRANSITIONS = {
  placed: {
    accepted: ['restaurant', 'operator'],
    rejected: ['restaurant', 'operator'],
    cancelled: ['customer'],
  },
  accepted: { preparing: ['restaurant', 'operator'] },
  preparing: { ready: ['restaurant', 'operator'] },
  ready: { picked_up: ['courier', 'operator'] },
  picked_up: { delivered: ['courier', 'operator'] },
  rejected: {},
  delivered: {},
  cancelled: {},
};

const MAX_LINES = 30;
const MAX_QUANTITY = 50;

/**
 * Whether `actor` ({role, id, restaurantId?}) may move `order` to `to`:
 * `{ok: true, noop}` (noop: the order is already there — the same transition twice succeeds), or
 * `{ok: false, reason}` with reason 'status' (not reachable from the current status) or 'role'.
 */
function checkTransition(order, to, actor) {
  if (!STATUSES.includes(to)) return { ok: false, reason: 'status' };
  const owns =
    actor.role === 'operator' ||
    (actor.role === 'customer' && order.customerId === actor.id) ||
    (actor.role === 'restaurant' && order.restaurantId === actor.restaurantId) ||
    (actor.role === 'courier' &&
      (order.courierId === undefined || order.courierId === null || order.courierId === actor.id));
  if (!owns) return { ok: false, reason: 'role' };
  if (order.status === to) {
    const allowed = Object.values(TRANSITIONS).some((next) => next[to]?.includes(actor.role));
    return allowed ? { ok: true, noop: true } : { ok: false, reason: 'role' };
  }
  const roles = TRANSITIONS[order.status]?.[to];
  if (roles === undefined) return { ok: false, reason: 'status' };
  if (!roles.includes(actor.role)) return { ok: false, reason: 'role' };
  return { ok: true, noop: false };
}

/** The statuses `role` may move an order in `status` to. */
function nextStatuses(status, role) {
  return Object.entries(TRANSITIONS[status] ?? {})
    .filter(([, roles]) => roles.includes(role))
    .map(([to]) => to);
}

/** The order with its status moved to `to` by `actor` at `at` (ISO time); the input is not changed. */
function applyTransition(order, to, actor, at, reason) {
  const entry = { status: to, at, by: `${actor.role}:${actor.id}` };
  if (reason !== undefined) entry.reason = reason;
  const next = { ...order, status: to, updatedAt: at, history: [...(order.history ?? []), entry] };
  if (to === 'picked_up' && actor.role === 'courier') next.courierId = actor.id;
  if (to === 'rejected' || to === 'cancelled') next.reason = reason ?? null;
  return next;
}

/** A failure naming the field, as thrown by {@link priceOrder}. */
function invalid(field, message) {
  return Object.assign(new Error(message), { code: 'DELIVERY_INVALID_ORDER', field });
}

/**
 * Validates an order request against its restaurant and prices it. `request`:
 * `{restaurantId, items: [{itemId, quantity}], deliveryAddress: {lat, lng, label?}}`. Returns
 * `{lines, subtotalCents, deliveryFeeCents, totalCents, currency}`; throws an error with
 * `code: 'DELIVERY_INVALID_ORDER'` and `field` (such as `items[1].itemId`) otherwise.
 */
function priceOrder(restaurant, request) {
  if (restaurant === null || restaurant === undefined || restaurant.id !== request.restaurantId) {
    throw invalid('restaurantId', 'No such restaurant.');
  }
  if (restaurant.open === false) throw invalid('restaurantId', `${restaurant.name} is not taking orders.`);
  const items = request.items;
  if (!Array.isArray(items) || items.length === 0) throw invalid('items', 'An order needs at least one item.');
  if (items.length > MAX_LINES) throw invalid('items', `An order holds at most ${MAX_LINES} lines.`);
  const menu = new Map((restaurant.menu ?? []).map((m) => [m.id, m]));
  const seen = new Set();
  const lines = items.map((item, i) => {
    const entry = menu.get(item?.itemId);
    if (entry === undefined) throw invalid(`items[${i}].itemId`, `No item '${item?.itemId}' on this menu.`);
    if (entry.available === false) throw invalid(`items[${i}].itemId`, `${entry.name} is not available now.`);
    if (seen.has(entry.id)) throw invalid(`items[${i}].itemId`, `${entry.name} is listed twice: set its quantity.`);
    seen.add(entry.id);
    const quantity = item.quantity;
    if (!Number.isSafeInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) {
      throw invalid(`items[${i}].quantity`, `The quantity must be an integer from 1 to ${MAX_QUANTITY}.`);
    }
    return {
      itemId: entry.id,
      name: entry.name,
      quantity,
      unitPriceCents: entry.priceCents,
      lineCents: entry.priceCents * quantity,
    };
  });
  const address = request.deliveryAddress;
  const area = restaurant.deliveryArea;
  const lat = address?.lat;
  const lng = address?.lng;
  if (typeof lat !== 'number' || typeof lng !== 'number' || !Number.isFinite(lat) || !Number.isFinite(lng)) {
    throw invalid('deliveryAddress', 'The delivery address needs lat and lng.');
  }
  if (area !== undefined && (lat < area.south || lat > area.north || lng < area.west || lng > area.east)) {
    throw invalid('deliveryAddress', `${restaurant.name} does not deliver there: the address is outside its area.`);
  }
  const subtotalCents = lines.reduce((sum, line) => sum + line.lineCents, 0);
  const deliveryFeeCents = restaurant.deliveryFeeCents ?? 0;
  return {
    lines,
    subtotalCents,
    deliveryFeeCents,
    totalCents: subtotalCents + deliveryFeeCents,
    currency: restaurant.currency ?? 'USD',
  };
}

module.exports = {
  STATUSES,
  TRANSITIONS,
  MAX_LINES,
  MAX_QUANTITY,
  checkTransition,
  nextStatuses,
  applyTransition,
  priceOrder,
};
