/**
 * One order, live: the status timeline as each status arrives in the order's hub group, the
 * courier on the map with an arrival estimate once the order is picked up (the server's, on each
 * position, so every device shows one number; the same estimator here when a position has none), cancel while the
 * restaurant has not accepted, and the notification opt-in.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { estimateArrival } from '../../../src/arrival.ts';
import { ApiError, api, type LatLng, type Order, type OrderStatus, type Restaurant } from '../api.ts';
import { CityMap, distanceMeters, type Pin } from '../city-map.tsx';
import { clock, HAPPY_PATH, isFinal, money, STATUS_HINT, STATUS_LABEL } from '../format.ts';
import { type LiveEta, type LiveState, useLiveOrder } from '../live.ts';
import { ErrorNote, Loading } from './common.tsx';
import { PushOptIn } from './push-opt-in.tsx';

interface Position extends LatLng {
  time: number;
}

const LIVE_LABEL: Record<LiveState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline — retrying',
};

export function OrderView({ id }: { id: string }) {
  const [order, setOrder] = useState<Order | null>(null);
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [restaurant, setRestaurant] = useState<Restaurant | null>(null);
  const [track, setTrack] = useState<Position[]>([]);
  /** The server's estimate on the newest position (null when it carried none). */
  const [serverEta, setServerEta] = useState<LiveEta | null>(null);
  const [cancelling, setCancelling] = useState(false);
  const attempts = useRef(0);

  const read = async () => {
    try {
      const o = await api.order(id);
      setOrder(o);
      setMissing(false);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'DELIVERY_NOT_FOUND' && attempts.current < 30) {
        // Just placed: the processor writes it within moments.
        attempts.current += 1;
        setMissing(true);
        setTimeout(read, Math.min(2000, 150 * attempts.current));
        return;
      }
      setError(err instanceof ApiError ? err : new ApiError('UNKNOWN', 0, String(err)));
    }
  };
  // Read first, then go live: a just-placed order's negotiate answers 404 until the processor has
  // written it (the read retries until then); each connection reads the order again.
  useEffect(() => void read(), [id]);
  const live = useLiveOrder(id, error === null && order !== null, {
    onConnected: () => void read(),
    onStatus: (s) => {
      setOrder((o) =>
        o === null || o.history.some((h) => h.status === s.status)
          ? o
          : {
              ...o,
              status: s.status,
              reason: s.reason,
              history: [...o.history, { status: s.status, at: s.at, ...(s.reason ? { reason: s.reason } : {}) }],
              next: [],
            },
      );
      void read();
    },
    onLocation: (at, timestamp, eta) => {
      const time = Date.parse(timestamp);
      setTrack((t) => [...t.slice(-200), { ...at, time: Number.isFinite(time) ? time : Date.now() }]);
      setServerEta(eta);
    },
  });
  useEffect(() => {
    if (order !== null && restaurant === null) api.restaurant(order.restaurantId).then(setRestaurant, () => {});
  }, [order?.restaurantId]);

  if (error !== null) return <ErrorNote error={error} />;
  if (order === null) {
    return missing ? (
      <section class="empty-state">
        <span class="spinner big" aria-hidden="true" />
        <h1>Sending your order to the restaurant…</h1>
      </section>
    ) : (
      <Loading />
    );
  }

  const cancel = async () => {
    setCancelling(true);
    try {
      setOrder(await api.cancel(order.id));
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError('UNKNOWN', 0, String(err)));
    } finally {
      setCancelling(false);
    }
  };
  const home = order.deliveryAddress;
  const pins: Pin[] = [{ kind: 'home', at: home, label: home.label || 'You' }];
  if (restaurant !== null) pins.unshift({ kind: 'store', at: restaurant.location, label: restaurant.name });
  const onTheWay = order.status === 'picked_up';
  const courier = onTheWay ? track : [];
  const estimate = onTheWay ? (serverEta ?? estimateArrival(track.slice(-8), home)) : null;
  const eta = estimate?.seconds ?? null;
  const left = estimate?.meters ?? (courier.length > 0 ? distanceMeters(courier.at(-1)!, home) : null);

  return (
    <section class="with-aside order-page" data-order={order.id}>
      <div>
        <div class="order-head">
          <div>
            <p class="muted">Order from {order.restaurantName ?? restaurant?.name ?? order.restaurantId}</p>
            <h1 data-testid="order-status">{STATUS_LABEL[order.status]}</h1>
            <p class="lead">{order.status === 'rejected' && order.reason ? order.reason : STATUS_HINT[order.status]}</p>
          </div>
          <span class="live-pill" data-state={live} role="status">
            {LIVE_LABEL[live]}
          </span>
        </div>
        {onTheWay && (
          <div class="eta" data-testid="eta" data-source={serverEta === null ? 'page' : 'server'}>
            <strong>
              {eta === null
                ? 'On the way'
                : eta < 45
                  ? 'Arriving now'
                  : `About ${Math.max(1, Math.round(eta / 60))} min`}
            </strong>
            {left !== null && (
              <span class="muted">
                {left < 1000 ? `${Math.round(left / 10) * 10} m away` : `${(left / 1000).toFixed(1)} km away`}
              </span>
            )}
          </div>
        )}
        <CityMap pins={pins} courier={courier} label="Map of your delivery" />
        <Timeline order={order} />
      </div>
      <aside class="stack">
        <div class="card cart-card">
          <h2>Your order</h2>
          <ul class="cart-lines">
            {order.lines.map((l) => (
              <li key={l.itemId}>
                <span>
                  {l.quantity} × {l.name}
                </span>
                <span>{money(l.lineCents, order.currency)}</span>
              </li>
            ))}
          </ul>
          {order.deliveryFeeCents !== undefined && (
            <div class="sum">
              <span>Delivery</span>
              <span>{money(order.deliveryFeeCents, order.currency)}</span>
            </div>
          )}
          <div class="total">
            <span>Total</span>
            <span>{money(order.totalCents, order.currency)}</span>
          </div>
          {order.note && <p class="muted">Note: {order.note}</p>}
          {order.status === 'placed' && (
            <button class="button danger wide" type="button" disabled={cancelling} onClick={cancel}>
              {cancelling ? 'Cancelling…' : 'Cancel order'}
            </button>
          )}
        </div>
        {!isFinal(order.status) && <PushOptIn />}
      </aside>
    </section>
  );
}

function Timeline({ order }: { order: Order }) {
  const at = new Map<OrderStatus, string>(order.history.map((h) => [h.status, h.at]));
  const ended = order.status === 'rejected' || order.status === 'cancelled';
  const steps: OrderStatus[] = ended ? [...HAPPY_PATH.filter((s) => at.has(s)), order.status] : [...HAPPY_PATH];
  return (
    <ol class="timeline" aria-label="Order progress">
      {steps.map((s) => {
        const done = at.has(s);
        const current = s === order.status;
        return (
          <li key={s} class={`${done ? 'done' : 'todo'}${current ? ' current' : ''} step-${s}`} data-step={s}>
            <span class="dot" aria-hidden="true" />
            <span class="step-label">
              {STATUS_LABEL[s]}
              {current && !isFinal(s) && <span class="now">Now</span>}
            </span>
            {done && <time dateTime={at.get(s)}>{clock(at.get(s)!)}</time>}
          </li>
        );
      })}
    </ol>
  );
}
