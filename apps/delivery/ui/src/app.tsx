/** The customer app's shell: the header with the cart and the account, and the view of the route. */
import { useEffect, useState } from 'preact/hooks';
import { type Account, api } from './api.ts';
import { itemCount, useCart } from './cart.ts';
import { href, type Route, useRoute } from './router.ts';
import { Session } from './session.ts';
import { AccountView } from './views/account.tsx';
import { AuthView } from './views/auth.tsx';
import { CheckoutView } from './views/checkout.tsx';
import { Loading } from './views/common.tsx';
import { OrderView } from './views/order.tsx';
import { OrdersView } from './views/orders.tsx';
import { RestaurantsView, RestaurantView } from './views/restaurants.tsx';

const NEEDS_SIGN_IN = new Set<Route['view']>(['orders', 'order', 'account']);

export function App() {
  const route = useRoute();
  const [account, setAccount] = useState<Account | null | undefined>(undefined);
  const cart = useCart();
  useEffect(() => {
    // Signed out (401), or offline: the views that need an account ask to sign in.
    api.account().then(setAccount, () => setAccount(null));
  }, []);
  const count = itemCount(cart);
  return (
    <Session.Provider value={{ account, setAccount }}>
      <header class="topbar">
        <a class="brand" href={href('/')}>
          <span class="logo" aria-hidden="true" />
          Hubbub
        </a>
        <nav>
          <a
            href={href('/')}
            class={`home-link${route.view === 'restaurants' || route.view === 'restaurant' ? ' active' : ''}`}
          >
            Restaurants
          </a>
          {account && (
            <a href={href('/orders')} class={route.view === 'orders' || route.view === 'order' ? 'active' : ''}>
              Orders
            </a>
          )}
        </nav>
        <a class="cart-link" href={href('/checkout')} aria-label={`Cart, ${count} items`}>
          Cart{count > 0 && <span class="count">{count}</span>}
        </a>
        {account ? (
          <a class="avatar" href={href('/account')} title={account.email} aria-label="Your account">
            {account.name.slice(0, 1).toUpperCase()}
          </a>
        ) : account === null ? (
          <a class="button small" href={href(`/sign-in?then=${encodeURIComponent(location.hash.slice(1) || '/')}`)}>
            Sign in
          </a>
        ) : null}
      </header>
      <main class="page">
        <View route={route} account={account} />
      </main>
    </Session.Provider>
  );
}

function View({ route, account }: { route: Route; account: Account | null | undefined }) {
  if (NEEDS_SIGN_IN.has(route.view)) {
    if (account === undefined) return <Loading />;
    if (account === null) return <AuthView mode="sign-in" then={location.hash.slice(1) || '/'} />;
  }
  switch (route.view) {
    case 'restaurants':
      return <RestaurantsView />;
    case 'restaurant':
      return <RestaurantView id={route.id} />;
    case 'checkout':
      return account === undefined ? <Loading /> : <CheckoutView />;
    case 'orders':
      return <OrdersView />;
    case 'order':
      return <OrderView id={route.id} />;
    case 'sign-in':
    case 'sign-up':
      return <AuthView mode={route.view} then={route.then} />;
    case 'account':
      return <AccountView />;
  }
}
