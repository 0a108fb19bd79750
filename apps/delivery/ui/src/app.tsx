/**
 * The app's shell: the header (the customer's restaurants, orders and cart; a staff account's own
 * view) and the view of the route. Each role lands on its view: customers on the restaurants,
 * restaurants on their kitchen board, couriers on their deliveries, operators on operations.
 */
import { useEffect, useState } from 'preact/hooks';
import { type Account, api } from './api.ts';
import { itemCount, useCart } from './cart.ts';
import { homeOf, href, navigate, type Route, useRoute } from './router.ts';
import { Session } from './session.ts';
import { AccountView } from './views/account.tsx';
import { AuthView } from './views/auth.tsx';
import { CheckoutView } from './views/checkout.tsx';
import { Loading } from './views/common.tsx';
import { CourierView } from './views/courier.tsx';
import { OperationsView } from './views/operations.tsx';
import { OrderView } from './views/order.tsx';
import { OrdersView } from './views/orders.tsx';
import { RestaurantBoardView } from './views/restaurant-board.tsx';
import { RestaurantsView, RestaurantView } from './views/restaurants.tsx';

const NEEDS_SIGN_IN = new Set<Route['view']>([
  'orders',
  'order',
  'account',
  'restaurant-board',
  'courier',
  'operations',
]);

/** The header link of each staff role's view. */
const STAFF_LINK: Partial<Record<Account['role'], { label: string; views: Route['view'][] }>> = {
  restaurant: { label: 'Kitchen', views: ['restaurant-board'] },
  courier: { label: 'Deliveries', views: ['courier'] },
  operator: { label: 'Operations', views: ['operations'] },
};

export function App() {
  const route = useRoute();
  const [account, setAccount] = useState<Account | null | undefined>(undefined);
  const cart = useCart();
  useEffect(() => {
    // Signed out (401), or offline: the views that need an account ask to sign in.
    api.account().then(setAccount, () => setAccount(null));
  }, []);
  // A staff account opening the app's front door goes to its view.
  useEffect(() => {
    if (account && account.role !== 'customer' && route.view === 'restaurants' && /^#?\/?$/.test(location.hash)) {
      navigate(homeOf(account));
    }
  }, [account, route.view]);
  const count = itemCount(cart);
  const staff = account ? STAFF_LINK[account.role] : undefined;
  return (
    <Session.Provider value={{ account, setAccount }}>
      <header class="topbar">
        <a class="brand" href={href('/')}>
          <span class="logo" aria-hidden="true" />
          Hubbub
        </a>
        <nav>
          {staff !== undefined && account ? (
            <a href={href(homeOf(account))} class={staff.views.includes(route.view) ? 'active' : ''}>
              {staff.label}
            </a>
          ) : (
            <>
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
            </>
          )}
        </nav>
        {staff === undefined && (
          <a class="cart-link" href={href('/checkout')} aria-label={`Cart, ${count} items`}>
            Cart{count > 0 && <span class="count">{count}</span>}
          </a>
        )}
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
    case 'restaurant-board':
      return <RestaurantBoardView account={account!} id={route.id} />;
    case 'courier':
      return <CourierView account={account!} />;
    case 'operations':
      return <OperationsView account={account!} />;
  }
}
