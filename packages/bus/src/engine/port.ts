/**
 * The storage port of the bus. The broker (`../broker/local-broker.ts`) implements Service Bus semantics once;
 * an engine only makes the broker's state changes durable and gives them back on start.
 *
 * Where the line sits, and why: every state change is an {@link EngineOp} keyed by
 * (entity, sequence number) — append, update, remove — written in atomic batches. That is the
 * shape JetStream offers too (publish / atomic batch publish to a per-entity subject, ack or
 * delete by stream sequence, KV for entity definitions and session state), so a `nats://`
 * engine can implement this interface without the broker changing. Locks, waiting receivers
 * and timers are broker memory: a lock is never durable on Service Bus either (a lost lock
 * just redelivers).
 * @module
 */
import type { PropertyValue } from '../message.ts';

/** How a body was given, so it is handed back in the same shape. */
export type BodyType = 'bytes' | 'string' | 'json';

/** A message at rest in one queue, subscription, dead-letter queue (or a topic, while scheduled). */
export interface StoredMessage {
  /** Storage key of the holding entity (lower-case path). */
  readonly entity: string;
  readonly seq: number;
  readonly body: Uint8Array;
  readonly bodyType: BodyType;
  readonly enqueuedTime: number;
  /** Absolute expiry (ms since epoch); absent = never. */
  readonly expiresAt?: number;
  readonly deliveryCount: number;
  readonly state: 'active' | 'deferred' | 'scheduled';
  /** When a scheduled message becomes active (ms since epoch). */
  readonly scheduledEnqueueTime?: number;
  readonly messageId?: string;
  readonly correlationId?: string;
  readonly subject?: string;
  readonly contentType?: string;
  readonly to?: string;
  readonly replyTo?: string;
  readonly replyToSessionId?: string;
  readonly sessionId?: string;
  readonly partitionKey?: string;
  readonly timeToLive?: number;
  readonly applicationProperties?: Readonly<Record<string, PropertyValue>>;
  readonly deadLetterReason?: string;
  readonly deadLetterErrorDescription?: string;
  readonly deadLetterSource?: string;
  /** Auto-forwarding hops so far. */
  readonly hops?: number;
}

/** Fields of a stored message a settlement may change. */
export type MessagePatch = Partial<
  Pick<StoredMessage, 'deliveryCount' | 'state' | 'applicationProperties' | 'expiresAt' | 'enqueuedTime'>
>;

/** A durable entity definition; `props` is the broker's, opaque to engines. */
export interface EntityRecord {
  readonly key: string;
  readonly kind: 'queue' | 'topic' | 'subscription';
  readonly props: Readonly<Record<string, unknown>>;
}

export type EngineOp =
  | { readonly op: 'entity'; readonly entity: EntityRecord }
  /** Removes the entity, its messages, sub-queues, session states and dedupe history. */
  | { readonly op: 'drop'; readonly key: string }
  | {
      readonly op: 'append';
      readonly message: StoredMessage;
      /**
       * Parked: the broker does not hold it; an engine with a {@link EngineBacklog} keeps it on disk
       * only, indexed, until {@link EngineBacklog.take}. Engines without one treat it as any append.
       */
      readonly parked?: boolean;
    }
  | { readonly op: 'update'; readonly entity: string; readonly seq: number; readonly patch: MessagePatch }
  | { readonly op: 'remove'; readonly entity: string; readonly seq: number }
  | {
      readonly op: 'session';
      readonly entity: string;
      readonly sessionId: string;
      readonly state: Uint8Array | null;
    }
  /** A duplicate-detection history entry: `messageId` counts as seen until `until` (ms since epoch). */
  | { readonly op: 'dedupe'; readonly entity: string; readonly messageId: string; readonly until: number };

/** Everything durable, as handed back on open. */
export interface EngineState {
  readonly entities: EntityRecord[];
  /** Live messages, ordered by entity then sequence number. */
  readonly messages: StoredMessage[];
  readonly sessions: Array<{ entity: string; sessionId: string; state: Uint8Array }>;
  readonly dedupe: Array<{ entity: string; messageId: string; until: number }>;
  /** Highest sequence number ever assigned per entity (survives removal and compaction). */
  readonly sequences: Record<string, number>;
  /** Parked messages per entity, not in `messages` (engines with a {@link EngineBacklog} only). */
  readonly parked?: ReadonlyArray<{ entity: string; count: number; bytes: number }>;
}

/**
 * A backlog kept on disk: messages the broker parks (appends marked `parked`, active ones of a queue
 * past {@link EngineBacklog.memoryMessagesPerQueue}) stay on disk with a compact index in memory,
 * and come back, oldest first, when the broker takes them.
 */
export interface EngineBacklog {
  /** A queue holding this many messages in memory parks the ones sent after. */
  readonly memoryMessagesPerQueue: number;
  /**
   * Reads up to `max` of the oldest parked messages of `entity` that are durable, and hands them
   * back as live state held in memory again (settled by the usual ops from then on).
   */
  take(entity: string, max: number): Promise<StoredMessage[]>;
  /** Reads parked messages of `entity` with sequence number ≥ `from`, up to `max`, leaving them parked. */
  peek(entity: string, from: number, max: number): Promise<StoredMessage[]>;
}

/** Durable storage for the bus. See the module comment for what belongs here. */
export interface BusEngine {
  /** `memory`, `file`, `nats` … */
  readonly kind: string;
  /** Opens storage (recovering after a crash) and returns the durable state. */
  open(): Promise<EngineState>;
  /**
   * Makes a batch of state changes durable, atomically: after a crash either all of them or none
   * are recovered. Resolves only once durable; concurrent calls may share one flush.
   */
  write(ops: readonly EngineOp[]): Promise<void>;
  /** Rewrites storage to hold only live state. Optional work; the engine may also do it on its own. */
  compact(): Promise<void>;
  /** Flushes and releases storage. Writes after close reject with BUS_CLOSED. */
  close(): Promise<void>;
  /** Present when the engine can keep a backlog on disk instead of in the broker's memory. */
  readonly backlog?: EngineBacklog;
}
