/**
 * Counts read from the streams: an entity's runtime properties (active, scheduled, deferred and
 * dead-lettered messages by subject, locked ones from this node's lock table) and the quota check
 * a send makes against `maxSizeInMegabytes`.
 * @module
 */
import { type EntityAddress, entityPath } from '../address.ts';
import type { QueueEntry, TopicEntry } from '../broker/catalog.ts';
import { DEFAULT_MAX_SIZE_MB, type EntityRuntimeProperties } from '../entities.ts';
import { quotaExceeded } from '../errors.ts';
import type { EncodedMessage } from '../message-codec.ts';
import type { NatsContext } from './context.ts';
import { engineFailure } from './entities.ts';
import { ownerKey } from './receiving.ts';

export async function runtimeProperties(b: NatsContext, address: EntityAddress): Promise<EntityRuntimeProperties> {
  b.check();
  const queue = b.entities.catalog.receivable(entityPath(address));
  const n = b.names(queue.isDeadLetter ? ownerKey(queue.key) : queue.key);
  const count = async (stream: string): Promise<Record<string, number>> => {
    try {
      return (await b.jsm.streams.info(stream, { subjects_filter: '>' })).state.subjects ?? {};
    } catch (err) {
      throw engineFailure(`reading ${stream}`, err);
    }
  };
  const [main, side] = await Promise.all([count(n.stream), count(n.side)]);
  let active = 0;
  let scheduled = 0;
  let deferred = 0;
  let dead = 0;
  for (const [subject, c] of Object.entries(main)) {
    const kind = subject.split('.')[2];
    if (kind === 'sch') scheduled += c;
    else if (kind === 'm' || kind === 's') active += c;
  }
  for (const [subject, c] of Object.entries(side)) {
    const kind = subject.split('.')[2];
    if (kind === 'd') deferred += c;
    else if (kind === 'dlq') dead += c;
  }
  const locked = b.locks.all().filter((h) => h.key === queue.key).length;
  if (queue.isDeadLetter) {
    return {
      path: queue.path,
      activeMessageCount: dead,
      scheduledMessageCount: 0,
      deferredMessageCount: 0,
      deadLetterMessageCount: 0,
      lockedMessageCount: locked,
      totalMessageCount: dead,
    };
  }
  return {
    path: queue.path,
    activeMessageCount: active,
    scheduledMessageCount: scheduled,
    deferredMessageCount: deferred,
    deadLetterMessageCount: dead,
    lockedMessageCount: locked,
    totalMessageCount: active + scheduled + deferred + dead,
  };
}

export class Quota {
  readonly #b: NatsContext;
  /** Bytes last read per queue or topic (and the real time of the read). */
  readonly #usage = new Map<string, { bytes: number; at: number }>();

  constructor(broker: NatsContext) {
    this.#b = broker;
  }

  /**
   * Refuses a send that would take its queue (with its DLQ) or topic (every subscription's copy)
   * past `maxSizeInMegabytes` (BUS_QUOTA_EXCEEDED), by the bytes its streams hold. The count is
   * read from the server, then reused for a second while the entity stays under half its quota.
   */
  async check(target: QueueEntry | TopicEntry, encoded: readonly EncodedMessage[]): Promise<void> {
    const max = (target.props.maxSizeInMegabytes ?? DEFAULT_MAX_SIZE_MB) * 1024 * 1024;
    const copies = target.kind === 'topic' ? Math.max(1, target.subscriptions.size) : 1;
    let adding = 0;
    for (const e of encoded) adding += e.size * copies;
    const cached = this.#usage.get(target.key);
    if (cached !== undefined && Date.now() - cached.at < 1_000 && cached.bytes + adding < max / 2) {
      cached.bytes += adding;
      return;
    }
    const keys = target.kind === 'topic' ? [...target.subscriptions.values()].map((s) => s.key) : [target.key];
    const streams = keys.flatMap((k) => {
      const n = this.#b.names(k);
      return [n.stream, n.side];
    });
    let held = 0;
    try {
      const infos = await Promise.all(streams.map((s) => this.#b.jsm.streams.info(s)));
      for (const info of infos) held += info.state.bytes;
    } catch (err) {
      throw engineFailure(`reading the size of ${target.props.name}`, err);
    }
    this.#usage.set(target.key, { bytes: held + adding, at: Date.now() });
    if (held + adding <= max) return;
    this.#usage.delete(target.key);
    throw quotaExceeded(target.props.name, held, adding, max);
  }
}
