/**
 * The `signalRTrigger` binding type as the Azure Functions SignalR extension defines it: `hubName`,
 * `category` (`connections` or `messages`), `event` (`connected` / `disconnected`, or the target a
 * client invokes), `parameterNames` (names given to the invocation's arguments) and
 * `connectionStringSetting`, whose `AccessKey` checks the upstream's signatures.
 * @module
 */
import type { BindingScope, BindingServices, BindingType } from '../../bindings.ts';
import type { RpcBindingInfo } from '../../core-types.ts';
import { FunctionsError } from '../../errors.ts';
import { connectionValue, parseConnectionString } from '../../settings.ts';

export const DEFAULT_SIGNALR_SETTING = 'AzureSignalRConnectionString';

export type Category = 'connections' | 'messages';

/** A signalRTrigger binding, checked. */
export interface SignalRTriggerSpec {
  /** Lower-cased, as the upstream compares it. */
  readonly hub: string;
  readonly category: Category;
  /** Lower-cased. */
  readonly event: string;
  readonly parameterNames: readonly string[];
  /** The access keys of its connection setting (an upstream request must be signed with one). */
  readonly keys: readonly string[];
}

function invalid(scope: BindingScope, property: string, why: string): FunctionsError {
  return new FunctionsError(
    'FUNCTIONS_INVALID_BINDING',
    `Function "${scope.functionName}", binding "${scope.binding}" (signalRTrigger): ${why}`,
    { detail: { function: scope.functionName, binding: scope.binding, property } },
  );
}

function text(binding: Readonly<RpcBindingInfo>, scope: BindingScope, property: string): string {
  const value = binding[property];
  if (typeof value !== 'string' || value.trim() === '') throw invalid(scope, property, `needs a "${property}".`);
  return value.trim();
}

/** Reads and checks a signalRTrigger binding; throws FUNCTIONS_INVALID_BINDING / _SETTING naming what is wrong. */
export function triggerSpec(
  binding: Readonly<RpcBindingInfo>,
  scope: BindingScope,
  services: Pick<BindingServices, 'settings'>,
): SignalRTriggerSpec {
  const hub = text(binding, scope, 'hubName').toLowerCase();
  const category = text(binding, scope, 'category').toLowerCase();
  if (category !== 'connections' && category !== 'messages') {
    throw invalid(scope, 'category', `"category" must be connections or messages, got "${binding.category}".`);
  }
  const event = text(binding, scope, 'event').toLowerCase();
  if (category === 'connections' && event !== 'connected' && event !== 'disconnected') {
    throw invalid(
      scope,
      'event',
      `a connections trigger's "event" is connected or disconnected, got "${binding.event}".`,
    );
  }
  const names = binding.parameterNames ?? [];
  if (!Array.isArray(names) || names.some((n) => typeof n !== 'string' || n === '')) {
    throw invalid(scope, 'parameterNames', '"parameterNames" must be a list of names.');
  }
  const setting =
    typeof binding.connectionStringSetting === 'string' && binding.connectionStringSetting !== ''
      ? binding.connectionStringSetting
      : DEFAULT_SIGNALR_SETTING;
  const key = parseConnectionString(connectionValue(services.settings, setting, scope)).accesskey;
  if (key === undefined || key === '') {
    throw new FunctionsError(
      'FUNCTIONS_INVALID_SETTING',
      `Function "${scope.functionName}": connection setting "${setting}" has no AccessKey, which signs the upstream requests a signalRTrigger takes.`,
      { detail: { function: scope.functionName, binding: scope.binding, setting } },
    );
  }
  return { hub, category, event, parameterNames: names as string[], keys: [key] };
}

export function signalRTriggerBinding(services: Pick<BindingServices, 'settings'>): BindingType {
  return {
    type: 'signalRTrigger',
    direction: 'trigger',
    validate(binding, scope) {
      triggerSpec(binding, scope, services);
    },
  };
}
