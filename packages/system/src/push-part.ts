/**
 * The system's push part: the push service on durable ports (jobs on the bus's queue
 * `push-deliveries`, installations and outcomes in the store), its providers (Web Push always,
 * FCM and APNs when configured), the Notification Hubs–compatible HTTPS front on a port of its own
 * with the system's certificate from the local CA (`tls-part.ts`), and `GET /push/vapid-public-key` on the
 * system's port for the web app's service worker.
 *
 * The store opens in the background after the server listens; the service needs nothing from it to
 * start (the queue is on the bus), and the store's operations wait for its open — so an
 * installation written or a job handed out while PGlite still loads simply takes that long.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Bus } from '@hubbub/bus';
import { InvalidOptionError, type Logger, requestTarget, sendJson } from '@hubbub/kernel';
import { createPushService, type PushService } from '@hubbub/push';
import {
  createNotificationHubsFront,
  defaultAccessPolicies,
  type NotificationHubsFront,
} from '@hubbub/push/notification-hubs';
import {
  createApnsProvider,
  createFcmProvider,
  createWebPushProvider,
  type PushProvider,
} from '@hubbub/push/providers';
import type { Store } from '@hubbub/store';
import { createBusPushQueue } from './bridges/push-queue.ts';
import { createStoreInstallationRepository, createStoreOutcomeStore } from './bridges/push-store.ts';
import type { PushKeys } from './keys-file.ts';
import { DEFAULT_PUSH_PORT, type SystemPushOptions, VAPID_KEY_PATH } from './push-options.ts';
import type { SystemTls } from './tls-part.ts';

export { DEFAULT_PUSH_PORT, type SystemPushOptions, VAPID_KEY_PATH } from './push-options.ts';

export interface SystemPush {
  readonly service: PushService;
  readonly hubName: string;
  /** Serves `GET /push/vapid-public-key` (`{ publicKey }`) on the system's port. */
  handleRequest(request: IncomingMessage, response: ServerResponse): boolean;
  /** Starts the service, then the front (making or reusing the local CA). */
  start(): Promise<void>;
  /** `Endpoint=sb://127.0.0.1:PORT/;SharedAccessKeyName=DefaultFullSharedAccessSignature;SharedAccessKey=…` */
  connectionString(policy?: 'full' | 'listen'): string;
  /** The front's port (after start). */
  readonly port: number;
  /** `ca.pem` of the local CA clients trust (`NODE_EXTRA_CA_CERTS`). */
  readonly caPath: string | undefined;
  close(): Promise<void>;
}

export interface SystemPushContext {
  readonly bus: Bus;
  readonly store: Store;
  readonly keys: PushKeys;
  /** The system's certificate from the local CA, shared with the other TLS ports. */
  readonly tls: Pick<SystemTls, 'certPem' | 'keyPem' | 'caPath'>;
  readonly logger: Logger;
}

export function createSystemPush(options: SystemPushOptions, context: SystemPushContext): SystemPush {
  const { bus, store, keys, logger } = context;
  const port = options.port ?? DEFAULT_PUSH_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidOptionError('pushPort', `must be a port number, got ${String(port)}`);
  }
  const providers: PushProvider[] = [
    createWebPushProvider({
      vapid: { ...keys.vapid, subject: options.vapidSubject ?? 'mailto:push@hubbub.localhost' },
      ...(options.webPushCa === undefined ? {} : { ca: options.webPushCa }),
    }),
  ];
  if (options.fcm !== undefined) providers.push(createFcmProvider(options.fcm));
  if (options.apns !== undefined) providers.push(createApnsProvider(options.apns));
  const service = createPushService({
    ...options.service,
    providers,
    queue: createBusPushQueue(bus),
    repository: createStoreInstallationRepository(store, { cachedInstallations: 10_000 }),
    outcomes: createStoreOutcomeStore(store),
    logger: logger.child({ part: 'push' }),
  });
  service.on('error', (err) => logger.error({ err }, 'a push job failed; it will be tried again'));
  const hubName = options.hubName ?? 'hubbub';
  let front: NotificationHubsFront | undefined;
  const body = { publicKey: keys.vapid.publicKey };

  return {
    service,
    hubName,
    handleRequest(request, response) {
      if (requestTarget(request).pathname !== VAPID_KEY_PATH) return false;
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return true;
      }
      sendJson(response, 200, body);
      return true;
    },
    async start() {
      await service.start();
      front = createNotificationHubsFront({
        service,
        hubName,
        policies: defaultAccessPolicies({ full: keys.full, listen: keys.listen }),
        tls: { certPem: context.tls.certPem, keyPem: context.tls.keyPem },
        host: '127.0.0.1',
        port,
        onError: (err) => logger.error({ err }, 'a Notification Hubs request failed'),
      });
      front.on('error', (err) => logger.error({ err }, 'the Notification Hubs front failed'));
      await front.start();
    },
    connectionString(policy = 'full') {
      if (front === undefined) throw new InvalidOptionError('push', 'the push part has not started');
      return front.connectionString(
        policy === 'full' ? 'DefaultFullSharedAccessSignature' : 'DefaultListenSharedAccessSignature',
      );
    },
    get port() {
      return front?.port ?? 0;
    },
    get caPath() {
      return context.tls.caPath;
    },
    async close() {
      await front?.close();
      await service.close();
    },
  };
}
