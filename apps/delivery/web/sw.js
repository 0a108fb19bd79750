// Hubbub Delivery's service worker, served at /sw.js for the whole site (scope /).
//
// push: shows a notification from the push payload — the installation's `orderStatus` template as
// the push service renders it, {title, body, url, orderId, status} (functions/src/push.js) — one
// per order (tag `order-<id>`, re-alerting on each status), and tells open pages about it.
// notificationclick: opens the notification's page (same origin only), or focuses it when open.
// pushsubscriptionchange: the browser replaced the subscription; register the new one under the
// same installation id (push.js keeps the id where this worker can read it, in Cache Storage).
const STORE = 'hubbub-push';
const ID_KEY = '/push/installation-id';
const HOME = '/notifications';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

/** The payload as an object; text that is not JSON becomes the body. */
function payloadOf(data) {
  if (!data) return {};
  try {
    const value = data.json();
    return typeof value === 'object' && value !== null ? value : { body: String(value) };
  } catch {
    return { body: data.text() };
  }
}

const text = (value, max) => (typeof value === 'string' ? value.slice(0, max) : '');

/** A URL of this site only: a push cannot send the customer elsewhere. */
function sameOrigin(url) {
  try {
    const parsed = new URL(typeof url === 'string' && url !== '' ? url : HOME, self.location.origin);
    return parsed.origin === self.location.origin ? parsed.href : new URL(HOME, self.location.origin).href;
  } catch {
    return new URL(HOME, self.location.origin).href;
  }
}

async function show(payload) {
  const orderId = text(payload.orderId, 64);
  const notification = {
    title: text(payload.title, 200) || 'Hubbub Delivery',
    body: text(payload.body, 500),
    url: sameOrigin(payload.url),
    orderId,
    status: text(payload.status, 32),
  };
  await self.registration.showNotification(notification.title, {
    body: notification.body,
    icon: '/icon.svg',
    badge: '/icon.svg',
    lang: 'en',
    ...(orderId === '' ? {} : { tag: `order-${orderId}`, renotify: true }),
    data: notification,
  });
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const client of windows) client.postMessage({ type: 'push', notification });
}

self.addEventListener('push', (event) => {
  event.waitUntil(show(payloadOf(event.data)));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = sameOrigin(event.notification.data?.url);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows.find((client) => client.url === url);
      if (open) return open.focus();
      return self.clients.openWindow(url);
    })(),
  );
});

self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil(
    (async () => {
      const saved = await (await caches.open(STORE)).match(ID_KEY);
      const id = saved ? await saved.text() : '';
      if (id === '') return; // the customer never opted in here, or turned notifications off
      let subscription = event.newSubscription;
      if (!subscription) {
        const reply = await fetch('/push/vapid-public-key');
        const { publicKey } = await reply.json();
        subscription = await self.registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: publicKey,
        });
      }
      // The session cookie goes along (same origin); without one the page registers on its next visit.
      await fetch(`/api/v1/push/installations/${encodeURIComponent(id)}`, {
        method: 'PUT',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(subscription.toJSON()),
      });
    })(),
  );
});

// The customer app's offline shell (/app/, written by the app's build: apps/delivery/ui). Without a
// built app there is none, and notifications work as before.
try {
  importScripts('/app/sw-offline.js');
} catch {
  // no shell: the pages need the network
}
