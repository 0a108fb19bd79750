/**
 * Sends checked at the door: the notification (format, body within the platform's payload limit,
 * headers, template properties) and its target (tag expression parsed against the limits, ids,
 * a direct handle accepted by its provider), before anything is queued.
 * @module
 */
import { PushError, PushErrorCode } from './errors.ts';
import { normalizeChannel, platformOf, providerFor, validateId } from './installations.ts';
import type { Notification, Platform, SendTarget } from './model.ts';
import type { PushProvider } from './providers/provider.ts';
import { parseTagExpression } from './tags.ts';

const MAX_PROPERTIES_BYTES = 64 * 1024;

function invalid(field: string, message: string): PushError {
  return new PushError(PushErrorCode.InvalidNotification, message, { status: 400, detail: { field } });
}

function checkHeaders(headers: unknown): Record<string, string> | undefined {
  if (headers === undefined || headers === null) return undefined;
  if (typeof headers !== 'object' || Array.isArray(headers)) throw invalid('headers', 'headers must be an object.');
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') throw invalid('headers', `header '${name}' must be a string.`);
  }
  return { ...(headers as Record<string, string>) };
}

/** A copy of the notification, checked; a native body over its provider's limit is PUSH_PAYLOAD_TOO_LARGE. */
export function checkNotification(value: unknown, providers: ReadonlyMap<Platform, PushProvider>): Notification {
  if (value === null || typeof value !== 'object') throw invalid('notification', 'A notification must be an object.');
  const n = value as Record<string, unknown>;
  const headers = checkHeaders(n.headers);
  const extra = headers === undefined ? {} : { headers };
  if (n.format === 'template') {
    const properties = n.properties;
    if (properties === null || typeof properties !== 'object' || Array.isArray(properties)) {
      throw invalid('properties', 'A template notification needs a properties object.');
    }
    for (const [name, v] of Object.entries(properties)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        throw invalid('properties', `Property '${name}' must be a string, number or boolean.`);
      }
    }
    if (Buffer.byteLength(JSON.stringify(properties)) > MAX_PROPERTIES_BYTES) {
      throw invalid('properties', `Template properties must stay under ${MAX_PROPERTIES_BYTES} bytes of JSON.`);
    }
    return { format: 'template', properties: { ...(properties as Record<string, string>) }, ...extra };
  }
  const format = platformOf(n.format);
  const provider = providerFor(providers, format);
  if (typeof n.body !== 'string') throw invalid('body', 'A native notification needs a string body.');
  const size = Buffer.byteLength(n.body);
  if (size > provider.maxPayloadBytes) {
    throw new PushError(
      PushErrorCode.PayloadTooLarge,
      `The ${format} payload is ${size} bytes, over the platform's limit of ${provider.maxPayloadBytes}.`,
      { status: 413, detail: { limit: provider.maxPayloadBytes, size, platform: format } },
    );
  }
  return { format, body: n.body, ...extra };
}

/** A copy of the target, checked against the notification. */
export function checkTarget(
  value: unknown,
  notification: Notification,
  providers: ReadonlyMap<Platform, PushProvider>,
): SendTarget {
  if (value === null || typeof value !== 'object') throw invalid('target', 'A target must be an object.');
  const t = value as Record<string, unknown>;
  switch (t.kind) {
    case 'broadcast':
      return { kind: 'broadcast' };
    case 'tags':
      parseTagExpression(t.expression);
      return { kind: 'tags', expression: t.expression as string };
    case 'installation':
      return { kind: 'installation', installationId: validateId(t.installationId, 'installationId') };
    case 'handle': {
      if (notification.format === 'template') {
        throw invalid('target', 'A direct send takes a native notification, not a template one.');
      }
      const platform = platformOf(t.platform);
      if (platform !== notification.format) {
        throw invalid('target', `The handle is a ${platform} channel but the notification is ${notification.format}.`);
      }
      return { kind: 'handle', platform, channel: normalizeChannel(providerFor(providers, platform), t.channel) };
    }
    default:
      throw invalid('target', `Unknown target kind '${String(t.kind)}' (broadcast, tags, installation, handle).`);
  }
}

/** How the outcome names the target: `broadcast`, the expression, `$InstallationId:{id}`, or `direct`. */
export function describeTarget(target: SendTarget): string {
  switch (target.kind) {
    case 'broadcast':
      return 'broadcast';
    case 'tags':
      return target.expression;
    case 'installation':
      return `$InstallationId:{${target.installationId}}`;
    case 'handle':
      return 'direct';
  }
}
