/**
 * `@hubbub/push/providers`: the platforms the push service delivers through, and the contract a
 * new one implements.
 * @module
 */

export {
  type ApnsProvider,
  type ApnsProviderOptions,
  apnsMaxPayloadBytes,
  apnsOutcome,
  createApnsProvider,
  deviceToken,
} from './apns.ts';
export {
  createFcmProvider,
  type FcmProvider,
  type FcmProviderOptions,
  fcmMaxPayloadBytes,
  fcmOutcome,
  registrationToken,
  type ServiceAccount,
} from './fcm.ts';
export type {
  BrowserChannel,
  Delivery,
  DeliveryOutcome,
  Platform,
  PushProvider,
} from './provider.ts';
export { generateVapidKeys, type VapidDetails, type VapidKeys } from './vapid.ts';
export {
  browserChannel,
  createWebPushProvider,
  type WebPushProviderOptions,
  webPushMaxPayloadBytes,
  webPushOutcome,
} from './web-push.ts';
