/**
 * `@hubbub/push`: push notifications with Azure Notification Hubs' model (installations, tags,
 * templates) delivered through Web Push, FCM HTTP v1 and APNs.
 * @module
 */
export { isPushError, PushError, PushErrorCode } from './errors.ts';
export { createMemoryPushQueue, MemoryPushQueue, type MemoryPushQueueOptions } from './memory/queue.ts';
export { createMemoryInstallationRepository, MemoryInstallationRepository } from './memory/repository.ts';
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
export {
  createMemoryOutcomeStore,
  MemoryOutcomeStore,
  type OutcomeRecord,
  type OutcomeStore,
} from './outcomes.ts';
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
export {
  MAX_MIXED_TAGS,
  MAX_OR_TAGS,
  MAX_TAG_LENGTH,
  MAX_TAGS_PER_INSTALLATION,
  parseTagExpression,
  type TagExpression,
  type TagNode,
} from './tags.ts';
export { type CompiledTemplate, compileTemplate, type Properties, toProperties } from './templates.ts';
