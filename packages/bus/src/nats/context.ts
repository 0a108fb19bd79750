/**
 * What the scheduler, the session locks, receiving and settling use of their broker
 * (`broker.ts`), so they depend on this interface rather than on the broker module.
 * @module
 */
import type { Clock, TypedEmitter } from '@hubbub/kernel';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { BusEvents, Settlement } from '../broker/port.ts';
import type { QueueState } from '../broker/queue-state.ts';
import type { Router } from '../broker/routing.ts';
import type { StoredMessage } from '../engine/port.ts';
import type { NatsEntities } from './entities.ts';
import type { LockTable } from './locks.ts';
import type { EntityNames } from './names.ts';

/** A consumer messages are pulled from. */
export interface Source {
  readonly stream: string;
  readonly consumer: string;
}

export const sourceKey = (s: Source): string => `${s.stream}|${s.consumer}`;

/** What receiving and settling ask of the session locks (`sessions.ts`). */
export interface SessionView {
  /** The session lock `token` is held here and not expired. */
  holds(token: string): boolean;
  idOf(token: string): string | undefined;
  /** When the session lock `token` expires (ms since epoch; 0 when not held). */
  until(token: string): number;
  renew(path: string, token: string): Promise<number>;
  consumerOf(queue: QueueState, token: string): string;
  tokenOfConsumer(queue: QueueState, consumer: string): string | undefined;
  /** A session operation forwarded from another node. */
  serve(req: { op: string; path: string; token: string; state?: string | null }): Promise<Record<string, unknown>>;
}

export interface NatsContext {
  readonly namespace: string;
  readonly node: string;
  readonly clock: Clock;
  readonly events: TypedEmitter<BusEvents>;
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly entities: NatsEntities;
  readonly router: Router;
  readonly locks: LockTable;
  readonly closed: boolean;
  /** Throws BUS_CLOSED once closed. */
  check(): void;
  names(key: string): EntityNames;
  getMessage(
    stream: string,
    req: { seq: number } | { last_by_subj: string } | { seq: number; next_by_subj: string },
  ): Promise<{ subject: string; seq: number; data: Uint8Array } | undefined>;
  publishStored(msg: StoredMessage, msgId: string | undefined): Promise<{ seq: number; duplicate: boolean }>;
  /** Publishes to `subject` of `stream`; resolves with the stream sequence once stored. */
  publish(
    stream: string,
    subject: string,
    payload: Uint8Array,
    msgId: string | undefined,
  ): Promise<{ seq: number; duplicate: boolean }>;
  settle(path: string, lockToken: string, settlement: Settlement): Promise<void>;
  renewLock(path: string, lockToken: string): Promise<Date>;
  /** Sends a lock operation to the node holding `token`. */
  forward(token: string, op: Record<string, unknown>): Promise<Record<string, unknown>>;
  renewSessionMessages(sessionToken: string, until: number): Promise<void>;
  releaseSessionMessages(sessionToken: string): Promise<void>;
}
