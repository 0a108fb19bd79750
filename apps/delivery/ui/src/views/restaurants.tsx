/** The restaurants, and one restaurant's menu with the cart beside it. */
import { useEffect, useState } from 'preact/hooks';
import { type ApiError, api, type Restaurant } from '../api.ts';
import { changeItem, subtotal, useCart } from '../cart.ts';
import { money } from '../format.ts';
import { href } from '../router.ts';
import { ErrorNote, Loading } from './common.tsx';

const initials = (name: string) =>
  name
    .split(/\s+/)
    .filter((w) => /^[A-Za-z]/.test(w))
    .slice(0, 2)
    .map((w) => w[0])
    .join('');

export function Cover({ restaurant, large = false }: { restaurant: Restaurant; large?: boolean }) {
  return (
    <div class={`cover cuisine-${restaurant.cuisine.toLowerCase()}${large ? ' large' : ''}`} aria-hidden="true">
      <span>{initials(restaurant.name)}</span>
    </div>
  );
}

export function RestaurantsView() {
  const [list, setList] = useState<Restaurant[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    api.restaurants().then((r) => setList(r.items), setError);
  }, []);
  return (
    <section>
      <div class="hero">
        <h1>Hungry, Capitol Hill?</h1>
        <p>Order from the neighbourhood's kitchens and watch your courier come to your door.</p>
      </div>
      {error !== null && <ErrorNote error={error} />}
      {list === null && error === null && <Loading />}
      <ul class="restaurant-grid">
        {list?.map((r) => (
          <li key={r.id}>
            <a class="restaurant-card" href={href(`/restaurants/${encodeURIComponent(r.id)}`)}>
              <Cover restaurant={r} />
              <div class="restaurant-info">
                <h2>{r.name}</h2>
                <p class="muted">
                  {r.cuisine} · {money(r.deliveryFeeCents, r.currency)} delivery
                </p>
                {!r.open && <span class="badge closed">Closed</span>}
              </div>
            </a>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function RestaurantView({ id }: { id: string }) {
  const [restaurant, setRestaurant] = useState<Restaurant | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const cart = useCart();
  useEffect(() => {
    setRestaurant(null);
    api.restaurant(id).then(setRestaurant, setError);
  }, [id]);
  if (error !== null) return <ErrorNote error={error} />;
  if (restaurant === null) return <Loading />;
  const mine = cart !== null && cart.restaurantId === restaurant.id ? cart : null;
  const quantity = (itemId: string) => mine?.lines.find((l) => l.itemId === itemId)?.quantity ?? 0;
  return (
    <section class="with-aside">
      <div>
        <div class="restaurant-head">
          <Cover restaurant={restaurant} large />
          <div>
            <h1>{restaurant.name}</h1>
            <p class="muted">
              {restaurant.cuisine} · {money(restaurant.deliveryFeeCents, restaurant.currency)} delivery
            </p>
          </div>
        </div>
        <h2 class="section-title">Menu</h2>
        <ul class="menu">
          {(restaurant.menu ?? []).map((item) => {
            const q = quantity(item.id);
            return (
              <li key={item.id} class={`menu-item${item.available ? '' : ' unavailable'}`} data-item={item.id}>
                <div class="menu-text">
                  <h3>{item.name}</h3>
                  <p class="muted">{item.description}</p>
                  <span class="price">{money(item.priceCents, restaurant.currency)}</span>
                </div>
                {!item.available || !restaurant.open ? (
                  <span class="badge">{restaurant.open ? 'Sold out' : 'Closed'}</span>
                ) : q === 0 ? (
                  <button
                    class="button add"
                    type="button"
                    onClick={() => changeItem(restaurant, item, 1)}
                    aria-label={`Add ${item.name}`}
                  >
                    Add
                  </button>
                ) : (
                  <div class="stepper">
                    <button
                      type="button"
                      onClick={() => changeItem(restaurant, item, -1)}
                      aria-label={`One less ${item.name}`}
                    >
                      −
                    </button>
                    <output aria-live="polite">{q}</output>
                    <button
                      type="button"
                      onClick={() => changeItem(restaurant, item, 1)}
                      aria-label={`One more ${item.name}`}
                    >
                      +
                    </button>
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      </div>
      <aside class="card cart-card">
        <h2>Your order</h2>
        {mine === null ? (
          <p class="muted">
            {cart === null
              ? 'Your cart is empty. Add something tasty.'
              : `Your cart has items from ${cart.restaurantName}; adding here starts a new cart.`}
          </p>
        ) : (
          <>
            <ul class="cart-lines">
              {mine.lines.map((l) => (
                <li key={l.itemId}>
                  <span>
                    {l.quantity} × {l.name}
                  </span>
                  <span>{money(l.priceCents * l.quantity, mine.currency)}</span>
                </li>
              ))}
            </ul>
            <div class="total">
              <span>Subtotal</span>
              <span>{money(subtotal(mine), mine.currency)}</span>
            </div>
            <a class="button primary wide" href={href('/checkout')}>
              Go to checkout
            </a>
          </>
        )}
      </aside>
    </section>
  );
}
