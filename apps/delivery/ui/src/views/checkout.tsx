/**
 * Checkout: the delivery address picked on the city map, a note, the total, and the order sent
 * with one Idempotency-Key per checkout, so pressing again after a lost answer places it once.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, type LatLng, type Restaurant } from '../api.ts';
import { clearCart, subtotal, useCart } from '../cart.ts';
import { CityMap, type Pin } from '../city-map.tsx';
import { money } from '../format.ts';
import { href, navigate } from '../router.ts';
import { useSession } from '../session.ts';
import { ErrorNote } from './common.tsx';

export function CheckoutView() {
  const cart = useCart();
  const { account } = useSession();
  const [restaurant, setRestaurant] = useState<Restaurant | null>(null);
  const [address, setAddress] = useState<LatLng | null>(null);
  const [label, setLabel] = useState('');
  const [note, setNote] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [key] = useState(() => crypto.randomUUID());
  useEffect(() => {
    if (cart !== null) api.restaurant(cart.restaurantId).then(setRestaurant, () => {});
  }, [cart?.restaurantId]);

  if (account === null) {
    return (
      <section class="empty-state">
        <h1>Almost there</h1>
        <p class="muted">Sign in or create an account to place your order. Your cart stays as it is.</p>
        <div class="row">
          <a class="button primary" href={href('/sign-up?then=/checkout')}>
            Create account
          </a>
          <a class="button" href={href('/sign-in?then=/checkout')}>
            Sign in
          </a>
        </div>
      </section>
    );
  }
  if (cart === null) {
    return (
      <section class="empty-state">
        <h1>Your cart is empty</h1>
        <p class="muted">Pick a restaurant and add a few dishes first.</p>
        <a class="button primary" href={href('/')}>
          Browse restaurants
        </a>
      </section>
    );
  }
  const pins: Pin[] = [];
  if (restaurant !== null) pins.push({ kind: 'store', at: restaurant.location, label: restaurant.name });
  if (address !== null) pins.push({ kind: 'home', at: address, label: label.trim() || 'Deliver here' });
  const sub = subtotal(cart);

  const place = async () => {
    if (address === null) return;
    setBusy(true);
    setError(null);
    try {
      const trimmed = label.trim();
      const accepted = await api.placeOrder(
        {
          restaurantId: cart.restaurantId,
          items: cart.lines.map((l) => ({ itemId: l.itemId, quantity: l.quantity })),
          deliveryAddress: { ...address, ...(trimmed === '' ? {} : { label: trimmed }) },
          ...(note.trim() === '' ? {} : { note: note.trim() }),
        },
        key,
      );
      clearCart();
      navigate(`/orders/${encodeURIComponent(accepted.id)}`);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError('UNKNOWN', 0, String(err)));
      setBusy(false);
    }
  };
  return (
    <section class="with-aside">
      <div>
        <h1>Checkout</h1>
        <h2 class="section-title">Where should we deliver?</h2>
        <p class="muted">Tap the map to drop the pin on your door.</p>
        <CityMap pins={pins} onPick={setAddress} fit={false} label="Pick the delivery address on the map" />
        <div class="form two">
          <label>
            Address or directions
            <input
              name="label"
              value={label}
              maxLength={200}
              placeholder="e.g. 1520 Broadway, apt 4"
              onInput={(e) => setLabel(e.currentTarget.value)}
            />
          </label>
          <label>
            Note for the restaurant
            <input
              name="note"
              value={note}
              maxLength={500}
              placeholder="Allergies, extra napkins…"
              onInput={(e) => setNote(e.currentTarget.value)}
            />
          </label>
        </div>
      </div>
      <aside class="card cart-card">
        <h2>{cart.restaurantName}</h2>
        <ul class="cart-lines">
          {cart.lines.map((l) => (
            <li key={l.itemId}>
              <span>
                {l.quantity} × {l.name}
              </span>
              <span>{money(l.priceCents * l.quantity, cart.currency)}</span>
            </li>
          ))}
        </ul>
        <div class="sum">
          <span>Subtotal</span>
          <span>{money(sub, cart.currency)}</span>
        </div>
        <div class="sum">
          <span>Delivery</span>
          <span>{money(cart.deliveryFeeCents, cart.currency)}</span>
        </div>
        <div class="total">
          <span>Total</span>
          <span>{money(sub + cart.deliveryFeeCents, cart.currency)}</span>
        </div>
        {error !== null && <ErrorNote error={error} />}
        <button class="button primary wide" type="button" disabled={busy || address === null} onClick={place}>
          {busy ? 'Placing your order…' : address === null ? 'Pick your address on the map' : 'Place order'}
        </button>
      </aside>
    </section>
  );
}
