/**
 * `@hubbub/push/notification-hubs`: the Notification Hubs–compatible REST API over the push
 * service, and the shared access signatures it checks.
 * @module
 */
export type { NotificationHubsBackend } from './exchange.ts';
export {
  createNotificationHubsFront,
  type LocalTls,
  type NotificationHubsFront,
  type NotificationHubsFrontEvents,
  type NotificationHubsFrontOptions,
} from './front.ts';
export {
  type AccessPolicy,
  type AccessRight,
  createSasToken,
  defaultAccessPolicies,
  generateAccessKey,
} from './sas.ts';
