/**
 * What the scheduler and the session locks use of their broker (`broker.ts`), so they depend on
 * this interface rather than on the broker module.
 * @module
 */
import type { Clock, TypedEmitter } from '@hubbub/kernel';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { BusEvents } from '../broker/port.ts';
import type { Router } from '../broker/routing.ts';
import type { StoredMessage } from '../engine/port.ts';
import type { NatsEntities } from './entities.ts';
import type { LockTable } from './locks.ts';
import type { EntityNames } from './names.ts';

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
  /** Sends a lock operation to the node holding `token`. */
  forward(token: string, op: Record<string, unknown>): Promise<Record<string, unknown>>;
  renewSessionMessages(sessionToken: string, until: number): Promise<void>;
  releaseSessionMessages(sessionToken: string): Promise<void>;
}
