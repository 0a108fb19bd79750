/**
 * Order-status push notifications, typed: the template each browser installation registers and the
 * properties the notifier sends. The values live in the function app (`functions/src/push.js`),
 * where the notifier uses them, so the installation's template and the sends that fill it are
 * defined once.
 * @module
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '@hubbub/kernel';
import type { OrderStatus } from './orders/rules.ts';

/** The courier's about-to-arrive event's status (no status of the order: it stays `picked_up`). */
export type ArrivingStatus = 'arriving';

/** What the service worker receives (the rendered template) and a send's template properties. */
export type OrderNotification = {
  readonly title: string;
  readonly body: string;
  /** The page the notification opens, relative to the app's origin. */
  readonly url: string;
  readonly orderId: string;
  readonly status: OrderStatus | ArrivingStatus;
};

/** A status event of topic `orders` (what the notifier receives). */
export interface OrderStatusEvent {
  readonly orderId: string;
  readonly status: OrderStatus | ArrivingStatus;
  readonly customerId?: string;
  readonly reason?: string | null;
}

export interface PushTemplate {
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

interface PushModule {
  ORDER_STATUS_TEMPLATE: string;
  TEMPLATE_PROPERTIES: readonly (keyof OrderNotification)[];
  ORDER_STATUS_BODY: string;
  ORDER_STATUS_HEADERS: Readonly<Record<string, string>>;
  NOTIFIED_STATUSES: readonly OrderStatus[];
  ARRIVING: ArrivingStatus;
  installationTemplates(): Record<string, PushTemplate>;
  customerTag(customerId: string): string;
  orderUrl(orderId: string): string;
  orderNotification(event: OrderStatusEvent): OrderNotification | null;
}

const push = createRequire(import.meta.url)(join(packageRoot(import.meta.url), 'functions/src/push.js')) as PushModule;

/** The template's name in each browser installation (`orderStatus`). */
export const ORDER_STATUS_TEMPLATE = push.ORDER_STATUS_TEMPLATE;
/** The properties a send fills the template with. */
export const TEMPLATE_PROPERTIES = push.TEMPLATE_PROPERTIES;
/** The statuses the customer is notified of. */
export const NOTIFIED_STATUSES = push.NOTIFIED_STATUSES;
/** `arriving`: the status of the event the API publishes once per order when its courier is about to arrive. */
export const ARRIVING = push.ARRIVING;
/** `{ orderStatus: { body, headers } }`, as a browser installation registers it. */
export const installationTemplates = push.installationTemplates;
/** `$UserId:{<customerId>}` (Notification Hubs' form; `$UserId:<id>` parses the same in a tag expression): every installation of the customer. */
export const customerTag = push.customerTag;
/** The page a notification about `orderId` opens. */
export const orderUrl = push.orderUrl;
/** The template properties for a status event, or null when the status does not notify. */
export const orderNotification = push.orderNotification;
