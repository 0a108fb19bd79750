/**
 * The order rules, typed: the status machine and pricing live in the function app
 * (`functions/src/orders.js`), where the processor uses them, so the API and the processor check
 * an order with one implementation.
 * @module
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '@hubbub/kernel';

export type OrderStatus =
  | 'placed'
  | 'accepted'
  | 'rejected'
  | 'preparing'
  | 'ready'
  | 'picked_up'
  | 'delivered'
  | 'cancelled';

export type Role = 'customer' | 'restaurant' | 'courier' | 'operator';

export interface Actor {
  readonly role: Role;
  readonly id: string;
  readonly restaurantId?: string | undefined;
}

export interface MenuItem {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly priceCents: number;
  readonly available: boolean;
}

export interface Restaurant {
  readonly id: string;
  /** The store id of the demo city and the tracking page. */
  readonly storeId?: number;
  readonly name: string;
  readonly cuisine: string;
  readonly location: { readonly lat: number; readonly lng: number };
  readonly deliveryFeeCents: number;
  readonly currency: string;
  readonly open: boolean;
  readonly deliveryArea: {
    readonly south: number;
    readonly west: number;
    readonly north: number;
    readonly east: number;
  };
  readonly menu: readonly MenuItem[];
}

export interface OrderRequest {
  readonly restaurantId: string;
  readonly items: readonly { readonly itemId: string; readonly quantity: number }[];
  readonly deliveryAddress: { readonly lat: number; readonly lng: number; readonly label?: string | undefined };
}

export interface OrderLine {
  readonly itemId: string;
  readonly name: string;
  readonly quantity: number;
  readonly unitPriceCents: number;
  readonly lineCents: number;
}

export interface Priced {
  readonly lines: OrderLine[];
  readonly subtotalCents: number;
  readonly deliveryFeeCents: number;
  readonly totalCents: number;
  readonly currency: string;
}

export interface HistoryEntry {
  readonly status: OrderStatus;
  readonly at: string;
  readonly by: string;
  readonly reason?: string;
}

/** An order as the processor writes it and transitions keep it. */
export interface Order extends Partial<Priced> {
  readonly id: string;
  readonly customerId: string;
  readonly restaurantId: string;
  readonly restaurantName?: string;
  readonly status: OrderStatus;
  readonly deliveryAddress: OrderRequest['deliveryAddress'];
  readonly note: string | null;
  readonly courierId: string | null;
  /** When the courier took the order (an offer accepted); absent when it was picked up without one. */
  readonly assignedAt?: string | null;
  readonly reason: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly history: readonly HistoryEntry[];
  /** SHA-256 of the request the order was created from, to tell a retry from a reused Idempotency-Key. */
  readonly requestHash?: string | null;
}

export type TransitionCheck = { ok: true; noop: boolean } | { ok: false; reason: 'status' | 'role' };

interface RulesModule {
  STATUSES: readonly OrderStatus[];
  MAX_LINES: number;
  MAX_QUANTITY: number;
  checkTransition(order: Order, to: OrderStatus, actor: Actor): TransitionCheck;
  nextStatuses(status: OrderStatus, role: Role): OrderStatus[];
  applyTransition(order: Order, to: OrderStatus, actor: Actor, at: string, reason?: string): Order;
  priceOrder(restaurant: Restaurant | undefined, request: OrderRequest): Priced;
}

const rules = createRequire(import.meta.url)(
  join(packageRoot(import.meta.url), 'functions/src/orders.js'),
) as RulesModule;

export const ORDER_STATUSES = rules.STATUSES;
export const MAX_LINES = rules.MAX_LINES;
export const MAX_QUANTITY = rules.MAX_QUANTITY;
export const checkTransition = rules.checkTransition;
export const nextStatuses = rules.nextStatuses;
export const applyTransition = rules.applyTransition;
/** Prices `request` on `restaurant`'s menu; throws `{code: 'DELIVERY_INVALID_ORDER', field}` otherwise. */
export const priceOrder = rules.priceOrder;
