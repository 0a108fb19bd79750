/**
 * `@hubbub/push`: push notifications with Azure Notification Hubs' model (installations, tags,
 * templates) delivered through Web Push, FCM HTTP v1 and APNs.
 * @module
 */
export { isPushError, PushError, PushErrorCode } from './errors.ts';
export type { Platform } from './providers/provider.ts';
