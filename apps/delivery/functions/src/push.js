// Push notifications of order statuses, in one place for the notifier (this function app's
// notify-order) and the web app's registration (apps/delivery/src/push-templates.ts wraps this
// file with types): the template every browser installation registers, the properties a send
// fills it with, the tag that reaches one customer, and which statuses notify with what words.
// Plain values and functions, no I/O.
//
// A send is a template send (Notification Hubs' `format: 'template'`) to the tag expression
// `customerTag(customerId)` with the properties `orderNotification(event)` returns; the push
// service renders ORDER_STATUS_TEMPLATE with them into the JSON the service worker shows
// ({title, body, url, orderId, status}).

/** The name of the template in each browser installation. */
const ORDER_STATUS_TEMPLATE = 'orderStatus';

/** The properties a send must give (names are matched without case by the template). */
const TEMPLATE_PROPERTIES = ['title', 'body', 'url', 'orderId', 'status'];

/** The Web Push payload: JSON the service worker reads (`sw.js`). */
const ORDER_STATUS_BODY = JSON.stringify({
  title: '$(title)',
  body: '$(body)',
  url: '$(url)',
  orderId: '$(orderId)',
  status: '$(status)',
});

/** Web Push headers: a status older than an hour is news no longer; the customer waits for it. */
const ORDER_STATUS_HEADERS = { TTL: '3600', Urgency: 'high' };

/** The statuses a customer is told about, and how. */
const MESSAGES = {
  accepted: { title: 'Order accepted', body: (id) => `The restaurant accepted order ${id} and will start on it.` },
  rejected: {
    title: 'Order rejected',
    body: (id, reason) => `The restaurant could not take order ${id}${reason ? `: ${reason}` : '.'}`,
  },
  picked_up: { title: 'Out for delivery', body: (id) => `A courier picked up order ${id} and is on the way.` },
  delivered: { title: 'Delivered', body: (id) => `Order ${id} was delivered. Enjoy your meal!` },
  cancelled: { title: 'Order cancelled', body: (id) => `Order ${id} was cancelled.` },
};

/** The statuses that notify the customer. */
const NOTIFIED_STATUSES = Object.keys(MESSAGES);

/**
 * The event the REST API publishes once per order when its courier is about to arrive (status
 * "arriving": no status of the order, which stays picked_up; apps/delivery/src/orders/dispatch.ts).
 */
const ARRIVING = 'arriving';
const ARRIVING_MESSAGE = {
  title: 'Your courier is about to arrive',
  body: (id) => `Your courier is almost at your door with order ${id}.`,
};

/** The templates a browser installation registers (`templates` of a Notification Hubs installation). */
function installationTemplates() {
  return { [ORDER_STATUS_TEMPLATE]: { body: ORDER_STATUS_BODY, headers: { ...ORDER_STATUS_HEADERS } } };
}

/**
 * The tag of every installation of one customer (the installation's user id), `$UserId:{id}` as
 * Notification Hubs writes it; in a tag expression `$UserId:id` (no braces) is the same tag.
 */
function customerTag(customerId) {
  return `$UserId:{${customerId}}`;
}

/** The page a notification opens (relative to the app's origin): the order on the notifications page. */
function orderUrl(orderId) {
  return `/notifications?order=${encodeURIComponent(orderId)}`;
}

/**
 * The template properties for a status event of topic `orders` (`{orderId, status, customerId,
 * reason?}`, or the courier's ARRIVING event), or null when that status does not notify the customer.
 */
function orderNotification(event) {
  const message =
    event.status === ARRIVING
      ? ARRIVING_MESSAGE
      : Object.hasOwn(MESSAGES, event.status)
        ? MESSAGES[event.status]
        : undefined;
  if (message === undefined) return null;
  const reason = typeof event.reason === 'string' ? event.reason.slice(0, 200) : undefined;
  return {
    title: message.title,
    body: message.body(event.orderId, reason),
    url: orderUrl(event.orderId),
    orderId: event.orderId,
    status: event.status,
  };
}

module.exports = {
  ORDER_STATUS_TEMPLATE,
  TEMPLATE_PROPERTIES,
  ORDER_STATUS_BODY,
  ORDER_STATUS_HEADERS,
  NOTIFIED_STATUSES,
  ARRIVING,
  installationTemplates,
  customerTag,
  orderUrl,
  orderNotification,
};
