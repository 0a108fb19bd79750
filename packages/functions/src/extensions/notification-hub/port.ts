/**
 * The port `notificationHub` outputs reach a push service through: one send of a template or a
 * native notification to every installation, or to those a tag expression matches. The
 * composition root adapts Hubbub's push service to it (`@hubbub/system`, in process); the shapes
 * are Notification Hubs' (and `@hubbub/push`'s), repeated here so this package needs no other.
 * @module
 */
import type { Connection } from '../../connections.ts';

/** Platforms a native notification may target (Notification Hubs' `browser`, `fcmv1`, `apple`). */
export type PushPlatform = 'browser' | 'fcmv1' | 'apns';

/** Template properties (rendered into each installation's templates), or a payload in one platform's format. */
export type PushNotification =
  | { readonly format: 'template'; readonly properties: Readonly<Record<string, string | number | boolean>> }
  | { readonly format: PushPlatform; readonly body: string };

/** Every installation, or those whose tags satisfy the expression. */
export type PushTarget = { readonly kind: 'broadcast' } | { readonly kind: 'tags'; readonly expression: string };

export interface PushSendOptions {
  /** A second send with the same key (within the service's window) sends nothing and answers the first's id. */
  readonly idempotencyKey?: string;
}

export interface PushPort {
  /** Queues the notification on hub `hub` and resolves once the push service holds it durably. */
  send(
    hub: string,
    notification: PushNotification,
    target: PushTarget,
    options: PushSendOptions,
  ): Promise<{ readonly notificationId: string }>;
}

/** Picks the push service for a connection setting (`{ name, value }` of e.g. NotificationHubConnection); undefined for none. */
export type PushResolver = (connection: Connection) => PushPort | undefined | Promise<PushPort | undefined>;
