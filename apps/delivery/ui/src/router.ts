/**
 * Routes in the URL's hash (`/app/#/orders/o-…`): one document under /app/, so the server serves
 * one file for every view and the offline shell is that file.
 */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { view: 'restaurants' }
  | { view: 'restaurant'; id: string }
  | { view: 'checkout' }
  | { view: 'orders' }
  | { view: 'order'; id: string }
  | { view: 'sign-in'; then: string }
  | { view: 'sign-up'; then: string }
  | { view: 'account' };

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
  return { view: 'restaurants' };
}

export const href = (path: string): string => `#${path}`;

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
