// Web Push opt-in for Hubbub Delivery's pages (an ES module). enablePush() asks for permission,
// registers the service worker (/sw.js, scope /), subscribes with the server's VAPID key
// (GET /push/vapid-public-key) and registers the subscription as the signed-in customer's
// installation (PUT /api/v1/push/installations/{id}, the session cookie going along); calling it
// again on a later visit renews the installation. disablePush() removes the installation and
// unsubscribes. The installation id is random, one per browser, kept in localStorage and in Cache
// Storage for the service worker's pushsubscriptionchange.
const ID_KEY = 'hubbub.push.installationId';
const STORE = 'hubbub-push';
const SW_ID_KEY = '/push/installation-id';
const API = '/api/v1/push/installations/';

/** A failure with a code the page can show: unsupported, denied, or an API error code. */
export class PushSetupError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'PushSetupError';
    this.code = code;
  }
}

export function pushSupported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/** The service worker's registration (registering it when missing). */
export async function serviceWorker() {
  await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  return navigator.serviceWorker.ready;
}

async function rememberId(id) {
  if (id === undefined) localStorage.removeItem(ID_KEY);
  else localStorage.setItem(ID_KEY, id);
  const store = await caches.open(STORE);
  if (id === undefined) await store.delete(SW_ID_KEY);
  else await store.put(SW_ID_KEY, new Response(id));
}

function installationId(fresh) {
  const id = localStorage.getItem(ID_KEY);
  return id !== null && !fresh ? id : crypto.randomUUID();
}

async function vapidKey() {
  const reply = await fetch('/push/vapid-public-key');
  if (!reply.ok) throw new PushSetupError('DELIVERY_PUSH_UNAVAILABLE', 'This server does not send notifications.');
  return (await reply.json()).publicKey;
}

const keyBytes = (key) => Uint8Array.from(atob(key.replaceAll('-', '+').replaceAll('_', '/')), (c) => c.charCodeAt(0));

function sameKey(buffer, key) {
  if (!buffer) return false;
  const a = new Uint8Array(buffer);
  const b = keyBytes(key);
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function apiError(reply) {
  const body = await reply.json().catch(() => ({}));
  return new PushSetupError(
    body.code ?? `HTTP_${reply.status}`,
    body.message ?? `The server answered ${reply.status}.`,
  );
}

function put(id, subscription) {
  return fetch(API + encodeURIComponent(id), {
    method: 'PUT',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(subscription.toJSON()),
  });
}

/**
 * Turns notifications on for the signed-in customer (or renews them); resolves with the
 * installation as the API answers it. `prompt: false` does nothing unless permission was granted.
 */
export async function enablePush({ prompt = true } = {}) {
  if (!pushSupported()) throw new PushSetupError('unsupported', 'This browser cannot receive push notifications.');
  const permission = prompt ? await Notification.requestPermission() : Notification.permission;
  if (permission !== 'granted') throw new PushSetupError('denied', 'Notifications are blocked for this site.');
  const registration = await serviceWorker();
  const key = await vapidKey();
  const subscribe = () => registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !sameKey(subscription.options?.applicationServerKey, key)) {
    await subscription.unsubscribe(); // made for another server key: pushes signed with ours would be refused
    subscription = null;
  }
  subscription ??= await subscribe();
  let id = installationId(false);
  let reply = await put(id, subscription);
  if (reply.status === 409) {
    // Another account registered this browser under this id: start afresh, with a new
    // subscription too, so pushes meant for that account stop reaching this browser.
    await subscription.unsubscribe();
    subscription = await subscribe();
    id = installationId(true);
    reply = await put(id, subscription);
  }
  if (!reply.ok) throw await apiError(reply);
  await rememberId(id);
  return reply.json();
}

/** Turns notifications off: removes the installation (call it before signing out) and unsubscribes. */
export async function disablePush() {
  const id = localStorage.getItem(ID_KEY);
  if (id !== null) {
    const reply = await fetch(API + encodeURIComponent(id), { method: 'DELETE', credentials: 'same-origin' });
    if (!reply.ok && reply.status !== 404) throw await apiError(reply);
  }
  await rememberId(undefined);
  const registration = pushSupported() ? await navigator.serviceWorker.getRegistration('/') : undefined;
  const subscription = await registration?.pushManager.getSubscription();
  await subscription?.unsubscribe();
}

/** Whether this browser's installation is registered for the signed-in customer: the API's view, or null. */
export async function pushInstallation() {
  const id = localStorage.getItem(ID_KEY);
  if (id === null || !pushSupported()) return null;
  const reply = await fetch(API + encodeURIComponent(id), { credentials: 'same-origin' });
  if (reply.status === 404 || reply.status === 401) return null;
  if (!reply.ok) throw await apiError(reply);
  return reply.json();
}

/** The notifications the service worker shows now, newest first: [{title, body, url, orderId, status}]. */
export async function shownNotifications() {
  if (!pushSupported()) return [];
  const registration = await navigator.serviceWorker.getRegistration('/');
  const shown = (await registration?.getNotifications()) ?? [];
  return shown.map((n) => ({ ...n.data, title: n.title, body: n.body, timestamp: n.timestamp })).reverse();
}
