/**
 * Service Bus bindings on Hubbub's bus: the `serviceBusTrigger` (queue, or topic subscription) with
 * peek-lock settlement, and the `serviceBus` output. The bus is reached through {@link FunctionsBus},
 * a small port that `@hubbub/bus` is adapted to.
 * @module
 */
import type { BindingScope, BindingServices, BindingType } from './bindings.ts';
import { requireString } from './bindings.ts';
import type { RpcBindingInfo, RpcTypedData } from './core-types.ts';
import { FunctionsError } from './errors.ts';
import { connectionValue } from './settings.ts';

/** A peek-locked message as a trigger receives it; settlement lives on the message. */
export interface BusReceivedMessage {
  readonly body: unknown;
  /**
   * Optional: the body as stored and how it was sent (`@hubbub/bus` messages have both), so a JSON
   * or text body reaches the function without a parse and a re-serialisation.
   */
  readonly bodyBytes?: Uint8Array;
  readonly bodyType?: 'bytes' | 'string' | 'json';
  readonly messageId?: string | undefined;
  readonly correlationId?: string | undefined;
  readonly subject?: string | undefined;
  readonly contentType?: string | undefined;
  readonly to?: string | undefined;
  readonly replyTo?: string | undefined;
  readonly replyToSessionId?: string | undefined;
  readonly sessionId?: string | undefined;
  readonly partitionKey?: string | undefined;
  readonly timeToLive?: number | undefined;
  readonly applicationProperties?: Readonly<Record<string, unknown>> | undefined;
  readonly sequenceNumber: bigint | number;
  readonly enqueuedTime: Date;
  readonly expiresAt?: Date | undefined;
  /** Earlier delivery attempts, as `@azure/service-bus` counts them (0 on the first delivery). */
  readonly deliveryCount: number;
  readonly lockToken?: string | undefined;
  readonly lockedUntil?: Date | undefined;
  readonly deadLetterSource?: string | undefined;
  complete(): Promise<void>;
  abandon(): Promise<void>;
  /** Extends the lock; the host renews while a function runs (up to maxAutoLockRenewalDuration). */
  renewLock?(): Promise<Date>;
}

/** A message an output binding sends. */
export interface BusOutgoingMessage {
  body: unknown;
  contentType?: string;
}

export type BusSource = { readonly queue: string } | { readonly topic: string; readonly subscription: string };

export interface BusReceiveOptions {
  /** Receive from sessions: one session's messages in order, by one consumer at a time. */
  readonly sessions: boolean;
  /** Ends the iteration. */
  readonly signal: AbortSignal;
}

/** The port Service Bus bindings talk to. */
export interface FunctionsBus {
  /** Sends to a queue or topic. */
  send(entity: string, messages: readonly BusOutgoingMessage[]): Promise<void>;
  /** Peek-locked messages from a queue or subscription until `signal` aborts. */
  receive(source: BusSource, options: BusReceiveOptions): AsyncIterable<BusReceivedMessage>;
  /**
   * Optional, for `cardinality: 'many'`: batches of up to `maxMessages` peek-locked messages, each
   * batch what is available once the first message arrived. Without it batches hold one message.
   */
  receiveBatches?(
    source: BusSource,
    options: BusReceiveOptions & { readonly maxMessages: number },
  ): AsyncIterable<readonly BusReceivedMessage[]>;
}

/** Picks the bus for a connection setting (`{ name, value }`, e.g. ServiceBusConnection = memory://). */
export type BusResolver = (connection: { name: string; value: string }) => FunctionsBus | Promise<FunctionsBus>;

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

const bigintAsNumber = (_: string, v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : v);

/** JSON typed data; bigints become numbers (a replacer only when one is there: it slows every key). */
function json(value: unknown): RpcTypedData {
  try {
    return { json: JSON.stringify(value) };
  } catch {
    return { json: JSON.stringify(value, bigintAsNumber) };
  }
}

/** The message body as the Azure extension hands it to Node: text (JSON-parsed by the library) or bytes. */
export function bodyData(message: BusReceivedMessage, binary: boolean): RpcTypedData {
  const stored = message.bodyBytes;
  if (stored !== undefined && !binary && (message.bodyType === 'json' || message.bodyType === 'string')) {
    const text = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).toString('utf8');
    if (message.bodyType === 'string') return { string: text };
    return text === '' ? { string: '' } : { json: text }; // the JSON text as sent
  }
  const body = message.body;
  if (body instanceof Uint8Array) {
    if (binary) return { bytes: body };
    try {
      return { string: new TextDecoder('utf-8', { fatal: true }).decode(body) };
    } catch {
      return { bytes: body };
    }
  }
  if (typeof body === 'string') return binary ? { bytes: Buffer.from(body) } : { string: body };
  if (body === undefined || body === null) return { string: '' };
  return json(body);
}

function setDefined(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined) target[key] = value;
}

/** Trigger metadata with the Azure extension's key names (the library camel-cases them). */
export function triggerMetadataOf(message: BusReceivedMessage): Record<string, unknown> {
  // Only the keys with a value, added one by one: deleting keys would turn the object into a slow dictionary.
  const meta: Record<string, unknown> = {};
  setDefined(meta, 'MessageId', message.messageId);
  setDefined(meta, 'CorrelationId', message.correlationId);
  setDefined(meta, 'ContentType', message.contentType);
  setDefined(meta, 'Label', message.subject);
  setDefined(meta, 'Subject', message.subject);
  setDefined(meta, 'To', message.to);
  setDefined(meta, 'ReplyTo', message.replyTo);
  setDefined(meta, 'ReplyToSessionId', message.replyToSessionId);
  setDefined(meta, 'SessionId', message.sessionId);
  setDefined(meta, 'PartitionKey', message.partitionKey);
  // The Functions host (the .NET SDK) counts this delivery too: 1 on the first delivery.
  meta.DeliveryCount = message.deliveryCount + 1;
  meta.SequenceNumber = Number(message.sequenceNumber);
  meta.EnqueuedTimeUtc = message.enqueuedTime.toISOString();
  setDefined(meta, 'ExpiresAtUtc', message.expiresAt?.toISOString());
  setDefined(meta, 'LockedUntilUtc', message.lockedUntil?.toISOString());
  setDefined(meta, 'LockToken', message.lockToken);
  setDefined(meta, 'DeadLetterSource', message.deadLetterSource);
  meta.ApplicationProperties = { ...(message.applicationProperties ?? {}) };
  meta.UserProperties = { ...(message.applicationProperties ?? {}) };
  return meta;
}

export function toRpcMetadata(meta: Record<string, unknown>): Record<string, RpcTypedData> {
  const out: Record<string, RpcTypedData> = {};
  // Strings travel as JSON so the library gives back exactly the string (a message id "123" stays a string).
  for (const key in meta) {
    const value = meta[key];
    out[key] = typeof value === 'number' ? { int: value } : json(value);
  }
  return out;
}

export function createServiceBusBindings(
  services: BindingServices,
  resolve: (setting: string, scope: BindingScope) => Promise<FunctionsBus>,
): BindingType[] {
  const validateConnection = (binding: Readonly<RpcBindingInfo>, scope: BindingScope) =>
    connectionValue(services.settings, busSettingOf(binding), scope);

  const trigger: BindingType = {
    type: 'serviceBusTrigger',
    direction: 'trigger',
    validate(binding, scope) {
      sourceOf(binding, scope);
      validateConnection(binding, scope);
      if (binding.autoCompleteMessages === false || binding.sdkBinding === true) {
        throw new FunctionsError(
          'FUNCTIONS_UNSUPPORTED',
          `Function "${scope.functionName}": settling messages from function code (autoCompleteMessages: false, sdkBinding) is not supported; the host completes on success and abandons on failure.`,
          { detail: { function: scope.functionName, binding: scope.binding } },
        );
      }
    },
  };

  const output: BindingType = {
    type: 'serviceBus',
    direction: 'out',
    validate(binding, scope) {
      if (!(typeof binding.queueName === 'string' && binding.queueName !== ''))
        requireString(binding, scope, 'topicName');
      validateConnection(binding, scope);
    },
    async write(binding, scope, value) {
      const entity = String(binding.queueName || binding.topicName);
      const bus = await resolve(busSettingOf(binding), scope);
      const items = Array.isArray(value) ? value : [value];
      const messages = items.map((body): BusOutgoingMessage => {
        if (typeof body === 'string') return { body, contentType: 'text/plain' };
        if (Buffer.isBuffer(body)) return { body: new Uint8Array(body) };
        return { body, contentType: 'application/json' };
      });
      if (messages.length > 0) await bus.send(entity, messages);
    },
  };
  return [trigger, output];
}
