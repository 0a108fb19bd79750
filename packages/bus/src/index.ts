/**
 * @hubbub/bus — Azure Service Bus semantics (queues, topics, subscriptions, rules, sessions,
 * peek-lock, dead-lettering, deferral, scheduling, duplicate detection, auto-forwarding) on an
 * embedded durable engine. Start with {@link createBus}.
 * @module
 */
export {
  Broker,
  type BrokerOptions,
  type BusEvents,
  type Delivery,
  type ReceiveMode,
  type ReceiveOptions,
  type SessionLock,
  type Visibility,
} from './broker/local-broker.ts';
export {
  type AcceptSessionOptions,
  Bus,
  BusAdmin,
  type BusOptions,
  createBus,
  type EntityAddress,
  engineFromUrl,
  entityPath,
  Sender,
} from './client.ts';
export { fromEmulatorConfig } from './config.ts';
export {
  createFileEngine,
  FileEngine,
  type FileEngineOptions,
  type FlushTiming,
  type FsWrite,
} from './engine/file/engine.ts';
export { createMemoryEngine, MemoryEngine } from './engine/memory/engine.ts';
export type {
  BodyType,
  BusEngine,
  EngineOp,
  EngineState,
  EntityRecord,
  MessagePatch,
  StoredMessage,
} from './engine/port.ts';
export {
  type Duration,
  type EntitiesConfig,
  type EntityRuntimeProperties,
  MAX_TIME_TO_LIVE_MS,
  type QueueOptions,
  type QueueProperties,
  type SubscriptionOptions,
  type SubscriptionProperties,
  type TopicOptions,
  type TopicProperties,
} from './entities.ts';
export { BusError, type BusErrorCode, BusErrorStatus, isBusError } from './errors.ts';
export {
  BATCH_CONTENT_TYPE,
  BusHttpError,
  type BusHttpErrorCode,
  BusHttpErrorStatus,
  type BusHttpHandler,
  type BusHttpOptions,
  createBusHttpHandler,
  createSasToken,
  type SasKey,
  type SasRight,
  verifySasToken,
} from './http/index.ts';
export {
  MessageState,
  type PropertyValue,
  type ReceivedMessage,
  type SenderFields,
  type ServiceBusMessage,
} from './message.ts';
export type { MessageHandler, Processor, ProcessorOptions, SessionProcessorOptions } from './processor.ts';
export { type DeadLetterOptions, ServiceBusReceivedMessage, toReceivedMessage } from './received-message.ts';
export {
  type PeekOptions,
  type ReceiveMessagesOptions,
  Receiver,
  type ReceiverOptions,
  SessionReceiver,
} from './receiver.ts';
export {
  type CompiledRule,
  compileRule,
  type RoutableMessage,
  type RuleDescription,
  type RuleFilter,
} from './rules/index.ts';
