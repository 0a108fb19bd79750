/**
 * `createPushClient`: typed calls to a Notification Hubs front (Hubbub's, or any that speaks its
 * REST API with Hubbub's error header) in the push service's own terms — installations in, sends
 * with the service's notification and target shapes, outcome details out.
 * @module
 */
import { Agent } from 'node:https';
import { InvalidOptionError } from '@hubbub/kernel';
import { PushError } from '../errors.ts';
import type {
  Installation,
  InstallationInput,
  InstallationPatchOperation,
  Notification,
  SendOptions,
  SendResult,
  SendTarget,
} from '../model.ts';
import {
  type InstallationListing,
  type InstallationListPage,
  type NotificationDetails,
  readDetails,
  readFeed,
} from './answers.ts';
import { type Answer, type Endpoint, exchange, failure, unexpected } from './transport.ts';

export interface PushClientOptions {
  /** `Endpoint=sb://127.0.0.1:7443/;SharedAccessKeyName=…;SharedAccessKey=…` (what the front prints). Required. */
  connectionString: string;
  /** The hub (the connection string's entity path). Required. */
  hubName: string;
  /** PEM of the CA the front's certificate chains to (`<data>/tls/ca.pem`'s text). @default Node's trusted CAs */
  ca?: string | Buffer;
  /** One request, answer included. @default 15_000 */
  timeoutMs?: number;
}

export interface ListInstallationsQuery {
  /** Only installations carrying this tag. */
  tag?: string;
  /** Page size, 1–100. @default 100 */
  top?: number;
  /** The previous page's `continuationToken`. */
  continuationToken?: string;
}

export interface PushClient {
  /** Creates or replaces an installation (Notification Hubs' idempotent PUT). */
  createOrUpdateInstallation(installation: InstallationInput): Promise<void>;
  /** Applies a JSON Patch: all its operations or none. */
  patchInstallation(installationId: string, operations: readonly InstallationPatchOperation[]): Promise<void>;
  /** Rejects with `PUSH_INSTALLATION_NOT_FOUND` when there is none. */
  getInstallation(installationId: string): Promise<Installation>;
  /** Resolves also when there was none. */
  deleteInstallation(installationId: string): Promise<void>;
  /** One page of installations (the registration feed's view: the first template only). */
  listInstallations(query?: ListInstallationsQuery): Promise<InstallationListPage>;
  /** Every installation (carrying `tag`), page after page. */
  installations(query?: Omit<ListInstallationsQuery, 'continuationToken'>): AsyncIterable<InstallationListing>;
  /** Queues a send (scheduled with `scheduledAt`); resolves once the front stored it. */
  send(notification: Notification, target: SendTarget, options?: SendOptions): Promise<SendResult>;
  /** Cancels a scheduled send; `PUSH_NOT_FOUND` when there is nothing to cancel (unknown, begun, or done). */
  cancelScheduled(notificationId: string): Promise<void>;
  /** `PUSH_NOT_FOUND` when the front knows no such notification (or no such hub: the message says which). */
  getNotificationOutcome(notificationId: string): Promise<NotificationDetails>;
  /** Closes kept-alive connections. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Parses `Endpoint=sb://host:port/;SharedAccessKeyName=…;SharedAccessKey=…`; `KERNEL_INVALID_OPTION` otherwise. */
export function parseConnectionString(text: string): { origin: string; keyName: string; key: string } {
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const endpoint = fields.get('endpoint');
  const keyName = fields.get('sharedaccesskeyname');
  const key = fields.get('sharedaccesskey');
  const bad = () =>
    new InvalidOptionError(
      'connectionString',
      'must be Endpoint=sb://HOST:PORT/;SharedAccessKeyName=NAME;SharedAccessKey=KEY',
    );
  if (endpoint === undefined || !keyName || !key) throw bad();
  let url: URL;
  try {
    url = new URL(endpoint.replace(/^sb:/i, 'https:'));
  } catch {
    throw bad();
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '') throw bad();
  return { origin: url.origin, keyName, key };
}

const nativeFormat = { browser: 'browser', fcmv1: 'fcmv1', apns: 'apple' } as const;
/** Platform headers the front hands to providers (any other would be dropped there, or clash with the request's own). */
const platformHeader = /^(apns-[a-z-]+|ttl|urgency|topic)$/i;

export function createPushClient(options: PushClientOptions): PushClient {
  if (typeof options?.connectionString !== 'string') {
    throw new InvalidOptionError('connectionString', 'is required (the front prints it)');
  }
  const { origin, keyName, key } = parseConnectionString(options.connectionString);
  if (typeof options.hubName !== 'string' || !/^[A-Za-z0-9._-]{1,260}$/.test(options.hubName)) {
    throw new InvalidOptionError('hubName', 'must be 1–260 of A-Za-z0-9._-');
  }
  const timeoutMs = options.timeoutMs ?? 15_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1)
    throw new InvalidOptionError('timeoutMs', 'must be a positive integer');
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const e: Endpoint = {
    origin,
    hubName: options.hubName,
    keyName,
    key,
    ca: options.ca,
    timeoutMs,
    agent,
    now: Date.now,
  };
  const id = (value: string) => encodeURIComponent(value);
  const expect = (answer: Answer, ...statuses: number[]) => {
    if (!statuses.includes(answer.status)) throw failure(e, answer);
    return answer;
  };
  const json = { 'Content-Type': 'application/json;charset=utf-8' };

  async function listInstallations(query: ListInstallationsQuery = {}): Promise<InstallationListPage> {
    const path = query.tag === undefined ? '/registrations' : `/tags/${id(query.tag)}/registrations`;
    const params = [`$top=${query.top ?? 100}`];
    if (query.continuationToken !== undefined) params.push(`continuationtoken=${id(query.continuationToken)}`);
    const answer = expect(await exchange(e, 'GET', path, { query: params.join('&') }), 200);
    const installations = readFeed(answer.body);
    if (installations === undefined) throw unexpected(e, 'a registration list that is not an Atom feed', 200);
    const next = answer.headers['x-ms-continuationtoken'];
    return typeof next === 'string' && next !== '' ? { installations, continuationToken: next } : { installations };
  }

  return {
    async createOrUpdateInstallation(installation) {
      const body = JSON.stringify(installation);
      expect(
        await exchange(e, 'PUT', `/installations/${id(installation.installationId)}`, { headers: json, body }),
        200,
      );
    },
    async patchInstallation(installationId, operations) {
      const body = JSON.stringify(operations);
      const headers = { 'Content-Type': 'application/json-patch+json' };
      expect(await exchange(e, 'PATCH', `/installations/${id(installationId)}`, { headers, body }), 200);
    },
    async getInstallation(installationId) {
      const answer = expect(await exchange(e, 'GET', `/installations/${id(installationId)}`), 200);
      let installation: unknown;
      try {
        installation = JSON.parse(answer.body);
      } catch {
        installation = undefined;
      }
      if (typeof (installation as Installation | undefined)?.installationId !== 'string') {
        throw unexpected(e, 'an installation that is not Installation JSON', 200);
      }
      return installation as Installation;
    },
    async deleteInstallation(installationId) {
      expect(await exchange(e, 'DELETE', `/installations/${id(installationId)}`), 204, 200);
    },
    listInstallations,
    async *installations(query = {}) {
      let continuationToken: string | undefined;
      do {
        const page = await listInstallations({
          ...query,
          ...(continuationToken === undefined ? {} : { continuationToken }),
        });
        yield* page.installations;
        continuationToken = page.continuationToken;
      } while (continuationToken !== undefined);
    },
    async send(notification, target, sendOptions = {}) {
      const { headers, body, direct } = sendRequest(notification, target);
      const scheduledAt = sendOptions.scheduledAt;
      if (scheduledAt !== undefined) {
        const ms = scheduledAt instanceof Date ? scheduledAt.getTime() : scheduledAt;
        if (!Number.isFinite(ms)) {
          throw new PushError('PUSH_INVALID_SCHEDULE', 'scheduledAt is not a time.', {
            detail: { field: 'scheduledAt' },
          });
        }
        headers['ServiceBusNotification-ScheduleTime'] = new Date(ms).toISOString();
      }
      if (sendOptions.idempotencyKey !== undefined) headers['x-ms-client-request-id'] = sendOptions.idempotencyKey;
      const collection = scheduledAt === undefined ? 'messages' : 'schedulednotifications';
      const answer = expect(
        await exchange(e, 'POST', `/${collection}/`, { headers, body, ...(direct ? { query: 'direct=true' } : {}) }),
        201,
      );
      const location = String(answer.headers.location ?? '');
      const sent = new RegExp(`/${collection}/([^/?]+)`).exec(location)?.[1];
      if (sent === undefined) throw unexpected(e, 'a send answered without its notification Location', 201);
      const notificationId = decodeURIComponent(sent);
      if (scheduledAt === undefined) return { notificationId };
      return { notificationId, scheduledAt: Date.parse(headers['ServiceBusNotification-ScheduleTime']!) };
    },
    async cancelScheduled(notificationId) {
      expect(await exchange(e, 'DELETE', `/schedulednotifications/${id(notificationId)}`), 200);
    },
    async getNotificationOutcome(notificationId) {
      const answer = expect(await exchange(e, 'GET', `/messages/${id(notificationId)}`), 200);
      const details = readDetails(answer.body);
      if (details === undefined) throw unexpected(e, 'outcome details that are not NotificationDetails', 200);
      return details;
    },
    async close() {
      agent.destroy();
    },
    async [Symbol.asyncDispose]() {
      agent.destroy();
    },
  };
}

/** The headers and body a send goes as, checked here so a bad header never reaches the wire. */
function sendRequest(
  notification: Notification,
  target: SendTarget,
): { headers: Record<string, string>; body: string; direct: boolean } {
  const invalid = (message: string, field: string) =>
    new PushError('PUSH_INVALID_NOTIFICATION', message, { detail: { field } });
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(notification.headers ?? {})) {
    if (!platformHeader.test(name)) {
      throw invalid(
        `'${name.slice(0, 64)}' is not a platform header (apns-*, TTL, Urgency, Topic).`,
        `headers.${name}`,
      );
    }
    if (typeof value !== 'string' || /[^\t\x20-\x7e]/.test(value)) {
      throw invalid(`The header ${name} must be printable ASCII text.`, `headers.${name}`);
    }
    headers[name] = value;
  }
  let body: string;
  if (notification.format === 'template') {
    const p = notification.properties;
    if (typeof p !== 'object' || p === null || Array.isArray(p)) {
      throw invalid('A template notification needs an object of properties.', 'properties');
    }
    body = JSON.stringify(p);
    headers['Content-Type'] = 'application/json;charset=utf-8';
  } else {
    if (!Object.hasOwn(nativeFormat, notification.format)) {
      throw new PushError('PUSH_UNKNOWN_PLATFORM', `'${String(notification.format).slice(0, 32)}' is not a platform.`, {
        detail: { platform: notification.format },
      });
    }
    if (typeof notification.body !== 'string') throw invalid('A native notification needs a string body.', 'body');
    body = notification.body;
    headers['Content-Type'] =
      notification.format === 'browser' ? 'text/plain;charset=utf-8' : 'application/json;charset=utf-8';
  }
  headers['ServiceBusNotification-Format'] =
    notification.format === 'template' ? 'template' : nativeFormat[notification.format];
  switch (target.kind) {
    case 'broadcast':
      return { headers, body, direct: false };
    case 'tags':
      headers['ServiceBusNotification-Tags'] = target.expression;
      return { headers, body, direct: false };
    case 'installation':
      headers['ServiceBusNotification-Tags'] = `$InstallationId:{${target.installationId}}`;
      return { headers, body, direct: false };
    case 'handle': {
      if (notification.format !== target.platform) {
        throw invalid("A direct send takes a native notification of the handle's platform.", 'format');
      }
      const channel = target.channel;
      if (typeof channel === 'string') {
        headers['ServiceBusNotification-DeviceHandle'] = channel;
      } else if (typeof channel === 'object' && channel !== null) {
        headers['ServiceBusNotification-DeviceHandle'] = channel.endpoint;
        headers.Auth = channel.auth;
        headers.P256DH = channel.p256dh;
      } else {
        throw new PushError('PUSH_INVALID_CHANNEL', 'A handle is a token or a browser subscription.', {
          detail: { reason: 'not a channel' },
        });
      }
      for (const name of ['ServiceBusNotification-DeviceHandle', 'Auth', 'P256DH']) {
        const v = headers[name];
        if (v !== undefined && (typeof v !== 'string' || v === '' || /[^\x21-\x7e]/.test(v))) {
          throw new PushError('PUSH_INVALID_CHANNEL', `The handle's ${name} is empty or not printable ASCII.`, {
            detail: { reason: name },
          });
        }
      }
      return { headers, body, direct: true };
    }
    default:
      throw invalid('The target is not broadcast, tags, installation or handle.', 'target');
  }
}
