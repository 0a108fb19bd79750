/**
 * What the Notification Hubs tests run against: the real push service with its three providers,
 * each delivering to its local protocol server (RFC 8030 endpoint, FCM, h2c APNs), behind the
 * front on a port of its own with the local CA in a temporary data directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AccessPolicy,
  createNotificationHubsFront,
  defaultAccessPolicies,
  generateAccessKey,
  type NotificationHubsFront,
  type NotificationHubsFrontOptions,
} from '../src/http/index.ts';
import { createPushService, type PushService } from '../src/index.ts';
import {
  createApnsProvider,
  createFcmProvider,
  createWebPushProvider,
  generateVapidKeys,
} from '../src/providers/index.ts';
import {
  type ApnsServer,
  type FcmServer,
  type PushEndpoint,
  startApnsServer,
  startFcmServer,
  startPushEndpoint,
} from '../src/testing/index.ts';

export interface NotificationHubsFixture {
  readonly endpoint: PushEndpoint;
  readonly fcm: FcmServer;
  readonly apns: ApnsServer;
  readonly service: PushService;
  readonly front: NotificationHubsFront;
  /** Full (Listen, Send, Manage) and listen-only. */
  readonly policies: { full: AccessPolicy; listen: AccessPolicy };
  close(): Promise<void>;
}

export async function startNotificationHubs(
  options: Partial<Omit<NotificationHubsFrontOptions, 'service' | 'policies' | 'tls'>> = {},
): Promise<NotificationHubsFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'hubbub-nh-'));
  const endpoint = await startPushEndpoint();
  const fcm = await startFcmServer();
  const apns = await startApnsServer();
  const service = createPushService({
    providers: [
      createWebPushProvider({ vapid: { ...generateVapidKeys(), subject: 'mailto:ops@hubbub.test' } }),
      createFcmProvider({
        serviceAccount: fcm.createServiceAccount('hubbub-test'),
        endpoint: fcm.origin,
        tokenUri: fcm.tokenUri,
      }),
      createApnsProvider({ ...apns.createSigningKey(), topic: 'com.hubbub.delivery', endpoint: apns.origin }),
    ],
  });
  await service.start();
  const [full, listen] = defaultAccessPolicies({ full: generateAccessKey(), listen: generateAccessKey() });
  const front = createNotificationHubsFront({
    hubName: 'orders',
    ...options,
    service,
    policies: [full!, listen!],
    tls: { dir },
  });
  await front.start();
  return {
    endpoint,
    fcm,
    apns,
    service,
    front,
    policies: { full: full!, listen: listen! },
    async close() {
      await front.close();
      await service.close();
      await Promise.all([endpoint.close(), fcm.close(), apns.close()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
