/**
 * Routes in the URL's hash (`/app/#/orders/o-…`): one document under /app/, so the server serves
 * one file for every view and the offline shell is that file.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Account } from './api.ts';

export type Route =
  | { view: 'restaurants' }
  | { view: 'restaurant'; id: string }
  | { view: 'checkout' }
  | { view: 'orders' }
  | { view: 'order'; id: string }
  | { view: 'sign-in'; then: string }
  | { view: 'sign-up'; then: string }
  | { view: 'account' }
  | { view: 'restaurant-board'; id?: string }
  | { view: 'courier' }
  | { view: 'operations' };

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?', 2);
  const then = new URLSearchParams(query).get('then') ?? '/';
  const parts = path
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  const [head, id] = parts;
  if (head === 'restaurants' && id !== undefined) return { view: 'restaurant', id };
  if (head === 'checkout') return { view: 'checkout' };
  if (head === 'orders' && id !== undefined) return { view: 'order', id };
  if (head === 'orders') return { view: 'orders' };
  if (head === 'sign-in') return { view: 'sign-in', then };
  if (head === 'sign-up') return { view: 'sign-up', then };
  if (head === 'account') return { view: 'account' };
  if (head === 'restaurant') return id === undefined ? { view: 'restaurant-board' } : { view: 'restaurant-board', id };
  if (head === 'courier') return { view: 'courier' };
  if (head === 'operations') return { view: 'operations' };
  return { view: 'restaurants' };
}

export const href = (path: string): string => `#${path}`;

/** Where each role lands after signing in: customers on the restaurants, staff on their view. */
export function homeOf(account: Pick<Account, 'role'>): string {
  switch (account.role) {
    case 'restaurant':
      return '/restaurant';
    case 'courier':
      return '/courier';
    case 'operator':
      return '/operations';
    default:
      return '/';
  }
}

export function navigate(path: string): void {
  location.hash = path;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => {
      setRoute(parseRoute(location.hash));
      window.scrollTo(0, 0);
    };
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
