/**
 * The push part's options and fixed values, apart from its code: the composition root and the
 * commands read them without loading the push service (imported when the part starts).
 * @module
 */
import type { PushServiceOptions } from '@hubbub/push';
import type { ApnsProviderOptions, FcmProviderOptions } from '@hubbub/push/providers';

export interface SystemPushOptions {
  /** The hub name (the connection string's entity path). @default 'hubbub' */
  hubName?: string;
  /** The Notification Hubs front's port (loopback); 0 picks a free one. @default 7443 */
  port?: number;
  /** The VAPID contact (`mailto:` or `https:`). @default 'mailto:push@hubbub.localhost' */
  vapidSubject?: string;
  /** Extra CA (PEM) the Web Push provider trusts for push endpoints (a local https endpoint in tests). */
  webPushCa?: string;
  /** FCM HTTP v1: the service account (JSON text or object), optional `endpoint`, `tokenUri`, `ca`. @default off */
  fcm?: Pick<FcmProviderOptions, 'serviceAccount' | 'endpoint' | 'tokenUri' | 'ca'>;
  /** APNs: `signingKey` (.p8), `keyId`, `teamId`, `topic`, optional `endpoint` ('production', 'sandbox', a URL), `ca`. @default off */
  apns?: Pick<ApnsProviderOptions, 'signingKey' | 'keyId' | 'teamId' | 'topic' | 'endpoint' | 'ca'>;
  /** The service's tuning (expiry, back-off, concurrency …). @default the push service's defaults */
  service?: Omit<PushServiceOptions, 'providers' | 'repository' | 'queue' | 'outcomes' | 'logger'>;
}

export const DEFAULT_PUSH_PORT = 7443;
export const VAPID_KEY_PATH = '/push/vapid-public-key';
