/** How the app writes money, times and statuses. */
import type { OrderStatus } from './api.ts';

export function money(cents: number, currency = 'USD'): string {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(cents / 100);
}

const time = new Intl.DateTimeFormat('en-US', { hour: 'numeric', minute: '2-digit' });
const day = new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric' });

export const clock = (iso: string): string => time.format(new Date(iso));
export const when = (iso: string): string => `${day.format(new Date(iso))}, ${time.format(new Date(iso))}`;

/** The customer's words for each status, and the steps the timeline shows. */
export const STATUS_LABEL: Record<OrderStatus, string> = {
  placed: 'Placed',
  accepted: 'Accepted',
  rejected: 'Rejected',
  preparing: 'Preparing',
  ready: 'Ready for pickup',
  picked_up: 'Picked up',
  delivered: 'Delivered',
  cancelled: 'Cancelled',
};

export const STATUS_HINT: Record<OrderStatus, string> = {
  placed: 'Waiting for the restaurant to accept your order.',
  accepted: 'The restaurant accepted your order.',
  rejected: 'The restaurant could not take your order.',
  preparing: 'Your food is being prepared.',
  ready: 'Your order is ready and waiting for a courier.',
  picked_up: 'Your courier is on the way.',
  delivered: 'Enjoy your meal!',
  cancelled: 'You cancelled this order.',
};

export const HAPPY_PATH: readonly OrderStatus[] = [
  'placed',
  'accepted',
  'preparing',
  'ready',
  'picked_up',
  'delivered',
];

export const isFinal = (s: OrderStatus): boolean => s === 'delivered' || s === 'rejected' || s === 'cancelled';

/** A duration as the boards write it: "40 s", "4 min", "1 h 05 min". */
export function duration(ms: number): string {
  const minutes = Math.floor(Math.max(0, ms) / 60_000);
  if (minutes < 1) return `${Math.floor(Math.max(0, ms) / 1000)} s`;
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** A distance: "350 m", "1.2 km". */
export const meters = (m: number): string =>
  m < 1000 ? `${Math.round(m / 10) * 10} m` : `${(m / 1000).toFixed(1)} km`;

/** The order's short reference, as a kitchen calls it out: the last five characters of its id. */
export const ticket = (orderId: string): string => `#${orderId.slice(-5).toUpperCase()}`;
