/**
 * One Service Bus delivery (a message, or a batch for `cardinality: 'many'`): the trigger input
 * and metadata the Azure extension produces; every message is completed when the function and its
 * outputs succeeded, and abandoned otherwise.
 * @module
 */
import type { Clock, IdSource, Logger, TimerHandle } from '@hubbub/kernel';
import type { FunctionEntry } from './bindings.ts';
import type { RpcTypedData } from './core-types.ts';
import type { Executor } from './executor.ts';
import { type BusReceivedMessage, bodyData, toRpcMetadata, triggerMetadataOf } from './service-bus.ts';

export interface BusTriggerDeps {
  readonly ids: IdSource;
  /** Keeps the messages locked while the function runs. */
  readonly locks: LockRenewer;
  readonly logger: Logger;
  readonly executor: Executor;
  readonly track: <T>(work: Promise<T>) => Promise<T>;
  /** Aborts retry waits when the host closes. */
  readonly signal: AbortSignal;
}

/** Text of a body as the library will parse it (JSON text stays JSON text). */
function textOf(data: RpcTypedData): string | undefined {
  if (data.string != null) return data.string;
  if (data.json != null) return data.json;
  return undefined;
}

/** The batch input: strings (each JSON-parsed by the library when it is JSON) or, if any body is binary, bytes. */
function batchData(bodies: RpcTypedData[]): RpcTypedData {
  const texts = bodies.map(textOf);
  if (texts.every((t) => t !== undefined)) return { collectionString: { string: texts as string[] } };
  return { collectionBytes: { bytes: bodies.map((b) => b.bytes ?? Buffer.from(textOf(b) ?? '')) } };
}

function payloadOf(data: RpcTypedData): unknown {
  const text = textOf(data);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Renews the locks of the messages being handled at half their remaining time, as the Azure
 * extension does with maxAutoLockRenewalDuration, until they are settled or the renewal budget
 * ends. One timer for every message in flight (armed for the earliest renewal due) instead of one
 * per message: with a fixed lock duration a new message is due after every one already held, so
 * holding one costs a map entry.
 */
export class LockRenewer {
  readonly #clock: Clock;
  readonly #budgetMs: number;
  readonly #logger: Logger;
  readonly #held = new Map<BusReceivedMessage, { readonly started: number; renewAt: number; renewing: boolean }>();
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(options: { clock: Clock; maxAutoLockRenewalMs: number; logger: Logger }) {
    this.#clock = options.clock;
    this.#budgetMs = options.maxAutoLockRenewalMs;
    this.#logger = options.logger;
  }

  /** Messages held now. */
  get size(): number {
    return this.#held.size;
  }

  /** Keeps `messages` locked until {@link release}. */
  hold(messages: readonly BusReceivedMessage[]): void {
    const now = this.#clock.now();
    for (const message of messages) {
      if (message.renewLock === undefined || message.lockedUntil === undefined) continue;
      const entry = { started: now, renewAt: halfway(now, message.lockedUntil), renewing: false };
      this.#held.set(message, entry);
      this.#arm(entry.renewAt);
    }
  }

  release(messages: readonly BusReceivedMessage[]): void {
    for (const message of messages) this.#held.delete(message);
    if (this.#held.size === 0) this.#disarm();
  }

  #arm(at: number): void {
    if (at >= this.#timerAt) return;
    this.#timer?.cancel();
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => this.#due(), Math.max(0, at - this.#clock.now()));
  }

  #disarm(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  #due(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [message, entry] of this.#held) {
      if (entry.renewing) continue;
      if (now - entry.started >= this.#budgetMs) {
        this.#held.delete(message); // the budget is spent: the lock runs out on its own
        continue;
      }
      if (entry.renewAt > now) {
        next = Math.min(next, entry.renewAt);
        continue;
      }
      entry.renewing = true;
      message.renewLock!().then(
        (until) => {
          entry.renewing = false;
          if (this.#held.get(message) !== entry) return;
          entry.renewAt = halfway(this.#clock.now(), until);
          this.#arm(entry.renewAt);
        },
        (err: unknown) => {
          this.#held.delete(message);
          this.#logger.warn({ err, messageId: message.messageId }, 'Lock renewal failed.');
        },
      );
    }
    if (next < Number.POSITIVE_INFINITY) this.#arm(next);
  }
}

const halfway = (now: number, lockedUntil: Date): number => now + Math.max(0, (lockedUntil.getTime() - now) / 2);

export async function handleBusMessages(
  deps: BusTriggerDeps,
  entry: FunctionEntry,
  messages: readonly BusReceivedMessage[],
): Promise<void> {
  const info = entry.trigger.info;
  const binary = info.dataType === 'binary';
  const invocationId = deps.ids.uuid();
  const metas = messages.map(triggerMetadataOf);
  const bodies = messages.map((m) => bodyData(m, binary));
  let triggerData: RpcTypedData;
  let metadata: Record<string, unknown>;
  // Binding expressions ({orderid}, {MessageId}) read the payload and metadata; most functions have
  // none, so the body is parsed for them only when an expression asks.
  let values: Record<string, unknown> | undefined;
  let valuesOf: () => Record<string, unknown> = () => ({});
  if (info.cardinality === 'many') {
    triggerData = batchData(bodies);
    const keys = [...new Set(metas.flatMap((m) => Object.keys(m)))];
    metadata = Object.fromEntries(keys.map((k) => [`${k}Array`, metas.map((m) => m[k] ?? null)]));
  } else {
    const single = bodies[0]!;
    const meta = metas[0]!;
    triggerData = single;
    metadata = meta;
    valuesOf = () => {
      const payload = payloadOf(single);
      return { ...(typeof payload === 'object' && payload !== null ? payload : {}), ...meta };
    };
  }
  const expressions = {
    get values() {
      values ??= valuesOf();
      return values;
    },
  };
  deps.locks.hold(messages);
  try {
    await deps.track(
      deps.executor.execute(entry, {
        invocationId,
        triggerData,
        triggerMetadata: toRpcMetadata(metadata),
        data: { invocationId, expressions },
        signal: deps.signal,
      }),
    );
  } catch (err) {
    deps.locks.release(messages);
    deps.logger.warn(
      { err, function: entry.name, messageIds: messages.map((m) => m.messageId), invocationId },
      'Function failed; abandoning its message(s).',
    );
    await Promise.all(
      messages.map((m) => m.abandon().catch((e: unknown) => deps.logger.error({ err: e }, 'Abandon failed.'))),
    );
    return;
  }
  deps.locks.release(messages);
  await Promise.all(
    messages.map((m) =>
      m.complete().catch((e: unknown) => deps.logger.error({ err: e, function: entry.name }, 'Complete failed.')),
    ),
  );
}
