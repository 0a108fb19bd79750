/**
 * SignalR bindings as the Azure Functions SignalR extension defines them: the `signalRConnectionInfo`
 * input (`{ url, accessToken }` for a hub and optional user id) and the `signalR` output (messages
 * to all, a user, a group or a connection, and group actions), on a {@link SignalRTarget}.
 * @module
 */
import { resolveExpressions } from '../../binding-expressions.ts';
import type { BindingScope, BindingServices, BindingType, InvocationData } from '../../bindings.ts';
import type { ResolvePort } from '../../connections.ts';
import type { RpcBindingInfo } from '../../core-types.ts';
import { FunctionsError } from '../../errors.ts';
import { connectionValue } from '../../settings.ts';
import { PreparedOutput } from '../../typed-data.ts';
import type { EncodedSignalRMessage, SignalRGroupAction, SignalRMessage, SignalRTarget } from './port.ts';

export const DEFAULT_SIGNALR_SETTING = 'AzureSignalRConnectionString';

function settingOf(binding: Readonly<RpcBindingInfo>): string {
  const v = binding.connectionStringSetting ?? binding.connection;
  return typeof v === 'string' && v !== '' ? v : DEFAULT_SIGNALR_SETTING;
}

function hubOf(binding: Readonly<RpcBindingInfo>, scope: BindingScope): string {
  const hub = binding.hubName;
  if (typeof hub !== 'string' || hub.trim() === '') {
    throw new FunctionsError(
      'FUNCTIONS_INVALID_BINDING',
      `Function "${scope.functionName}", binding "${scope.binding}" needs a "hubName".`,
      {
        detail: { function: scope.functionName, binding: scope.binding, property: 'hubName' },
      },
    );
  }
  return hub;
}

function badValue(scope: BindingScope, why: string): FunctionsError {
  return new FunctionsError(
    'FUNCTIONS_INVALID_BINDING',
    `Function "${scope.functionName}", binding "${scope.binding}": ${why}`,
    {
      detail: { function: scope.functionName, binding: scope.binding },
    },
  );
}

const optionalString = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

/** Claims of the binding's `idToken` (a JWT, `Bearer ` optional) whose types are in `claimTypeList`. */
function tokenClaims(
  binding: Readonly<RpcBindingInfo>,
  scope: BindingScope,
  data: InvocationData,
  env: Parameters<typeof resolveExpressions>[2],
): Record<string, unknown> | undefined {
  const raw = optionalString(binding.idToken);
  if (raw === undefined) return undefined;
  const token = resolveExpressions(raw, data.expressions, env)
    .replace(/^Bearer\s+/i, '')
    .trim();
  if (token === '') return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    payload = undefined;
  }
  if (typeof payload !== 'object' || payload === null) throw badValue(scope, 'idToken is not a JWT.');
  const types = Array.isArray(binding.claimTypeList) ? binding.claimTypeList.map(String) : [];
  return Object.fromEntries(Object.entries(payload).filter(([type]) => types.includes(type)));
}

export function createSignalRBindings(services: BindingServices, resolve: ResolvePort<SignalRTarget>): BindingType[] {
  const validate = (binding: Readonly<RpcBindingInfo>, scope: BindingScope) => {
    hubOf(binding, scope);
    connectionValue(services.settings, settingOf(binding), scope);
  };
  const env = (scope: BindingScope) => ({ ...scope, now: () => services.clock.now(), ids: services.ids });
  /** The hub name, its `{expressions}` resolved (most names have none: no work for them). */
  const hubName = (binding: Readonly<RpcBindingInfo>, scope: BindingScope, data: InvocationData) => {
    const hub = hubOf(binding, scope);
    return hub.includes('{') ? resolveExpressions(hub, data.expressions, env(scope)) : hub;
  };

  const input: BindingType = {
    type: 'signalRConnectionInfo',
    direction: 'in',
    validate,
    async read(binding, scope, data: InvocationData) {
      const hub = hubName(binding, scope, data);
      const rawUser = optionalString(binding.userId);
      const userId = rawUser === undefined ? undefined : resolveExpressions(rawUser, data.expressions, env(scope));
      const claims = tokenClaims(binding, scope, data, env(scope));
      const target = await resolve(settingOf(binding), scope);
      const info = await target.connectionInfo(hub, {
        ...(userId ? { userId } : {}),
        ...(claims === undefined ? {} : { claims }),
      });
      return { url: info.url, accessToken: info.accessToken };
    },
  };

  const output: BindingType = {
    type: 'signalR',
    direction: 'out',
    validate,
    async write(binding, scope, value, data: InvocationData) {
      const hub = hubName(binding, scope, data);
      const target = await resolve(settingOf(binding), scope);
      // Checked and encoded on the invocation's worker thread (see prepareSignalROutput).
      if (value instanceof PreparedOutput) return deliverPrepared(target, hub, value.value as PreparedSignalROutput);
      if (!Array.isArray(value)) return deliver(target, hub, scope, value);
      for (const item of value) await deliver(target, hub, scope, item);
    },
  };
  return [input, output];
}

const groupActions = { add: 'add', remove: 'remove', removeall: 'removeAll' } as const;

/** One output item, checked: a message to send or a group action. */
type CheckedItem = { readonly message: SignalRMessage } | { readonly action: SignalRGroupAction };

/** Checks one output item (a SignalR message or group action object); a bad one throws FUNCTIONS_INVALID_BINDING. */
function checkItem(scope: BindingScope, item: unknown): CheckedItem {
  if (typeof item !== 'object' || item === null)
    throw badValue(scope, 'each value must be a SignalR message or group action object.');
  const o = item as Record<string, unknown>;
  // Built key by key, not by spreads: fewer objects per message on the hot path.
  const routing: { connectionId?: string; userId?: string; groupName?: string } = {};
  if (optionalString(o.connectionId)) routing.connectionId = o.connectionId as string;
  if (optionalString(o.userId)) routing.userId = o.userId as string;
  if (optionalString(o.groupName)) routing.groupName = o.groupName as string;
  if (o.action !== undefined) {
    const kind = groupActions[String(o.action).toLowerCase() as keyof typeof groupActions];
    if (kind === undefined)
      throw badValue(scope, `group action "${String(o.action)}" is not add, remove or removeAll.`);
    if (kind !== 'removeAll' && routing.groupName === undefined)
      throw badValue(scope, 'a group action needs a groupName.');
    if (routing.connectionId === undefined && routing.userId === undefined) {
      throw badValue(scope, 'a group action needs a userId or a connectionId.');
    }
    return { action: { action: kind, ...routing } };
  }
  if (typeof o.target !== 'string' || o.target === '') throw badValue(scope, 'a SignalR message needs a "target".');
  const args = o.arguments === undefined ? [] : o.arguments;
  if (!Array.isArray(args)) throw badValue(scope, 'a SignalR message "arguments" must be an array.');
  const message: SignalRMessage = { target: o.target, arguments: args };
  if (routing.connectionId !== undefined) message.connectionId = routing.connectionId;
  if (routing.userId !== undefined) message.userId = routing.userId;
  if (routing.groupName !== undefined) message.groupName = routing.groupName;
  return { message };
}

/**
 * Sends one message or applies one group action. Not async: the target's promise is the answer (no
 * frame per item); a bad value throws, which the binding's async `write` turns into its rejection.
 */
function deliver(target: SignalRTarget, hub: string, scope: BindingScope, item: unknown): Promise<void> {
  const checked = checkItem(scope, item);
  return 'message' in checked ? target.send(hub, checked.message) : target.groupAction(hub, checked.action);
}

/**
 * A `signalR` output's items checked and each message encoded once, where the function ran (an
 * invocation worker thread): the host's thread neither parses the output nor encodes it again.
 */
export interface PreparedSignalROutput {
  readonly items: readonly (EncodedSignalRMessage | { readonly action: SignalRGroupAction })[];
}

/**
 * The `signalR` output `value` (as the library's output conversion made it) prepared for the host, or
 * undefined when an item is not valid — the host's binding then checks it and fails the invocation
 * as it does without preparation.
 */
export function prepareSignalROutput(value: unknown, scope: BindingScope): PreparedSignalROutput | undefined {
  const items: PreparedSignalROutput['items'][number][] = [];
  try {
    for (const item of Array.isArray(value) ? value : [value]) {
      const checked = checkItem(scope, item);
      if ('action' in checked) {
        items.push(checked);
        continue;
      }
      const m = checked.message;
      // The JSON text protocol's record of the invocation, key order included.
      const encoded: EncodedSignalRMessage = {
        target: m.target,
        json: JSON.stringify({ type: 1, target: m.target, arguments: m.arguments }),
      };
      if (m.connectionId !== undefined) encoded.connectionId = m.connectionId;
      if (m.userId !== undefined) encoded.userId = m.userId;
      if (m.groupName !== undefined) encoded.groupName = m.groupName;
      items.push(encoded);
    }
  } catch {
    return undefined;
  }
  return { items };
}

/** Sends a prepared message: as it is to a target that takes encoded messages, decoded otherwise. */
function deliverEncoded(target: SignalRTarget, hub: string, m: EncodedSignalRMessage): Promise<void> {
  if (target.sendEncoded !== undefined) return target.sendEncoded(hub, m);
  const message: SignalRMessage = {
    target: m.target,
    arguments: (JSON.parse(m.json) as { arguments: unknown[] }).arguments,
  };
  if (m.connectionId !== undefined) message.connectionId = m.connectionId;
  if (m.userId !== undefined) message.userId = m.userId;
  if (m.groupName !== undefined) message.groupName = m.groupName;
  return target.send(hub, message);
}

const deliverItem = (target: SignalRTarget, hub: string, item: PreparedSignalROutput['items'][number]) =>
  'action' in item ? target.groupAction(hub, item.action) : deliverEncoded(target, hub, item);

/** Each item in turn, as `write` delivers unprepared ones. */
async function deliverPrepared(target: SignalRTarget, hub: string, prepared: PreparedSignalROutput): Promise<void> {
  const items = prepared.items;
  for (let i = 0; i < items.length; i++) await deliverItem(target, hub, items[i]!);
}
