/**
 * @hubbub/bus — Azure Service Bus semantics (queues, topics, subscriptions, rules, sessions,
 * peek-lock, dead-lettering, deferral, scheduling, duplicate detection, auto-forwarding) on an
 * embedded durable engine. Start with {@link openBus} (or {@link createBus} and `start()`).
 *
 * This door is for users of the bus. The ports are on their own doors: `@hubbub/bus/broker`
 * (the operations a bus runs on, for another broker such as NATS JetStream) and
 * `@hubbub/bus/engine` (storage for the in-process broker), each with its conformance suite.
 * @module
 */

export type { EntityAddress } from './address.ts';
export type { BusAdmin } from './admin.ts';
export type { BusEvents } from './broker/port.ts';
export { type AcceptSessionOptions, Bus, type BusOptions, createBus, openBus, Sender } from './client.ts';
export type {
  EntitiesConfig,
  EntityRuntimeProperties,
  QueueOptions,
  QueueProperties,
  SubscriptionOptions,
  SubscriptionProperties,
  TopicOptions,
  TopicProperties,
} from './entities.ts';
export { BusError, type BusErrorCode, isBusError } from './errors.ts';
export {
  BusHttpError,
  type BusHttpHandler,
  type BusHttpOptions,
  type BusOverview,
  busOverview,
  createBusHttpHandler,
  createSasToken,
  type EntityCounts,
  readBrokerProperties,
  type SasKey,
  type SasResult,
  type SasRight,
  verifySasToken,
  writeBrokerProperties,
} from './http/index.ts';
export { MessageState, type PropertyValue, type ReceivedMessage, type ServiceBusMessage } from './message.ts';
export type { MessageHandler, Processor, ProcessorOptions, SessionProcessorOptions } from './processor.ts';
export { type DeadLetterOptions, ServiceBusReceivedMessage } from './received-message.ts';
export { type ReceiveMessagesOptions, Receiver, type ReceiverOptions, SessionReceiver } from './receiver.ts';
export type { RuleDescription } from './rules/index.ts';
