/**
 * The `notificationHub` output of Azure Functions' Notification Hubs extension: each value set on it
 * is one send to hub `hubName` (default: the setting `AzureWebJobsNotificationHubName`) through the
 * connection setting `connection` (default `NotificationHubsConnectionString`, then
 * `AzureWebJobsNotificationHubsConnectionString`), to the installations `tagExpression` matches
 * (all of them when it is empty). Without `platform` the value is a template notification: an
 * object of property values, or its JSON text. With `platform` (`browser`, `fcmv1`, `apns` — also
 * `apple` and `fcm`) it is a native payload: text sent as it is, an object as its JSON.
 *
 * `tagExpression` may hold binding expressions (`$UserId:{{{customerId}}}`); a value they put in
 * must be a plain run of tag characters, so a message's content can never widen the audience.
 * Each send carries an idempotency key — the `idempotencyKey` property (binding expressions
 * allowed) or else the trigger's `{MessageId}` — so a redelivered message sends nothing twice.
 * @module
 */
import { resolveExpressions } from '../../binding-expressions.ts';
import type { BindingScope, BindingServices, BindingType, InvocationData } from '../../bindings.ts';
import type { ResolvePort } from '../../connections.ts';
import type { RpcBindingInfo } from '../../core-types.ts';
import { FunctionsError } from '../../errors.ts';
import { connectionValue } from '../../settings.ts';
import type { PushNotification, PushPlatform, PushPort, PushTarget } from './port.ts';

export const DEFAULT_NOTIFICATION_HUB_SETTING = 'NotificationHubsConnectionString';
export const NOTIFICATION_HUB_NAME_SETTING = 'AzureWebJobsNotificationHubName';

type Info = Readonly<RpcBindingInfo>;

const PLATFORMS: Readonly<Record<string, PushPlatform>> = {
  browser: 'browser',
  fcmv1: 'fcmv1',
  fcm: 'fcmv1',
  apns: 'apns',
  apple: 'apns',
};
/** Platforms of the Azure extension that Hubbub's push service has no provider for. */
const RETIRED = new Set(['gcm', 'adm', 'wns', 'mpns', 'baidu']);
/** What a binding expression may put into a tag expression: tag characters only (no operator, space or brace). */
const TAG_VALUE = /^[A-Za-z0-9_@#.:-]{1,256}$/;

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

function invalid(scope: BindingScope, property: string, why: string): FunctionsError {
  return new FunctionsError(
    'FUNCTIONS_INVALID_BINDING',
    `Function "${scope.functionName}", binding "${scope.binding}": ${property} ${why}`,
    { detail: { function: scope.functionName, binding: scope.binding, property } },
  );
}

export const settingOf = (binding: Info): string =>
  text(binding.connection) ?? text(binding.connectionStringSetting) ?? DEFAULT_NOTIFICATION_HUB_SETTING;

/** The native platform, or undefined for a template send. */
export function platformOf(binding: Info, scope: BindingScope): PushPlatform | undefined {
  const raw = text(binding.platform)?.toLowerCase();
  if (raw === undefined) return undefined;
  const platform = PLATFORMS[raw];
  if (platform !== undefined) return platform;
  if (RETIRED.has(raw)) {
    throw new FunctionsError(
      'FUNCTIONS_UNSUPPORTED',
      `Function "${scope.functionName}", binding "${scope.binding}": platform "${raw}" is not served by Hubbub's push service; use browser, fcmv1 or apns, or a template send (no platform).`,
      { detail: { function: scope.functionName, binding: scope.binding, property: 'platform' } },
    );
  }
  throw invalid(scope, 'platform', `must be browser, fcmv1 or apns (or absent for a template send), got '${raw}'.`);
}

/** One value set on the output, as the push service's notification. */
export function notificationOf(
  value: unknown,
  platform: PushPlatform | undefined,
  scope: BindingScope,
  where: string,
): PushNotification {
  if (platform !== undefined) {
    if (typeof value === 'string') return { format: platform, body: value };
    if (typeof value === 'object' && value !== null && !Buffer.isBuffer(value))
      return { format: platform, body: JSON.stringify(value) };
    throw invalid(scope, where, `must be the ${platform} payload (text, or an object sent as JSON).`);
  }
  let properties: unknown = value;
  if (typeof value === 'string') {
    try {
      properties = JSON.parse(value);
    } catch {
      throw invalid(scope, where, 'must be an object of template properties, or its JSON text.');
    }
  }
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties) || Buffer.isBuffer(properties))
    throw invalid(scope, where, 'must be an object of template properties, or its JSON text.');
  const out: Record<string, string | number | boolean> = {};
  for (const [name, v] of Object.entries(properties)) {
    if (v === null || v === undefined) continue;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
      throw invalid(scope, `${where}.${name}`, 'must be a string, number or boolean (template properties are flat).');
    out[name] = v;
  }
  return { format: 'template', properties: out };
}

export function notificationHubBinding(services: BindingServices, push: ResolvePort<PushPort>): BindingType {
  const env = (scope: BindingScope) => ({ ...scope, now: () => services.clock.now(), ids: services.ids });
  const hubOf = (binding: Info, scope: BindingScope): string => {
    const hub = text(binding.hubName) ?? text(services.settings[NOTIFICATION_HUB_NAME_SETTING]);
    if (hub === undefined)
      throw invalid(scope, 'hubName', `is required (or the ${NOTIFICATION_HUB_NAME_SETTING} setting).`);
    return hub;
  };

  function targetOf(binding: Info, scope: BindingScope, data: InvocationData): PushTarget {
    const template = text(binding.tagExpression);
    if (template === undefined) return { kind: 'broadcast' };
    const expression = template.includes('{')
      ? resolveExpressions(template, data.expressions, env(scope), (value, expr) => {
          if (!TAG_VALUE.test(value)) {
            throw invalid(
              scope,
              'tagExpression',
              `cannot take {${expr}} = '${value.slice(0, 64)}': a value put into a tag expression must be 1-256 letters, digits or _@#.:- characters.`,
            );
          }
        })
      : template;
    return { kind: 'tags', expression };
  }

  function keyOf(binding: Info, scope: BindingScope, data: InvocationData): string | undefined {
    const given = text(binding.idempotencyKey);
    if (given !== undefined) return resolveExpressions(given, data.expressions, env(scope));
    const messageId = data.expressions.values?.MessageId;
    return typeof messageId === 'string' && messageId !== ''
      ? `functions/${scope.functionName}/${scope.binding}/${messageId}`
      : undefined;
  }

  return {
    type: 'notificationHub',
    direction: 'out',
    validate(binding, scope) {
      hubOf(binding, scope);
      platformOf(binding, scope);
      connectionValue(services.settings, settingOf(binding), scope);
    },
    async write(binding, scope, value, data) {
      if (value === undefined || value === null) return;
      const platform = platformOf(binding, scope);
      const values = Array.isArray(value) ? value : [value];
      const notifications = values.map((v, i) =>
        notificationOf(v, platform, scope, Array.isArray(value) ? `value[${i}]` : 'value'),
      );
      if (notifications.length === 0) return;
      const hub = hubOf(binding, scope);
      const target = targetOf(binding, scope, data);
      const key = keyOf(binding, scope, data);
      const port = await push(settingOf(binding), scope);
      for (const [i, notification] of notifications.entries()) {
        const idempotencyKey = key === undefined ? undefined : notifications.length === 1 ? key : `${key}/${i}`;
        await port.send(hub, notification, target, idempotencyKey === undefined ? {} : { idempotencyKey });
      }
    },
  };
}
