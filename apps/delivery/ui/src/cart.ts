/** The cart: items of one restaurant, kept in localStorage so a reload or a sign-in keeps it. */
import { useEffect, useState } from 'preact/hooks';
import type { MenuItem, Restaurant } from './api.ts';

export interface CartLine {
  itemId: string;
  name: string;
  priceCents: number;
  quantity: number;
}

export interface Cart {
  restaurantId: string;
  restaurantName: string;
  deliveryFeeCents: number;
  currency: string;
  lines: CartLine[];
}

const KEY = 'hubbub.cart';
const listeners = new Set<(cart: Cart | null) => void>();

function load(): Cart | null {
  try {
    const cart = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Cart | null;
    return cart !== null && Array.isArray(cart.lines) && cart.lines.length > 0 ? cart : null;
  } catch {
    return null;
  }
}

function save(cart: Cart | null): void {
  if (cart === null || cart.lines.length === 0) localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, JSON.stringify(cart));
  const now = load();
  for (const l of listeners) l(now);
}

/** Adds `delta` of the item (a negative delta removes); another restaurant's item starts a new cart. */
export function changeItem(restaurant: Restaurant, item: MenuItem, delta: number): void {
  const cart = load();
  const fresh: Cart = {
    restaurantId: restaurant.id,
    restaurantName: restaurant.name,
    deliveryFeeCents: restaurant.deliveryFeeCents,
    currency: restaurant.currency,
    lines: [],
  };
  const next = cart !== null && cart.restaurantId === restaurant.id ? cart : fresh;
  const line = next.lines.find((l) => l.itemId === item.id);
  if (line === undefined && delta > 0)
    next.lines.push({ itemId: item.id, name: item.name, priceCents: item.priceCents, quantity: delta });
  else if (line !== undefined) line.quantity = Math.min(50, line.quantity + delta);
  next.lines = next.lines.filter((l) => l.quantity > 0);
  save(next);
}

export const clearCart = (): void => save(null);

export const subtotal = (cart: Cart): number => cart.lines.reduce((s, l) => s + l.priceCents * l.quantity, 0);
export const itemCount = (cart: Cart | null): number => cart?.lines.reduce((s, l) => s + l.quantity, 0) ?? 0;

export function useCart(): Cart | null {
  const [cart, setCart] = useState(load);
  useEffect(() => {
    listeners.add(setCart);
    const onStorage = (e: StorageEvent) => e.key === KEY && setCart(load());
    addEventListener('storage', onStorage);
    return () => {
      listeners.delete(setCart);
      removeEventListener('storage', onStorage);
    };
  }, []);
  return cart;
}
