// The notifications page (/notifications): the customer signs in (the session cookie), turns
// order notifications on or off for this browser (push.js), sees the notifications shown here,
// and — opened from a notification, ?order=<id> — that order's status.
import {
  disablePush,
  enablePush,
  PushSetupError,
  pushInstallation,
  pushSupported,
  serviceWorker,
  shownNotifications,
} from './push.js';

const $ = (id) => document.getElementById(id);
const orderId = new URLSearchParams(location.search).get('order');
const STATUS_WORDS = {
  placed: 'Placed',
  accepted: 'Accepted',
  rejected: 'Rejected',
  preparing: 'Being prepared',
  ready: 'Ready for pick-up',
  picked_up: 'Out for delivery',
  delivered: 'Delivered',
  cancelled: 'Cancelled',
};

const api = (path, init = {}) =>
  fetch(path, {
    credentials: 'same-origin',
    ...init,
    headers: { ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
  });

function setPushState(state, text) {
  const status = $('push-status');
  status.dataset.state = state;
  status.textContent = text;
  $('enable').hidden = state !== 'off';
  $('disable').hidden = state !== 'on';
}

function showError(id, err) {
  $(id).textContent = err instanceof Error ? err.message : String(err ?? '');
}

async function refreshPush(renew = false) {
  if (!pushSupported()) return setPushState('unsupported', 'This browser cannot receive notifications');
  if (Notification.permission === 'denied') return setPushState('denied', 'Blocked in the browser’s site settings');
  const installation = await pushInstallation();
  if (installation === null) return setPushState('off', 'Off');
  // Registered: on each visit, renew it (a new expiry, the current subscription) without asking again.
  if (renew) await enablePush({ prompt: false }).catch(() => undefined);
  setPushState('on', 'On — you will be notified on this device');
}

async function refreshReceived() {
  const list = $('received');
  const shown = await shownNotifications();
  list.replaceChildren(
    ...shown.map((n) => {
      const li = document.createElement('li');
      li.dataset.order = n.orderId ?? '';
      li.dataset.status = n.status ?? '';
      const icon = document.createElement('img');
      icon.src = '/icon.svg';
      icon.alt = '';
      const title = document.createElement('strong');
      const link = document.createElement('a');
      link.href = n.url ?? '/notifications';
      link.textContent = n.title;
      title.append(link);
      const body = document.createElement('span');
      body.textContent = n.body;
      li.append(icon, title, body);
      return li;
    }),
  );
  $('received-count').textContent = String(shown.length);
  $('received-empty').hidden = shown.length > 0;
}

async function showOrder() {
  if (orderId === null) return;
  const reply = await api(`/api/v1/orders/${encodeURIComponent(orderId)}`);
  if (!reply.ok) return;
  const order = await reply.json();
  $('order-card').hidden = false;
  $('order-id').textContent = order.id;
  $('order-status').textContent = STATUS_WORDS[order.status] ?? order.status;
  $('order-restaurant').textContent = order.restaurantName ?? order.restaurantId;
  $('order-updated').textContent = new Date(order.updatedAt).toLocaleString();
}

async function refresh() {
  const reply = await api('/api/v1/account');
  const signedIn = reply.ok;
  $('sign-in-card').hidden = signedIn;
  $('push-card').hidden = !signedIn;
  $('sign-out').hidden = !signedIn;
  $('account').textContent = signedIn ? (await reply.json()).name : '';
  if (!signedIn) return;
  await Promise.all([refreshPush(true).catch((err) => setPushState('error', err.message)), showOrder()]);
}

$('sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  showError('sign-in-error', '');
  const reply = await api('/api/v1/session', {
    method: 'POST',
    body: JSON.stringify({ email: $('email').value, password: $('password').value }),
  });
  if (!reply.ok) return showError('sign-in-error', (await reply.json()).message);
  $('password').value = '';
  await refresh();
});

$('sign-out').addEventListener('click', async () => {
  await disablePush().catch(() => undefined); // this browser stops getting the account's notifications
  await api('/api/v1/session', { method: 'DELETE' });
  await refresh();
});

for (const [id, action] of [
  ['enable', () => enablePush()],
  ['disable', () => disablePush()],
]) {
  $(id).addEventListener('click', async (event) => {
    event.target.disabled = true;
    showError('push-error', '');
    try {
      await action();
    } catch (err) {
      showError('push-error', err instanceof PushSetupError || err instanceof Error ? err : String(err));
    } finally {
      event.target.disabled = false;
      await refreshPush().catch((err) => setPushState('error', err.message));
    }
  });
}

if (pushSupported()) {
  navigator.serviceWorker.addEventListener('message', (event) => {
    if (event.data?.type === 'push') {
      refreshReceived();
      if (orderId !== null && event.data.notification.orderId === orderId) showOrder();
    }
  });
  serviceWorker().then(refreshReceived, (err) => setPushState('error', err.message));
}
refresh().then(
  () => document.body.setAttribute('data-ready', 'true'),
  (err) => showError('push-error', err),
);
