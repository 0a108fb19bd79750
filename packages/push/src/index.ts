/**
 * `@hubbub/push`: push notifications with Azure Notification Hubs' model (installations, tags,
 * templates) delivered through Web Push, FCM HTTP v1 and APNs.
 * @module
 */
export { isPushError, PushError, PushErrorCode } from './errors.ts';
export type {
  BrowserChannel,
  Installation,
  InstallationInput,
  InstallationPage,
  InstallationPatchOperation,
  InstallationTemplate,
  NativeNotification,
  Notification,
  NotificationOutcome,
  NotificationState,
  OutcomeCounts,
  SendOptions,
  SendResult,
  SendTarget,
  TemplateNotification,
  TestSendOutcome,
  TestSendResult,
} from './model.ts';
export type { Platform } from './providers/provider.ts';
export type { EnqueueOptions, LockedJob, PushJobBody, PushQueue } from './queue.ts';
export { type InstallationQuery, type InstallationRepository, indexTags } from './repository.ts';
export {
  type ChannelRemovedEvent,
  createPushService,
  type DeliveryFailedEvent,
  type DeliveryRetryEvent,
  type ListInstallationsOptions,
  type PushService,
  type PushServiceEvents,
  type PushServiceOptions,
} from './service.ts';
