/**
 * The courier's view: the deliveries it has taken (pick up once the restaurant has it ready, then
 * deliver), and the offers — orders no courier has taken, nearest restaurant first from the
 * browser's position. While a delivery is under way, each new position goes to the API, which puts
 * it on queue `locations`: the customer sees the courier move on the map. The couriers' board
 * group (granted at negotiate) brings offers and assignments live.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { type Account, ApiError, api, type LatLng, type Offer, type Order } from '../api.ts';
import { CityMap, distanceMeters, type Pin } from '../city-map.tsx';
import { meters, STATUS_LABEL, ticket } from '../format.ts';
import { useLiveBoard } from '../live.ts';
import { ErrorNote, Loading, NotForYou, StatusBadge } from './common.tsx';
import { LIVE_LABEL, useCoalesced } from './restaurant-board.tsx';

type GeoState = 'asking' | 'on' | 'denied' | 'unavailable';

const asApiError = (err: unknown) => (err instanceof ApiError ? err : new ApiError('UNKNOWN', 0, String(err)));

/** The browser's position as it changes (watchPosition), and whether it is shared. */
function usePosition(): { at: (LatLng & { accuracy: number }) | null; state: GeoState } {
  const [at, setAt] = useState<(LatLng & { accuracy: number }) | null>(null);
  const [state, setState] = useState<GeoState>('asking');
  useEffect(() => {
    if (!('geolocation' in navigator)) {
      setState('unavailable');
      return;
    }
    const id = navigator.geolocation.watchPosition(
      (p) => {
        setState('on');
        setAt({ lat: p.coords.latitude, lng: p.coords.longitude, accuracy: p.coords.accuracy });
      },
      (err) => setState(err.code === err.PERMISSION_DENIED ? 'denied' : 'unavailable'),
      { enableHighAccuracy: true, maximumAge: 5_000 },
    );
    return () => navigator.geolocation.clearWatch(id);
  }, []);
  return { at, state };
}

/**
 * Sends the newest position for each delivery under way, at most once a second each: a position
 * that comes sooner waits for its turn (and gives way to a newer one).
 */
function usePositionSender(deliveries: Order[], at: LatLng | null): void {
  const latest = useRef({ deliveries, at });
  latest.current = { deliveries, at };
  const sending = useRef(
    new Map<string, { time: number; at: LatLng | null; timer: ReturnType<typeof setTimeout> | undefined }>(),
  );
  useEffect(
    () => () => {
      for (const s of sending.current.values()) clearTimeout(s.timer);
    },
    [],
  );
  useEffect(() => {
    if (at === null) return;
    for (const d of deliveries) {
      const state = sending.current.get(d.id) ?? { time: 0, at: null, timer: undefined };
      sending.current.set(d.id, state);
      if (state.timer !== undefined) continue; // a send is due: it takes the newest position
      state.timer = setTimeout(
        () => {
          state.timer = undefined;
          const now = latest.current;
          if (now.at === null || !now.deliveries.some((o) => o.id === d.id)) return;
          if (state.at !== null && distanceMeters(state.at, now.at) < 1) return;
          state.time = Date.now();
          state.at = now.at;
          api.sendPosition(d.id, now.at).catch(() => {
            state.at = null;
          });
        },
        Math.max(0, state.time + 1_000 - Date.now()),
      );
    }
  }, [deliveries, at?.lat, at?.lng]);
}

export function CourierView({ account }: { account: Account }) {
  if (account.role !== 'courier') return <NotForYou view="courier view" account={account} />;
  return <Courier account={account} />;
}

function Courier({ account }: { account: Account }) {
  const { at, state: geo } = usePosition();
  const [deliveries, setDeliveries] = useState<Order[] | null>(null);
  const [offers, setOffers] = useState<Offer[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [refused, setRefused] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState('');
  const offersFrom = useRef<LatLng | null>(null);
  const position = useRef(at);
  position.current = at;

  const fail = (err: unknown) => {
    const e = asApiError(err);
    if (e.status === 403) setRefused(e);
    else setError(e);
  };
  const loadOffers = () => {
    offersFrom.current = position.current;
    return api.offers(position.current ?? undefined).then((r) => setOffers(r.items), fail);
  };
  const load = () =>
    Promise.all([api.deliveries().then((r) => setDeliveries(r.items), fail), loadOffers()]).then(() => setError(null));
  useEffect(() => void load(), []);
  // Offers sorted from where the courier is: again once it has moved 250 m (or got its first fix).
  useEffect(() => {
    if (at === null) return;
    if (offersFrom.current === null || distanceMeters(offersFrom.current, at) > 250) void loadOffers();
  }, [at?.lat, at?.lng]);
  // Every courier hears every offer change: a burst of them is one read, at most two a second.
  const reload = useCoalesced(() => void load(), 500);
  const live = useLiveBoard(refused === null && deliveries !== null, reload, () => void load());
  usePositionSender(deliveries ?? [], at);

  if (refused !== null) return <NotForYou view="courier view" account={account} error={refused} />;

  const take = async (offer: Offer) => {
    setNotice('');
    try {
      const order = await api.assign(offer.id);
      setDeliveries((d) => [...(d ?? []).filter((o) => o.id !== order.id), order]);
      setOffers((list) => list?.filter((o) => o.id !== offer.id) ?? null);
      setNotice(`You took ${ticket(offer.id)} from ${offer.restaurantName ?? offer.restaurantId}.`);
    } catch (err) {
      const e = asApiError(err);
      setNotice(e.code === 'DELIVERY_ORDER_TAKEN' ? 'Another courier took that order first.' : e.message);
      void load();
    }
  };

  return (
    <section class="board courier-board">
      <div class="board-head">
        <div>
          <p class="muted">Courier</p>
          <h1>{account.name}</h1>
          <p class={`geo-state geo-${geo}`} data-state={geo}>
            {geo === 'on'
              ? 'Sharing your location while you deliver'
              : geo === 'asking'
                ? 'Finding your location…'
                : 'Location is off: offers are not sorted by distance and customers cannot see you coming'}
          </p>
        </div>
        <span class="live-pill" data-state={live} role="status">
          {LIVE_LABEL[live]}
        </span>
      </div>
      <p class="notice" role="status" aria-live="polite">
        {notice}
      </p>
      {error !== null && <ErrorNote error={error} />}
      <h2 class="section-title">Your deliveries</h2>
      {deliveries === null ? (
        <Loading />
      ) : deliveries.length === 0 ? (
        <p class="muted">No delivery under way: take an offer below.</p>
      ) : (
        <ul class="deliveries">
          {deliveries.map((d) => (
            <Delivery
              key={d.id}
              order={d}
              at={at}
              onChange={(next) => {
                if (next.status === 'delivered') setNotice(`Delivered ${ticket(next.id)}. Nice work!`);
                setDeliveries((list) =>
                  (list ?? []).map((o) => (o.id === next.id ? next : o)).filter((o) => o.status !== 'delivered'),
                );
              }}
              onError={fail}
            />
          ))}
        </ul>
      )}
      <h2 class="section-title">Offers nearby</h2>
      {offers === null ? (
        <Loading />
      ) : offers.length === 0 ? (
        <p class="muted">No offers right now. New ones appear here as restaurants accept orders.</p>
      ) : (
        <ul class="offers">
          {offers.map((o) => (
            <li key={o.id} class="offer card" data-order={o.id}>
              <div class="offer-main">
                <strong>{o.restaurantName ?? o.restaurantId}</strong>
                <StatusBadge status={o.status} />
                <span class="muted">
                  {o.distanceMeters === null ? '' : `${meters(o.distanceMeters)} to pick up · `}
                  {meters(o.tripMeters)} trip · {ticket(o.id)}
                </span>
              </div>
              <button
                class="button primary"
                type="button"
                onClick={() => void take(o)}
                aria-label={`Accept offer ${ticket(o.id)} from ${o.restaurantName ?? o.restaurantId}`}
              >
                Accept offer
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Delivery({
  order,
  at,
  onChange,
  onError,
}: {
  order: Order;
  at: LatLng | null;
  onChange: (o: Order) => void;
  onError: (err: unknown) => void;
}) {
  const [busy, setBusy] = useState(false);
  const [pickup, setPickup] = useState<LatLng | null>(null);
  const [track, setTrack] = useState<LatLng[]>([]);
  useEffect(() => {
    api.restaurant(order.restaurantId).then(
      (r) => setPickup(r.location),
      () => {},
    );
  }, [order.restaurantId]);
  useEffect(() => {
    if (at !== null) setTrack((t) => [...t.slice(-100), at]);
  }, [at?.lat, at?.lng]);
  const move = async (to: 'picked_up' | 'delivered') => {
    setBusy(true);
    try {
      onChange(await api.transition(order.id, to));
    } catch (err) {
      onError(err);
    } finally {
      setBusy(false);
    }
  };
  const home = order.deliveryAddress;
  const pins: Pin[] = [{ kind: 'home', at: home, label: home.label || 'Customer' }];
  if (pickup !== null) pins.unshift({ kind: 'store', at: pickup, label: order.restaurantName ?? 'Pickup' });
  const step =
    order.status === 'picked_up'
      ? `Take it to ${home.label || 'the customer'}`
      : order.status === 'ready'
        ? `Ready at ${order.restaurantName ?? 'the restaurant'}: pick it up`
        : `Head to ${order.restaurantName ?? 'the restaurant'}: ${STATUS_LABEL[order.status].toLowerCase()}`;
  return (
    <li class="delivery card" data-order={order.id} data-status={order.status}>
      <div class="delivery-head">
        <div>
          <strong>
            {ticket(order.id)} · {order.restaurantName ?? order.restaurantId}
          </strong>
          <p class="muted">{step}</p>
        </div>
        <StatusBadge status={order.status} />
      </div>
      <CityMap pins={pins} courier={track} label={`Map of delivery ${ticket(order.id)}`} />
      <div class="ticket-actions">
        {order.next.includes('picked_up') && (
          <button class="button primary" type="button" disabled={busy} onClick={() => void move('picked_up')}>
            Picked up
          </button>
        )}
        {order.next.includes('delivered') && (
          <button class="button primary" type="button" disabled={busy} onClick={() => void move('delivered')}>
            Delivered
          </button>
        )}
        {order.status !== 'ready' && order.status !== 'picked_up' && (
          <span class="muted">The restaurant is on it; you can pick it up once it is ready.</span>
        )}
      </div>
    </li>
  );
}
