/**
 * The restaurant's view: its orders under way in four lanes — new, accepted, preparing, ready —
 * arriving live in the restaurant's board group (granted by the server at negotiate). Each ticket
 * moves on through the transitions API: accept, reject with a reason, start preparing, ready for
 * pickup; a ready ticket shows whether a courier has taken it.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { type Account, ApiError, api, type Order, type OrderStatus, type Restaurant } from '../api.ts';
import { duration, money, ticket } from '../format.ts';
import { type LiveState, useLiveBoard } from '../live.ts';
import { ErrorNote, Loading, NotForYou } from './common.tsx';

export const LIVE_LABEL: Record<LiveState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline — retrying',
};

const LANES: { status: OrderStatus; title: string; empty: string }[] = [
  { status: 'placed', title: 'New', empty: 'New orders appear here as customers place them.' },
  { status: 'accepted', title: 'Accepted', empty: 'Nothing waiting to be started.' },
  { status: 'preparing', title: 'Preparing', empty: 'Nothing on the stove.' },
  { status: 'ready', title: 'Ready for pickup', empty: 'Nothing waiting for a courier.' },
];

const REASONS = ['Too busy right now', 'An item is sold out', 'Closing soon'];

const asApiError = (err: unknown) => (err instanceof ApiError ? err : new ApiError('UNKNOWN', 0, String(err)));

/** Calls `load` at most once per `ms` while events keep coming (a burst of changes is one read). */
export function useCoalesced(load: () => void, ms = 150): () => void {
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const latest = useRef(load);
  latest.current = load;
  useEffect(() => () => clearTimeout(timer.current), []);
  return () => {
    if (timer.current !== undefined) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      latest.current();
    }, ms);
  };
}

/** Re-renders every `ms`, for the "4 min ago" of the tickets. */
export function useTick(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(id);
  }, [ms]);
  return now;
}

export function RestaurantBoardView({ account, id }: { account: Account; id?: string | undefined }) {
  const restaurantId = id ?? account.restaurantId;
  if (restaurantId === undefined) return <NotForYou view="restaurant view" account={account} />;
  return <Board account={account} restaurantId={restaurantId} />;
}

function Board({ account, restaurantId }: { account: Account; restaurantId: string }) {
  const [orders, setOrders] = useState<Order[] | null>(null);
  const [restaurant, setRestaurant] = useState<Restaurant | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [refused, setRefused] = useState<ApiError | null>(null);
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const [announce, setAnnounce] = useState('');
  const now = useTick(20_000);

  const load = () =>
    api.restaurantOrders(restaurantId).then(
      (page) => {
        setOrders(page.items);
        setError(null);
      },
      (err: unknown) => {
        const e = asApiError(err);
        if (e.status === 403 || e.status === 404) setRefused(e);
        else setError(e);
      },
    );
  const reload = useCoalesced(() => void load());
  useEffect(() => {
    void load();
    api.restaurant(restaurantId).then(setRestaurant, () => {});
  }, [restaurantId]);
  // Live once the server has answered the board (an account it is not for never negotiates).
  const live = useLiveBoard(
    refused === null && orders !== null,
    (e) => {
      if (e.kind === 'status' && e.status === 'placed') {
        setFresh((s) => new Set([...s, e.orderId]));
        setAnnounce(`New order ${ticket(e.orderId)}`);
        setTimeout(() => setFresh((s) => new Set([...s].filter((x) => x !== e.orderId))), 10_000);
      }
      reload();
    },
    () => void load(),
  );

  if (refused !== null) return <NotForYou view="restaurant view" account={account} error={refused} />;
  const replace = (next: Order) => setOrders((list) => list?.map((o) => (o.id === next.id ? next : o)) ?? null);
  const count = orders?.length ?? 0;
  return (
    <section class="board restaurant-board" data-restaurant={restaurantId}>
      <div class="board-head">
        <div>
          <p class="muted">Kitchen</p>
          <h1>{restaurant?.name ?? restaurantId}</h1>
          <p class="lead">
            {orders === null ? 'Loading orders…' : count === 0 ? 'No orders under way.' : `${count} under way`}
          </p>
        </div>
        <span class="live-pill" data-state={live} role="status">
          {LIVE_LABEL[live]}
        </span>
      </div>
      <p class="visually-hidden" aria-live="polite">
        {announce}
      </p>
      {error !== null && <ErrorNote error={error} />}
      {orders === null && error === null ? (
        <Loading />
      ) : (
        <div class="lanes">
          {LANES.map((lane) => {
            const list = (orders ?? []).filter((o) => o.status === lane.status);
            return (
              <section class="lane" key={lane.status} data-lane={lane.status} aria-label={lane.title}>
                <h2>
                  {lane.title} <span class="lane-count">{list.length}</span>
                </h2>
                {list.length === 0 ? (
                  <p class="lane-empty">{lane.empty}</p>
                ) : (
                  <ul class="tickets">
                    {list.map((o) => (
                      <Ticket
                        key={o.id}
                        order={o}
                        now={now}
                        fresh={fresh.has(o.id)}
                        onChange={(next) => {
                          replace(next);
                          reload();
                        }}
                        onStale={() => void load()}
                      />
                    ))}
                  </ul>
                )}
              </section>
            );
          })}
        </div>
      )}
    </section>
  );
}

const ACTION: Partial<Record<OrderStatus, { to: OrderStatus; label: string }>> = {
  placed: { to: 'accepted', label: 'Accept' },
  accepted: { to: 'preparing', label: 'Start preparing' },
  preparing: { to: 'ready', label: 'Ready for pickup' },
};

function Ticket({
  order,
  now,
  fresh,
  onChange,
  onStale,
}: {
  order: Order;
  now: number;
  fresh: boolean;
  onChange: (o: Order) => void;
  onStale: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [rejecting, setRejecting] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const action = ACTION[order.status];
  const since = [...order.history].reverse().find((h) => h.status === order.status)?.at ?? order.createdAt;
  const move = async (to: OrderStatus, reason?: string) => {
    setBusy(true);
    setError(null);
    try {
      onChange(await api.transition(order.id, to, reason));
    } catch (err) {
      const e = asApiError(err);
      setError(e);
      if (e.code === 'DELIVERY_INVALID_TRANSITION' || e.code === 'DELIVERY_NOT_FOUND') onStale();
    } finally {
      setBusy(false);
    }
  };
  const reject = (event: SubmitEvent) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const other = String(form.get('other') ?? '').trim();
    const reason = other !== '' ? other : String(form.get('reason') ?? '');
    if (reason !== '') void move('rejected', reason);
  };
  const items = order.lines.reduce((n, l) => n + l.quantity, 0);
  return (
    <li class={`ticket${fresh ? ' fresh' : ''}`} data-order={order.id} data-status={order.status}>
      <div class="ticket-head">
        <strong class="ticket-ref">{ticket(order.id)}</strong>
        <span class="muted">{duration(now - Date.parse(since))}</span>
      </div>
      <ul class="ticket-lines" aria-label={`${items} items`}>
        {order.lines.map((l) => (
          <li key={l.itemId}>
            <span class="qty">{l.quantity}×</span> {l.name}
          </li>
        ))}
      </ul>
      {order.note && <p class="ticket-note">“{order.note}”</p>}
      <p class="ticket-meta muted">
        {money(order.totalCents, order.currency)}
        {order.deliveryAddress.label ? ` · ${order.deliveryAddress.label}` : ''}
      </p>
      {order.status === 'ready' && (
        <p class={`courier-state${order.courierId ? ' assigned' : ''}`}>
          {order.courierId ? 'A courier is on the way' : 'Waiting for a courier'}
        </p>
      )}
      {error !== null && <ErrorNote error={error} />}
      {rejecting ? (
        <form class="reject-form" onSubmit={reject}>
          <fieldset>
            <legend>Why can't you take it?</legend>
            {REASONS.map((r, i) => (
              <label key={r} class="radio">
                <input type="radio" name="reason" value={r} defaultChecked={i === 0} /> {r}
              </label>
            ))}
            <label class="other">
              Other reason
              <input name="other" maxLength={200} placeholder="Optional" />
            </label>
          </fieldset>
          <div class="ticket-actions">
            <button class="button danger" type="submit" disabled={busy}>
              Reject order
            </button>
            <button class="button" type="button" onClick={() => setRejecting(false)}>
              Back
            </button>
          </div>
        </form>
      ) : (
        action !== undefined &&
        order.next.includes(action.to) && (
          <div class="ticket-actions">
            <button class="button primary" type="button" disabled={busy} onClick={() => void move(action.to)}>
              {busy ? 'One moment…' : action.label}
            </button>
            {order.next.includes('rejected') && (
              <button class="button danger" type="button" disabled={busy} onClick={() => setRejecting(true)}>
                Reject
              </button>
            )}
          </div>
        )
      )}
    </li>
  );
}
