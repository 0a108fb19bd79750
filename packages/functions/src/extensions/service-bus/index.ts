/**
 * The Service Bus extension: the `serviceBusTrigger` and the `serviceBus` output, on whatever bus
 * the composition root passes in as a {@link BusPort} (or makes per connection setting).
 * @module
 */
import { portResolver } from '../../connections.ts';
import { FunctionsError } from '../../errors.ts';
import type { Extension } from '../../extension.ts';
import { positiveInteger, timeSpanMs } from '../../host-config.ts';
import { serviceBusOutputBinding } from './bindings.ts';
import type { BusPort, BusResolver } from './port.ts';
import { type ServiceBusConfig, serviceBusTrigger } from './trigger.ts';

export interface ServiceBusExtensionOptions {
  /** The bus, or a resolver per connection setting. @default none (the bindings are FUNCTIONS_BINDING_UNAVAILABLE) */
  readonly bus?: BusPort | BusResolver | undefined;
}

export function serviceBusExtension(options: ServiceBusExtensionOptions = {}): Extension {
  return {
    name: 'serviceBus',
    setup(context) {
      const config = readConfig(context.config);
      const bus = portResolver(options.bus, context.settings, 'bus');
      return {
        bindings: [serviceBusOutputBinding(context.settings, bus)],
        trigger: serviceBusTrigger(context, config, bus),
      };
    },
  };
}

type Section = Readonly<Record<string, unknown>>;
const section = (value: unknown): Section => (typeof value === 'object' && value !== null ? (value as Section) : {});

/** host.json `extensions.serviceBus` (the v5 names, and the v4 `…HandlerOptions` ones). */
function readConfig(config: Section): ServiceBusConfig {
  const field = (name: string) => `extensions.serviceBus.${name}`;
  return {
    maxConcurrentCalls: positiveInteger(
      config.maxConcurrentCalls ?? section(config.messageHandlerOptions).maxConcurrentCalls,
      16,
      field('maxConcurrentCalls'),
    ),
    maxConcurrentSessions: positiveInteger(
      config.maxConcurrentSessions ?? section(config.sessionHandlerOptions).maxConcurrentSessions,
      8,
      field('maxConcurrentSessions'),
    ),
    maxMessageBatchSize: positiveInteger(config.maxMessageBatchSize, 1000, field('maxMessageBatchSize')),
    maxAutoLockRenewalMs: timeSpanMs(config.maxAutoLockRenewalDuration, 300_000, field('maxAutoLockRenewalDuration')),
    prefetchCount: prefetchCount(config.prefetchCount ?? section(config.messageHandlerOptions).prefetchCount),
  };
}

/** host.json `prefetchCount`: 0 (the default, as Azure's) to 10,000. */
function prefetchCount(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 10_000) {
    throw new FunctionsError(
      'FUNCTIONS_INVALID_SETTING',
      'host.json extensions.serviceBus.prefetchCount must be an integer in 0…10000.',
      {
        detail: { field: 'extensions.serviceBus.prefetchCount' },
      },
    );
  }
  return value;
}
