/**
 * `@hubbub/push/testing`: local peers that speak the platforms' real protocols, for tests and the
 * browser end-to-end run — an RFC 8030 push endpoint that verifies VAPID and decrypts like a
 * browser, an FCM HTTP v1 server with its OAuth token endpoint, and an APNs server over h2c.
 * @module
 */

export {
  type ApnsReason,
  type ApnsServer,
  type ApnsServerOptions,
  type ApnsSigningKey,
  apnsReasons,
  type ReceivedApnsNotification,
  startApnsServer,
} from './apns-server.ts';
export { decryptAes128gcm, decryptWebPush, EceError, parseEceHeader } from './ece.ts';
export {
  type FcmErrorCode,
  type FcmServer,
  type FcmServerOptions,
  type FcmServiceAccount,
  fcmErrors,
  type ReceivedFcmMessage,
  startFcmServer,
} from './fcm-server.ts';
export { type VerifiedJwt, verifyJwt } from './jwt.ts';
export {
  type PushEndpoint,
  type PushEndpointOptions,
  type ReceivedPush,
  type RefusedPush,
  type SubscribeOptions,
  startPushEndpoint,
  type TestSubscription,
} from './push-endpoint.ts';
