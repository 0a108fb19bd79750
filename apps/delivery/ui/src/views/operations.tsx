/**
 * The operations board: every active order and courier on the offline city map, the orders stuck
 * in a status longer than its threshold (the server's `stuckAfterSeconds`, judged again here every
 * few seconds on the server's clock), and every active order by status. Live through the
 * operations board group: a status change or an assignment reads the overview again, a courier's
 * position moves its marker.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { type Account, type ActiveStatus, ApiError, api, type LatLng, type Overview, type Restaurant } from '../api.ts';
import { CityMap, type CourierMark, type Pin } from '../city-map.tsx';
import { duration, STATUS_LABEL, ticket } from '../format.ts';
import { useLiveBoard } from '../live.ts';
import { ErrorNote, Loading, NotForYou, StatusBadge } from './common.tsx';
import { LIVE_LABEL, useTick } from './restaurant-board.tsx';

const ACTIVE: ActiveStatus[] = ['placed', 'accepted', 'preparing', 'ready', 'picked_up'];

const asApiError = (err: unknown) => (err instanceof ApiError ? err : new ApiError('UNKNOWN', 0, String(err)));

export function OperationsView({ account }: { account: Account }) {
  const [overview, setOverview] = useState<Overview | null>(null);
  /** Server time minus this browser's, from the last overview. */
  const [skew, setSkew] = useState(0);
  const [couriers, setCouriers] = useState<Map<string, CourierMark & { time: number }>>(new Map());
  const [restaurants, setRestaurants] = useState<Restaurant[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const [refused, setRefused] = useState<ApiError | null>(null);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const now = useTick(5_000);

  const load = () =>
    api.overview().then(
      (o) => {
        setOverview(o);
        setSkew(Date.parse(o.now) - Date.now());
        setCouriers((known) => {
          const next = new Map(known);
          for (const c of o.couriers) {
            const time = Date.parse(c.at);
            const had = next.get(c.courierId);
            if (had === undefined || had.time < time) {
              next.set(c.courierId, { id: c.courierId, at: { lat: c.lat, lng: c.lng }, time });
            }
          }
          return next;
        });
        setError(null);
      },
      (err: unknown) => {
        const e = asApiError(err);
        if (e.status === 403) setRefused(e);
        else setError(e);
      },
    );
  const reload = () => {
    if (pending.current !== undefined) return;
    pending.current = setTimeout(() => {
      pending.current = undefined;
      void load();
    }, 300);
  };
  useEffect(() => {
    void load();
    // Every restaurant is on the map, with orders or not.
    api.restaurants().then(
      (r) => setRestaurants(r.items),
      () => {},
    );
    return () => clearTimeout(pending.current);
  }, []);
  const live = useLiveBoard(
    refused === null && account.role === 'operator' && overview !== null,
    (e) => {
      if (e.kind !== 'location') return reload();
      const id = e.courierId ?? `order-${e.orderId}`;
      const time = Date.parse(e.timestamp) || Date.now();
      setCouriers((known) => {
        const had = known.get(id);
        if (had !== undefined && had.time > time) return known;
        return new Map(known).set(id, { id, at: e.at, time });
      });
    },
    () => void load(),
  );

  if (account.role !== 'operator' || refused !== null) {
    return <NotForYou view="operations board" account={account} error={refused} />;
  }
  if (overview === null) return error === null ? <Loading /> : <ErrorNote error={error} />;

  const serverNow = now + skew;
  const limit = (s: ActiveStatus) => overview.thresholdsSeconds[s] * 1000;
  const orders = overview.orders.map((o) => {
    const inStatus = serverNow - Date.parse(o.since);
    return { ...o, inStatus, stuck: inStatus > limit(o.status) };
  });
  const stuck = orders
    .filter((o) => o.stuck)
    .sort((a, b) => b.inStatus / limit(b.status) - a.inStatus / limit(a.status));
  const stores = new Map<string, { at: LatLng; name: string }>(
    restaurants.map((r) => [r.id, { at: r.location, name: r.name }]),
  );
  for (const o of orders)
    if (o.pickup !== null) stores.set(o.restaurantId, { at: o.pickup, name: o.restaurantName ?? o.restaurantId });
  const pins: Pin[] = [
    ...[...stores].map(([id, s]): Pin => ({ kind: 'store', id: `store-${id}`, at: s.at, label: s.name })),
    ...orders.map(
      (o): Pin => ({
        kind: 'home',
        id: `home-${o.id}`,
        at: o.deliveryAddress,
        label: '',
        ...(o.stuck ? { tone: 'alert' } : {}),
      }),
    ),
  ];
  // A courier's marker stays for 15 minutes after its last position.
  const marks = [...couriers.values()].filter((c) => serverNow - c.time < 15 * 60_000);

  return (
    <section class="board operations-board">
      <div class="board-head">
        <div>
          <p class="muted">Operations</p>
          <h1>Every delivery, now</h1>
          <ul class="status-counts" aria-label="Active orders by status">
            {ACTIVE.map((s) => (
              <li key={s} data-status={s}>
                <strong>{orders.filter((o) => o.status === s).length}</strong> {STATUS_LABEL[s].toLowerCase()}
              </li>
            ))}
            <li data-status="couriers">
              <strong>{marks.length}</strong> {marks.length === 1 ? 'courier' : 'couriers'} out
            </li>
          </ul>
        </div>
        <span class="live-pill" data-state={live} role="status">
          {LIVE_LABEL[live]}
        </span>
      </div>
      {error !== null && <ErrorNote error={error} />}
      <div class="with-aside">
        <div>
          <CityMap pins={pins} couriers={marks} fit={false} label="Map of every active order and courier" />
          <p class="map-legend muted">
            {(
              [
                ['store', 'restaurant'],
                ['home', 'delivery address'],
                ['alert', 'stuck'],
                ['courier', 'courier'],
              ] as const
            ).map(([key, name]) => (
              <span key={key} class="legend-item">
                <span class={`key ${key}`} aria-hidden="true" />
                {name}
              </span>
            ))}
          </p>
        </div>
        <aside class="card stuck-card" aria-labelledby="stuck-title">
          <h2 id="stuck-title">
            Stuck orders <span class={`lane-count${stuck.length > 0 ? ' alert' : ''}`}>{stuck.length}</span>
          </h2>
          {stuck.length === 0 ? (
            <p class="muted">Nothing is stuck.</p>
          ) : (
            <ul class="stuck-list">
              {stuck.map((o) => (
                <li key={o.id} data-order={o.id}>
                  <div>
                    <strong>{ticket(o.id)}</strong> {o.restaurantName ?? o.restaurantId}
                  </div>
                  <div class="stuck-why">
                    <StatusBadge status={o.status} /> for {duration(o.inStatus)}
                    <span class="muted"> (limit {duration(limit(o.status))})</span>
                  </div>
                </li>
              ))}
            </ul>
          )}
          <details class="thresholds">
            <summary>Thresholds</summary>
            <ul>
              {ACTIVE.map((s) => (
                <li key={s}>
                  {STATUS_LABEL[s]}: {duration(limit(s))}
                </li>
              ))}
            </ul>
          </details>
        </aside>
      </div>
      <h2 class="section-title">Active orders</h2>
      {orders.length === 0 ? (
        <p class="muted">No orders under way.</p>
      ) : (
        <div class="table-wrap">
          <table class="orders-table">
            <thead>
              <tr>
                <th scope="col">Order</th>
                <th scope="col">Restaurant</th>
                <th scope="col">Status</th>
                <th scope="col">In status</th>
                <th scope="col">Courier</th>
              </tr>
            </thead>
            <tbody>
              {orders.map((o) => (
                <tr key={o.id} data-order={o.id} class={o.stuck ? 'stuck' : ''}>
                  <td>{ticket(o.id)}</td>
                  <td>{o.restaurantName ?? o.restaurantId}</td>
                  <td>
                    <StatusBadge status={o.status} />
                  </td>
                  <td>{duration(o.inStatus)}</td>
                  <td>{o.courierId === null ? '—' : 'assigned'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
