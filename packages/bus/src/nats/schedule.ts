/**
 * Scheduled messages on a server without message schedules (NATS 2.9): a scheduled message waits
 * in its queue's or topic's stream on a subject of its own (`<ns>.<id>.sch.<n>`, its sequence
 * number the stream's), and every node keeps a timer on the bus's clock for each one it knows —
 * those in the streams when it opened, and those any node announces on `<ns>.sched` when it
 * schedules one. When due, a node routes the message (fan-out, forwarding) with publish ids
 * derived from its sequence number, then deletes it; nodes racing on the same message publish
 * duplicates the streams drop, and the delete of a message already moved is a no-op. Cancelling
 * deletes it from the stream. Every 30 s a node compares each entity's count of scheduled
 * messages with the timers it holds and reads the schedule subjects again when they differ, so an
 * announcement it missed (disconnected at the time, and the scheduling node gone since) is found.
 * @module
 */
import type { TimerHandle } from '@hubbub/kernel';
import type { Subscription } from '@nats-io/transport-node';
import type { EngineOp, StoredMessage } from '../engine/port.ts';
import { BusError } from '../errors.ts';
import { decodePayload } from './codec.ts';
import type { NatsContext } from './context.ts';
import { engineFailure } from './entities.ts';
import { entityId } from './names.ts';

/** How often a node checks that it holds a timer for every scheduled message (real time). */
const RESCAN_MS = 30_000;

const isScheduledSubject = (subject: string): boolean => subject.split('.')[2] === 'sch';

export class Scheduler {
  readonly #b: NatsContext;
  readonly #timers = new Map<string, TimerHandle>();
  #sub: Subscription | undefined;
  #rescan: NodeJS.Timeout | undefined;

  readonly #rescanMs: number;

  constructor(broker: NatsContext, rescanMs = RESCAN_MS) {
    this.#b = broker;
    this.#rescanMs = rescanMs;
  }

  async open(): Promise<void> {
    const b = this.#b;
    this.#sub = b.nc.subscribe(`${b.namespace}.sched`, {
      callback: (err, m) => {
        if (err !== null) return;
        try {
          const { key, seq, at } = m.json<{ key: unknown; seq: unknown; at: unknown }>();
          // An entity's key, a stream sequence and a time: anything else is no announcement (the
          // entity may be one this node has not heard of yet, so its key is not looked up here).
          if (typeof key !== 'string' || key.length === 0 || key.length > 1_024) return;
          if (!Number.isSafeInteger(seq) || (seq as number) < 1 || !Number.isFinite(at)) return;
          this.add(key, seq as number, at as number, false);
        } catch {
          // Not an announcement this version understands.
        }
      },
    });
    const catalog = b.entities.catalog;
    for (const key of [...catalog.queues.keys(), ...catalog.topics.keys()]) await this.#scan(key);
    this.#rescan = setInterval(() => {
      this.#reconcile().catch((err: unknown) => {
        if (!b.closed) b.events.emit('error', engineFailure('reading scheduled messages', err));
      });
    }, this.#rescanMs);
    this.#rescan.unref();
  }

  /** Reads the schedule subjects again of every entity whose count differs from the timers held here. */
  async #reconcile(): Promise<void> {
    const b = this.#b;
    const catalog = b.entities.catalog;
    for (const key of [...catalog.queues.keys(), ...catalog.topics.keys()]) {
      if (b.closed) return;
      const n = b.names(key);
      let scheduled: number;
      try {
        const info = await b.jsm.streams.info(n.stream, { subjects_filter: `${n.all.slice(0, -2)}.sch.*` });
        scheduled = Object.keys(info.state.subjects ?? {}).length;
      } catch {
        continue; // its streams are being created or deleted: next round
      }
      let held = 0;
      for (const id of this.#timers.keys()) if (id.startsWith(`${key}#`)) held++;
      if (scheduled !== held) await this.#scan(key);
    }
  }

  async #scan(key: string): Promise<void> {
    const n = this.#b.names(key);
    const filter = `${n.all.slice(0, -2)}.sch.*`;
    let cursor = 1;
    for (;;) {
      const got = await this.#b.getMessage(n.stream, { seq: cursor, next_by_subj: filter });
      if (got === undefined) return;
      cursor = got.seq + 1;
      let msg: StoredMessage;
      try {
        msg = decodePayload(got.data, key, 'scheduled', got.seq);
      } catch (err) {
        // Not a bus message (published to the stream by something else): passed over, and said so.
        this.#b.events.emit('error', engineFailure(`reading scheduled message ${got.seq} of ${key}`, err));
        continue;
      }
      this.add(key, got.seq, msg.scheduledEnqueueTime ?? 0, false);
    }
  }

  /** Arms a timer for a scheduled message (and tells the other nodes when `announce`). */
  add(key: string, seq: number, at: number, announce: boolean): void {
    const b = this.#b;
    if (announce) b.nc.publish(`${b.namespace}.sched`, JSON.stringify({ key, seq, at }));
    const id = `${key}#${seq}`;
    if (this.#timers.has(id) || b.closed) return;
    const timer = b.clock.setTimeout(
      () => {
        this.#timers.delete(id);
        this.#due(key, seq).catch((err: unknown) => {
          if (!b.closed) b.events.emit('error', engineFailure('moving a scheduled message', err));
        });
      },
      Math.max(0, at - b.clock.now()),
    );
    this.#timers.set(id, timer);
  }

  async #due(key: string, seq: number): Promise<void> {
    const b = this.#b;
    const n = b.names(key);
    const got = await b.getMessage(n.stream, { seq });
    if (got === undefined || !isScheduledSubject(got.subject)) return; // moved by another node, or cancelled
    const {
      entity: _e,
      seq: _s,
      enqueuedTime: _t,
      deliveryCount: _d,
      state: _st,
      ...fields
    } = decodePayload(got.data, key, 'scheduled', seq);
    const ops: EngineOp[] = [];
    b.router.route(key, fields, seq, fields.hops ?? 0, b.clock.now(), ops, []);
    let i = 0;
    for (const op of ops) {
      if (op.op === 'append') await b.publishStored(op.message, `sch:${entityId(key)}:${seq}:${i++}`);
    }
    await b.jsm.streams.deleteMessage(n.stream, seq, false).catch(() => false);
  }

  async cancel(key: string, sequenceNumbers: readonly bigint[]): Promise<void> {
    const b = this.#b;
    const n = b.names(key);
    for (const s of sequenceNumbers) {
      const seq = Number(s);
      const got = Number.isSafeInteger(seq) && seq > 0 ? await b.getMessage(n.stream, { seq }) : undefined;
      const gone =
        got === undefined ||
        !isScheduledSubject(got.subject) ||
        !(await b.jsm.streams.deleteMessage(n.stream, seq, false).catch(() => false));
      if (gone) {
        throw new BusError('BUS_MESSAGE_NOT_FOUND', `No scheduled message ${s} in ${key}.`, {
          detail: { entity: key, sequenceNumber: String(s) },
        });
      }
      this.#timers.get(`${key}#${seq}`)?.cancel();
      this.#timers.delete(`${key}#${seq}`);
    }
  }

  close(): void {
    clearInterval(this.#rescan);
    for (const t of this.#timers.values()) t.cancel();
    this.#timers.clear();
    this.#sub?.unsubscribe();
  }
}
