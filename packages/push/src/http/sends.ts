/**
 * Sends over the wire: `POST /{hub}/messages/` (broadcast, tag expression, `direct=true` to one
 * handle, `test=true` for a synchronous test send), `POST /{hub}/schedulednotifications/`,
 * `DELETE /{hub}/schedulednotifications/{id}` and `GET /{hub}/messages/{id}` (outcome details).
 * Success codes are the SDK's exact ones: 201 for a send, 200 for a cancel and for details.
 * `x-ms-client-request-id` is the send's idempotency key, so the SDK's own retries of a send that
 * was stored but whose answer was lost send nothing twice.
 * @module
 */
import { PushError } from '../errors.ts';
import type { Notification, Platform, SendTarget } from '../model.ts';
import type { Exchange } from './exchange.ts';
import { invalidRequest, replyEmpty, replyXml } from './reply.ts';
import { notificationDetailsXml, notificationOutcomeXml } from './xml.ts';

/** Send formats (`ServiceBusNotification-Format`) and the platform each reaches; `template` has none. */
const formats = new Map<string, Platform | 'template'>([
  ['apple', 'apns'],
  ['browser', 'browser'],
  ['fcmv1', 'fcmv1'],
  ['template', 'template'],
]);
/** Formats the SDK knows and Hubbub does not deliver to. */
const unsupported = new Set(['gcm', 'adm', 'baidu', 'xiaomi', 'windows', 'wns']);

/** Request headers handed to the provider as the notification's headers (the SDK sends `notification.headers` raw). */
const platformHeader = /^(apns-[a-z-]+|ttl|urgency|topic|x-wns-[a-z-]+)$/;

const maxTagHeader = 4096;

export async function serveSend(x: Exchange, scheduled: boolean): Promise<void> {
  const notification = readNotification(x);
  const direct = x.url.searchParams.has('direct');
  const test = x.url.searchParams.has('test');
  const target = direct ? directTarget(x, notification) : tagTarget(x);
  if (scheduled && (direct || test))
    throw invalidRequest('A scheduled send is neither direct nor a test send.', 'query');
  const trackingId = x.response.getHeader('TrackingId') as string;
  const headers: Record<string, string> = { 'x-ms-correlation-request-id': trackingId };

  if (test && !direct) {
    const outcome = await x.service.testSend(notification, target);
    return replyXml(x.response, 201, notificationOutcomeXml(outcome), headers);
  }
  const requestId = x.header('x-ms-client-request-id');
  const scheduledAt = scheduled ? scheduleTime(x) : undefined;
  const result = await x.service.send(notification, target, {
    ...(requestId === undefined || requestId === '' ? {} : { idempotencyKey: requestId.slice(0, 128) }),
    ...(scheduledAt === undefined ? {} : { scheduledAt }),
  });
  const collection = scheduled ? 'schedulednotifications' : 'messages';
  return replyEmpty(x.response, 201, { ...headers, Location: x.location(`${collection}/${result.notificationId}`) });
}

/** The notification a send request carries: its format header, platform headers and body. */
export function readNotification(x: Exchange, body = x.text()): Notification {
  const format = (x.header('ServiceBusNotification-Format') ?? '').trim().toLowerCase();
  if (format === '')
    throw invalidRequest('The ServiceBusNotification-Format header is required.', 'ServiceBusNotification-Format');
  const platform = formats.get(format);
  if (platform === undefined) {
    if (unsupported.has(format)) {
      throw new PushError('PUSH_UNKNOWN_PLATFORM', `Hubbub does not deliver the '${format}' format.`, {
        status: 400,
        detail: { platform: format },
      });
    }
    throw invalidRequest(`'${format.slice(0, 32)}' is not a notification format.`, 'ServiceBusNotification-Format');
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(x.request.headers)) {
    if (typeof value === 'string' && platformHeader.test(name)) headers[name] = value;
  }
  if (platform !== 'template') return { format: platform, body, headers };
  let properties: unknown;
  try {
    properties = JSON.parse(body);
  } catch (cause) {
    throw invalidRequest('A template notification body must be a JSON object of properties.', 'body', cause);
  }
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties))
    throw invalidRequest('A template notification body must be a JSON object of properties.', 'body');
  return { format: 'template', properties: properties as Record<string, string>, headers };
}

function tagTarget(x: Exchange): SendTarget {
  const tags = x.header('ServiceBusNotification-Tags');
  // The SDK's test broadcast sends the literal `undefined` (see the wire note): a broadcast, by choice.
  if (tags === undefined || tags.trim() === '' || tags === 'undefined') return { kind: 'broadcast' };
  if (tags.length > maxTagHeader)
    throw invalidRequest('The tag expression is too long.', 'ServiceBusNotification-Tags');
  return { kind: 'tags', expression: tags };
}

function directTarget(x: Exchange, notification: Notification): SendTarget {
  if (notification.format === 'template')
    throw invalidRequest(
      'A direct send takes a native notification, not a template one.',
      'ServiceBusNotification-Format',
    );
  const handle = x.header('ServiceBusNotification-DeviceHandle');
  if (handle === undefined || handle === '')
    throw invalidRequest(
      'A direct send needs the ServiceBusNotification-DeviceHandle header.',
      'ServiceBusNotification-DeviceHandle',
    );
  if (notification.format !== 'browser') return { kind: 'handle', platform: notification.format, channel: handle };
  const auth = x.header('Auth');
  const p256dh = x.header('P256DH');
  if (auth === undefined || p256dh === undefined)
    throw invalidRequest(
      'A direct browser send needs the Auth and P256DH headers.',
      auth === undefined ? 'Auth' : 'P256DH',
    );
  return { kind: 'handle', platform: 'browser', channel: { endpoint: handle, p256dh, auth } };
}

function scheduleTime(x: Exchange): number {
  const value = x.header('ServiceBusNotification-ScheduleTime');
  const at = value === undefined ? Number.NaN : Date.parse(value);
  if (!Number.isFinite(at))
    throw invalidRequest(
      'A scheduled send needs an ISO 8601 ServiceBusNotification-ScheduleTime.',
      'ServiceBusNotification-ScheduleTime',
    );
  return at;
}

export async function serveCancel(x: Exchange, id: string): Promise<void> {
  if (!(await x.service.cancelScheduled(id)))
    throw x.notFound(`No scheduled notification '${id.slice(0, 64)}' to cancel.`);
  return replyEmpty(x.response, 200);
}

export async function serveOutcome(x: Exchange, id: string): Promise<void> {
  const outcome = await x.service.getNotificationOutcome(id);
  if (outcome === undefined) throw x.notFound(`No notification '${id.slice(0, 64)}'.`);
  return replyXml(x.response, 200, notificationDetailsXml(outcome, x.location(`messages/${encodeURIComponent(id)}`)));
}
