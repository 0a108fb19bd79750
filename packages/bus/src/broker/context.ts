/**
 * What the parts of the in-process broker share — its catalog, engine, clock, ids and events —
 * and the few things they ask of the broker itself. The broker builds one and hands it to each
 * part (`locks.ts`, `sessions.ts`, `schedule.ts`, `receiving.ts`, `settling.ts`).
 * @module
 */
import type { Clock, IdSource, TypedEmitter } from '@hubbub/kernel';
import type { BusEngine, EngineOp, StoredMessage } from '../engine/port.ts';
import type { Catalog } from './catalog.ts';
import type { BusEvents } from './port.ts';
import type { Entry, QueueState } from './queue-state.ts';

export interface BrokerContext {
  readonly catalog: Catalog;
  readonly engine: BusEngine;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly events: TypedEmitter<BusEvents>;
  /** Throws BUS_CLOSED once the broker is closed. */
  check(): void;
  closed(): boolean;
  /** Arms the broker's one timer for a new deadline (`alarm.ts`). */
  wakeBy(at: number): void;
  /** Writes ops and shows the messages they insert, as the broker's visibility says; resolves once durable. */
  commit(ops: EngineOp[], inserts: readonly StoredMessage[]): Promise<void>;
  /**
   * Writes a complete's ops, with the next write when writes are flowing (`settle-linger.ts`);
   * resolves once durable.
   */
  settleWrite(ops: readonly EngineOp[]): Promise<void>;
  /** Moves a stored message (already out of memory) to its dead-letter queue; resolves once durable. */
  deadLetter(queue: QueueState, msg: StoredMessage, reason: string, description: string | undefined): Promise<void>;
  /** Returns a message whose lock was given up or lost (fire and forget). */
  redeliver(queue: QueueState, entry: Entry): void;
  /**
   * Brings parked messages of a queue back from the engine's backlog when few are left available
   * (or at least `want` now); resolves once that refill (or the one already under way) is done.
   */
  refill(queue: QueueState, want?: number): Promise<void>;
  /** Runs work nobody awaits; a failure becomes an `error` event. */
  background(work: Promise<void>): void;
}
