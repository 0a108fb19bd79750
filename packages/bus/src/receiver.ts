/**
 * Receivers: `receiveMessages`, `peekMessages`, `receiveDeferredMessages` and async iteration
 * (`for await (const m of receiver) await m.complete()`); session receivers add session state
 * and the session lock.
 * @module
 */
import type { Broker, Delivery, ReceiveMode } from './broker/port.ts';
import { BusError, closedError } from './errors.ts';
import { ServiceBusReceivedMessage } from './received-message.ts';

export interface ReceiverOptions {
  /** @default 'peekLock' */
  receiveMode?: ReceiveMode;
  /** Messages fetched ahead (and locked) by async iteration and the processor. @default 0 (one at a time) */
  prefetch?: number;
  /** Default wait of `receiveMessages` for the first message. @default 60_000 */
  maxWaitTimeMs?: number;
}

export interface ReceiveMessagesOptions {
  /** Wait this long for the first message; resolves with [] on timeout. @default the receiver's */
  maxWaitTimeMs?: number;
  abortSignal?: AbortSignal;
}

export interface PeekOptions {
  /** Start here; by default continues after the last peeked message. */
  fromSequenceNumber?: bigint;
}

const FOREVER = 2_147_483_647;

function checkCount(n: unknown, what: string): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10_000) {
    throw new BusError('BUS_INVALID_OPTION', `${what}: must be an integer in 1…10000`, { detail: { option: what } });
  }
  return n;
}

export class Receiver implements AsyncIterable<ServiceBusReceivedMessage> {
  readonly entityPath: string;
  readonly receiveMode: ReceiveMode;
  protected readonly broker: Broker;
  protected readonly session: string | undefined;
  readonly #prefetch: number;
  readonly #maxWait: number;
  readonly #buffer: ServiceBusReceivedMessage[] = [];
  readonly #abort = new AbortController();
  #lastPeeked = 0n;
  #closed = false;
  /** Called once when the receiver closes (the bus stops tracking it). */
  onClosed: (() => void) | undefined;

  constructor(broker: Broker, path: string, options: ReceiverOptions = {}, session?: string) {
    this.broker = broker;
    this.entityPath = path;
    this.session = session;
    const mode = options.receiveMode ?? 'peekLock';
    if (mode !== 'peekLock' && mode !== 'receiveAndDelete') {
      throw new BusError('BUS_INVALID_OPTION', "receiveMode: must be 'peekLock' or 'receiveAndDelete'", {
        detail: { option: 'receiveMode' },
      });
    }
    this.receiveMode = mode;
    const prefetch = options.prefetch ?? 0;
    if (!Number.isInteger(prefetch) || prefetch < 0 || prefetch > 10_000) {
      throw new BusError('BUS_INVALID_OPTION', 'prefetch: must be an integer in 0…10000', {
        detail: { option: 'prefetch' },
      });
    }
    this.#prefetch = prefetch;
    this.#maxWait = options.maxWaitTimeMs ?? 60_000;
    if (!(this.#maxWait >= 0)) {
      throw new BusError('BUS_INVALID_OPTION', 'maxWaitTimeMs: must be ≥ 0', { detail: { option: 'maxWaitTimeMs' } });
    }
    broker.entity(path, 'receive');
  }

  get isClosed(): boolean {
    return this.#closed || this.broker.closed;
  }

  protected wrap(deliveries: Delivery[]): ServiceBusReceivedMessage[] {
    return deliveries.map((d) => new ServiceBusReceivedMessage(d, this.broker));
  }

  /** Up to `maxMessageCount` messages; waits for the first one up to `maxWaitTimeMs`, then returns what is there. */
  async receiveMessages(
    maxMessageCount: number,
    options: ReceiveMessagesOptions = {},
  ): Promise<ServiceBusReceivedMessage[]> {
    checkCount(maxMessageCount, 'maxMessageCount');
    if (this.isClosed) throw closedError('receiver');
    if (this.#buffer.length > 0) return this.#buffer.splice(0, maxMessageCount);
    const signal =
      options.abortSignal === undefined
        ? this.#abort.signal
        : AbortSignal.any([this.#abort.signal, options.abortSignal]);
    const got = await this.broker.receive(this.entityPath, {
      maxMessages: maxMessageCount,
      mode: this.receiveMode,
      maxWaitTimeMs: options.maxWaitTimeMs ?? this.#maxWait,
      session: this.session,
      signal,
    });
    return this.wrap(got);
  }

  /** Messages without locking them, in sequence order (active, locked, deferred and scheduled). */
  async peekMessages(maxMessageCount: number, options: PeekOptions = {}): Promise<ServiceBusReceivedMessage[]> {
    checkCount(maxMessageCount, 'maxMessageCount');
    if (this.isClosed) throw closedError('receiver');
    const from = options.fromSequenceNumber ?? this.#lastPeeked + 1n;
    const got = await this.broker.peek(this.entityPath, {
      fromSequenceNumber: from,
      maxMessageCount,
      sessionId: this.peekSessionId,
    });
    const last = got.at(-1);
    if (last !== undefined) this.#lastPeeked = BigInt(last.msg.seq);
    return got.map((d) => new ServiceBusReceivedMessage(d, undefined));
  }

  /** Deferred messages by sequence number (BUS_MESSAGE_NOT_FOUND if one is not deferred here). */
  async receiveDeferredMessages(sequenceNumbers: bigint | bigint[]): Promise<ServiceBusReceivedMessage[]> {
    if (this.isClosed) throw closedError('receiver');
    const seqs = Array.isArray(sequenceNumbers) ? sequenceNumbers : [sequenceNumbers];
    return this.wrap(await this.broker.receiveDeferred(this.entityPath, seqs, this.receiveMode, this.sessionToken));
  }

  protected get sessionToken(): string | undefined {
    return undefined;
  }

  protected get peekSessionId(): string | undefined {
    return undefined;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ServiceBusReceivedMessage> {
    const batch = Math.max(1, this.#prefetch);
    while (!this.isClosed) {
      if (this.#buffer.length === 0) {
        let got: Delivery[];
        try {
          got = await this.broker.receive(this.entityPath, {
            maxMessages: batch,
            mode: this.receiveMode,
            maxWaitTimeMs: FOREVER,
            session: this.sessionToken,
            signal: this.#abort.signal,
          });
        } catch (err) {
          if (this.isClosed) return;
          throw err;
        }
        this.#buffer.push(...this.wrap(got));
        continue;
      }
      yield this.#buffer.shift()!;
    }
  }

  /** Stops iteration; prefetched, unsettled peek-locked messages are abandoned. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.onClosed?.();
    this.#abort.abort(closedError('receiver'));
    const left = this.#buffer.splice(0);
    if (this.receiveMode === 'peekLock') await Promise.allSettled(left.map((m) => m.abandon()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** A receiver holding one session's lock: FIFO within the session, plus session state. */
export class SessionReceiver extends Receiver {
  readonly sessionId: string;
  #token: string;
  #lockedUntil: number;

  constructor(
    broker: Broker,
    path: string,
    lock: { sessionId: string; lockToken: string; lockedUntil: number },
    options: ReceiverOptions,
  ) {
    super(broker, path, options, lock.lockToken);
    this.sessionId = lock.sessionId;
    this.#token = lock.lockToken;
    this.#lockedUntil = lock.lockedUntil;
  }

  protected override get sessionToken(): string {
    return this.#token;
  }

  get sessionLockedUntil(): Date {
    return new Date(this.#lockedUntil);
  }

  protected override get peekSessionId(): string {
    return this.sessionId;
  }

  /** Extends the session lock (and its messages' locks) by the lock duration. */
  async renewSessionLock(): Promise<Date> {
    this.#lockedUntil = await this.broker.sessions.renew(this.entityPath, this.#token);
    return new Date(this.#lockedUntil);
  }

  /** The session state: bytes as set, a string, or a JSON value; undefined when never set. */
  async getSessionState(): Promise<unknown> {
    const raw = await this.broker.sessions.getState(this.entityPath, this.#token);
    if (raw === undefined || raw.byteLength === 0) return undefined;
    const body = raw.subarray(1);
    if (raw[0] === 0) return Buffer.from(body);
    const text = new TextDecoder().decode(body);
    return raw[0] === 1 ? text : JSON.parse(text);
  }

  /** Stores session state (bytes, a string or any JSON value); `null` clears it. */
  async setSessionState(state: unknown): Promise<void> {
    let raw: Uint8Array | null;
    if (state === null || state === undefined) raw = null;
    else if (state instanceof Uint8Array) raw = concat(0, state);
    else if (typeof state === 'string') raw = concat(1, new TextEncoder().encode(state));
    else raw = concat(2, new TextEncoder().encode(JSON.stringify(state)));
    await this.broker.sessions.setState(this.entityPath, this.#token, raw);
  }

  override async close(): Promise<void> {
    await super.close();
    await this.broker.sessions.release(this.entityPath, this.#token);
  }
}

function concat(tag: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.byteLength + 1);
  out[0] = tag;
  out.set(bytes, 1);
  return out;
}
