/**
 * The Service Bus binding types: the `serviceBusTrigger` (a queue, or a topic subscription) and the
 * `serviceBus` output, with the connection each names.
 * @module
 */
import type { BindingScope, BindingType } from '../../bindings.ts';
import { requireString } from '../../bindings.ts';
import type { ResolvePort } from '../../connections.ts';
import type { RpcBindingInfo } from '../../core-types.ts';
import { FunctionsError } from '../../errors.ts';
import { connectionValue, type Settings } from '../../settings.ts';
import type { BusOutgoingMessage, BusPort, BusSource } from './port.ts';

export const DEFAULT_BUS_SETTING = 'AzureWebJobsServiceBus';

export function busSettingOf(binding: Readonly<RpcBindingInfo>): string {
  const v = binding.connection;
  return typeof v === 'string' && v !== '' ? v : DEFAULT_BUS_SETTING;
}

export function sourceOf(binding: Readonly<RpcBindingInfo>, scope: BindingScope): BusSource {
  if (typeof binding.queueName === 'string' && binding.queueName !== '') return { queue: binding.queueName };
  return {
    topic: requireString(binding, scope, 'topicName'),
    subscription: requireString(binding, scope, 'subscriptionName'),
  };
}

export function serviceBusTriggerBinding(settings: Settings): BindingType {
  return {
    type: 'serviceBusTrigger',
    direction: 'trigger',
    validate(binding, scope) {
      sourceOf(binding, scope);
      connectionValue(settings, busSettingOf(binding), scope);
      if (binding.autoCompleteMessages === false || binding.sdkBinding === true) {
        throw new FunctionsError(
          'FUNCTIONS_UNSUPPORTED',
          `Function "${scope.functionName}": settling messages from function code (autoCompleteMessages: false, sdkBinding) is not supported; the host completes on success and abandons on failure.`,
          { detail: { function: scope.functionName, binding: scope.binding } },
        );
      }
    },
  };
}

export function serviceBusOutputBinding(settings: Settings, bus: ResolvePort<BusPort>): BindingType {
  return {
    type: 'serviceBus',
    direction: 'out',
    validate(binding, scope) {
      if (!(typeof binding.queueName === 'string' && binding.queueName !== ''))
        requireString(binding, scope, 'topicName');
      connectionValue(settings, busSettingOf(binding), scope);
    },
    async write(binding, scope, value) {
      const entity = String(binding.queueName || binding.topicName);
      const port = await bus(busSettingOf(binding), scope);
      const items = Array.isArray(value) ? value : [value];
      const messages = items.map((body): BusOutgoingMessage => {
        if (typeof body === 'string') return { body, contentType: 'text/plain' };
        if (Buffer.isBuffer(body)) return { body: new Uint8Array(body) };
        return { body, contentType: 'application/json' };
      });
      if (messages.length > 0) await port.send(entity, messages);
    },
  };
}
