/** The customer's orders, newest first, a page at a time. */
import { useEffect, useState } from 'preact/hooks';
import { type ApiError, api, type Order } from '../api.ts';
import { money, when } from '../format.ts';
import { href } from '../router.ts';
import { ErrorNote, Loading, StatusBadge } from './common.tsx';

const items = (o: Order) => {
  const n = o.lines.reduce((s, l) => s + l.quantity, 0);
  return `${n} ${n === 1 ? 'item' : 'items'}`;
};

export function OrdersView() {
  const [orders, setOrders] = useState<Order[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const load = (cursor?: string) =>
    api.orders(cursor).then((page) => {
      setOrders((before) => [...(cursor === undefined ? [] : (before ?? [])), ...page.items]);
      setNext(page.next);
    }, setError);
  useEffect(() => {
    void load();
  }, []);
  return (
    <section>
      <h1>Your orders</h1>
      {error !== null && <ErrorNote error={error} />}
      {orders === null && error === null && <Loading />}
      {orders?.length === 0 && (
        <div class="empty-state">
          <p class="muted">No orders yet.</p>
          <a class="button primary" href={href('/')}>
            Find something to eat
          </a>
        </div>
      )}
      <ul class="order-list">
        {orders?.map((o) => (
          <li key={o.id}>
            <a class="order-row" href={href(`/orders/${encodeURIComponent(o.id)}`)} data-order={o.id}>
              <div>
                <strong>{o.restaurantName ?? o.restaurantId}</strong>
                <span class="muted">
                  {when(o.createdAt)} · {items(o)}
                </span>
              </div>
              <div class="order-row-end">
                <StatusBadge status={o.status} />
                <span class="price">{money(o.totalCents, o.currency)}</span>
              </div>
            </a>
          </li>
        ))}
      </ul>
      {next !== null && (
        <button class="button wide" type="button" onClick={() => load(next)}>
          Show older orders
        </button>
      )}
    </section>
  );
}
