/**
 * One client connection: its links by role (CBS and management request/reply links, senders into
 * entities, receivers out of them, session attaches still held) and its bounds (sessions, links,
 * attaches per second, time to the first token). Every rhea event of the connection lands here and
 * nothing a client sends can throw out of it. What the tokens allow lives in `claims.ts`, the
 * request/reply nodes in `requests.ts`, each link's deliveries in `inbound.ts` / `outbound.ts`.
 * Over 400 lines because the link table and rhea's event wiring are one piece of state.
 * @module
 */
import type { Socket } from 'node:net';
import type { SasRight } from '@hubbub/bus';
import type { Broker } from '@hubbub/bus/broker';
import type { Clock, TimerHandle } from '@hubbub/kernel';
import type { Grant, KeyRing } from './auth.ts';
import { Claims } from './claims.ts';
import { ticks } from './codec.ts';
import { Condition, notFound, toAmqpError } from './conditions.ts';
import { AmqpFrontError, AmqpFrontErrorCode } from './errors.ts';
import { deliverySize, guardTransfers, isPoisoned, sendToEntity, settleIncoming } from './inbound.ts';
import { Outbound, settleDelivery } from './outbound.ts';
import { Requests } from './requests.ts';
import {
  type AmqpError,
  type AmqpMessage,
  type RheaConnection,
  type RheaContext,
  type RheaLink,
  types,
} from './rhea.ts';

type Code = keyof typeof AmqpFrontErrorCode;

export interface ConnectionLimits {
  readonly maxSessions: number;
  readonly maxLinks: number;
  readonly maxTokens: number;
  readonly linkCredit: number;
  readonly maxMessageSize: number;
  readonly maxTransferBytes: number;
  readonly maxReceiveBatch: number;
  readonly attachesPerSecond: number;
  readonly authTimeoutMs: number;
  readonly maxWriteBufferBytes: number;
  readonly maxInflightBytes: number;
  readonly maxSessionWaitMs: number;
}

export interface ConnectionContext {
  readonly broker: () => Broker;
  readonly ring: KeyRing;
  readonly clock: Clock;
  readonly limits: ConnectionLimits;
  /** A connection closed for cause. */
  readonly report: (err: AmqpFrontError) => void;
}

type LinkRole =
  | { kind: 'cbs' }
  | { kind: 'management'; path: string; keyName: string }
  | { kind: 'reply' }
  | { kind: 'pending'; abort: AbortController }
  | { kind: 'send'; entity: string }
  | { kind: 'receive'; outbound: Outbound; path: string; session?: { id: string; token: string } };

interface LinkState {
  role: LinkRole;
}

const MANAGEMENT = '/$management';

export class AmqpConnection {
  readonly #conn: RheaConnection;
  readonly #socket: Socket;
  readonly #ctx: ConnectionContext;
  readonly #claims: Claims<RheaLink>;
  readonly #links = new Map<RheaLink, LinkState>();
  readonly #requests: Requests;
  #sessions = 0;
  #attachWindowStart = 0;
  #attachesInWindow = 0;
  #authTimer: TimerHandle | undefined;
  /** Bytes of transfers handed to the broker and not yet answered. */
  #inflight = 0;
  /** Sending links whose credit is held back until the bytes in flight fall. */
  readonly #starved = new Set<RheaLink>();
  #closed = false;

  constructor(conn: RheaConnection, socket: Socket, ctx: ConnectionContext) {
    this.#conn = conn;
    this.#socket = socket;
    this.#ctx = ctx;
    this.#claims = new Claims<RheaLink>(ctx.ring, ctx.limits.maxTokens, ctx.clock, (link) => {
      this.#linkClosed(link);
      link.close({ condition: Condition.Unauthorized, description: 'The token for this link expired.' });
    });
    this.#claims.onFirstToken = () => this.#authTimer?.cancel();
    this.#requests = new Requests(this.#claims, ctx.broker, ctx.limits.maxReceiveBatch);
    this.#authTimer = ctx.clock.setTimeout(() => {
      if (!this.#claims.hasTokens)
        this.fail('Unauthorized', Condition.Unauthorized, 'No token was put on $cbs in time.');
    }, ctx.limits.authTimeoutMs);
    const on = (event: string, fn: (c: RheaContext) => void): void =>
      conn.on(event, (c: RheaContext) => {
        try {
          fn(c);
        } catch (err) {
          this.fail('ProtocolViolation', Condition.InternalError, `The server could not handle ${event}.`, err);
        }
      });
    on('session_open', (c) => this.#sessionOpen(c));
    on('session_close', () => {
      this.#sessions--;
    });
    on('receiver_open', (c) => this.#receiverOpen(c.receiver!));
    on('sender_open', (c) => this.#senderOpen(c.sender!));
    on('message', (c) => this.#message(c));
    on('sender_flow', (c) => this.#flow(c.sender!));
    on('sender_draining', () => {});
    on('sendable', () => {});
    for (const outcome of ['accepted', 'rejected', 'modified', 'released']) {
      on(outcome, (c) => this.#outcome(outcome, c));
    }
    on('settled', () => {});
    for (const e of ['sender_close', 'receiver_close', 'sender_error', 'receiver_error'])
      on(e, (c) => this.#linkClosed(c.sender ?? c.receiver));
    on('session_error', () => {});
    on('connection_open', () => {});
    on('connection_close', () => this.dispose());
    on('connection_error', () => this.dispose());
    on('disconnected', () => this.dispose());
    // rhea closes a connection silent for twice the idle time-out itself; report it too.
    const idle = conn as unknown as { idle(): void };
    const closeIdle = idle.idle.bind(conn);
    idle.idle = () => {
      if (!this.#closed) {
        this.#ctx.report(
          new AmqpFrontError(AmqpFrontErrorCode.IdleTimeout, 'The peer sent nothing for twice the idle time-out.', {
            detail: { condition: Condition.ResourceLimit },
          }),
        );
      }
      closeIdle();
    };
    conn.on('protocol_error', (c) => this.#broken('FramingError', Condition.FramingError, c));
    conn.on('error', (c) => this.#broken('ProtocolViolation', Condition.DecodeError, c));
  }

  /** Closes the connection with an AMQP error and reports it. */
  fail(code: Code, condition: string, description: string, cause?: unknown): void {
    if (this.#closed) return;
    this.#ctx.report(new AmqpFrontError(AmqpFrontErrorCode[code], description, { detail: { condition }, cause }));
    this.#closeNow({ condition, description });
  }

  /** Closes politely (the front is closing). */
  shutdown(): void {
    this.#closeNow({ condition: 'amqp:connection:forced', description: 'The server is shutting down.' });
  }

  #closeNow(error: AmqpError): void {
    if (this.#closed) return;
    try {
      // Read no further frames, not even the rest of the chunk being read: nothing after our close
      // may open links or write frames.
      (this.#conn.amqp_transport as { read_complete: boolean }).read_complete = true;
      this.#conn.close(error);
      this.#conn._process();
    } catch {
      // The transport is in SASL or already gone: there is no AMQP close to write.
    }
    this.dispose();
    const socket = this.#socket;
    socket.end();
    const timer = setTimeout(() => socket.destroy(), 1000);
    timer.unref();
  }

  /** rhea caught an error reading a frame (it ends the socket itself). */
  #broken(code: Code, condition: string, c: unknown): void {
    const err = (c instanceof Error ? c : (c as RheaContext)?.error) as Error | undefined;
    const description = `Malformed input: ${err?.message ?? 'unreadable frame'}`.slice(0, 200);
    this.fail(code, condition, description, err);
  }

  /** Releases everything the connection holds; idempotent. */
  dispose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#authTimer?.cancel();
    this.#claims.dispose();
    for (const link of [...this.#links.keys()]) this.#linkClosed(link);
  }

  get closed(): boolean {
    return this.#closed;
  }

  #sessionOpen(c: RheaContext): void {
    const session = c.session!;
    this.#sessions++;
    if (this.#sessions > this.#ctx.limits.maxSessions) {
      session.end({
        condition: Condition.ResourceLimit,
        description: `At most ${this.#ctx.limits.maxSessions} sessions per connection.`,
      });
      return;
    }
    session.local.begin.handle_max = this.#ctx.limits.maxLinks - 1;
    guardTransfers(session, {
      maxTransferBytes: this.#ctx.limits.maxTransferBytes,
      violated: (link, error) => {
        this.#ctx.report(
          new AmqpFrontError(AmqpFrontErrorCode.ProtocolViolation, error.description ?? error.condition, {
            detail: { condition: error.condition },
          }),
        );
        link.close(error);
      },
    });
  }

  /** Counts an attach; false (and the connection closed) when the client floods them. */
  #admit(link: RheaLink): boolean {
    const now = this.#ctx.clock.now();
    if (now - this.#attachWindowStart >= 1000) {
      this.#attachWindowStart = now;
      this.#attachesInWindow = 0;
    }
    if (++this.#attachesInWindow > this.#ctx.limits.attachesPerSecond) {
      this.fail('LimitExceeded', Condition.ResourceLimit, 'Too many attaches per second.');
      return false;
    }
    if (this.#links.size >= this.#ctx.limits.maxLinks) {
      this.#refuse(link, {
        condition: Condition.ResourceLimit,
        description: `At most ${this.#ctx.limits.maxLinks} links per connection.`,
      });
      return false;
    }
    return true;
  }

  #refuse(link: RheaLink, error: AmqpError): void {
    if (link.is_sender()) link.set_source(null);
    else link.set_target(null);
    link.close(error);
  }

  #authorize(link: RheaLink, path: string, right: SasRight | undefined): Grant {
    const grant = this.#claims.authorize(path, right);
    if (!grant.ok)
      this.#refuse(link, { condition: Condition.Unauthorized, description: `Unauthorized: ${grant.reason}.` });
    return grant;
  }

  #track(link: RheaLink, role: LinkRole, grant?: Grant, path?: string, right?: SasRight): void {
    this.#links.set(link, { role });
    if (grant?.ok === true && path !== undefined) this.#claims.track(link, grant, path, right);
  }

  /** A client's sending link: CBS or management requests, or messages for an entity. */
  #receiverOpen(link: RheaLink): void {
    if (!this.#admit(link)) return;
    const target = link.remote.attach?.target?.address ?? undefined;
    link.set_source(link.remote.attach?.source ?? null);
    if (target === '$cbs') {
      link.set_target({ address: '$cbs' });
      this.#track(link, { kind: 'cbs' }, undefined);
      link.add_credit(this.#ctx.limits.linkCredit);
      return;
    }
    if (typeof target !== 'string' || target === '') {
      this.#refuse(link, { condition: Condition.InvalidField, description: 'A sending link needs a target address.' });
      return;
    }
    if (target.toLowerCase().endsWith(MANAGEMENT)) {
      const path = target.slice(0, -MANAGEMENT.length);
      // A queue, subscription or dead-letter queue (receivers) or a topic (senders scheduling).
      const exists = (['receive', 'send'] as const).some((use) => {
        try {
          this.#ctx.broker().entity(path, use);
          return true;
        } catch {
          return false;
        }
      });
      if (!exists) {
        this.#refuse(link, notFound(path));
        return;
      }
      const grant = this.#authorize(link, target, undefined);
      if (!grant.ok) return;
      link.set_target({ address: target });
      this.#track(link, { kind: 'management', path, keyName: grant.keyName }, grant, target);
      link.add_credit(this.#ctx.limits.linkCredit);
      return;
    }
    let entity: string;
    try {
      entity = this.#ctx.broker().entity(target, 'send').path;
    } catch (err) {
      this.#refuse(link, notFoundOr(err, target));
      return;
    }
    const grant = this.#authorize(link, target, 'Send');
    if (!grant.ok) return;
    link.set_target({ address: target });
    link.local.attach.max_message_size = this.#ctx.limits.maxMessageSize;
    link.local.attach.properties = {
      'com.microsoft:max-message-batch-size': types.wrap_uint(this.#ctx.limits.maxMessageSize),
    };
    this.#track(link, { kind: 'send', entity }, grant, target, 'Send');
    // Over half the bytes-in-flight bound, a new sending link waits for its credit like the others.
    if (this.#inflight * 2 > this.#ctx.limits.maxInflightBytes) this.#starved.add(link);
    else link.add_credit(this.#ctx.limits.linkCredit);
  }

  /** A client's receiving link: CBS or management replies, or an entity's messages. */
  #senderOpen(link: RheaLink): void {
    if (!this.#admit(link)) return;
    const attach = link.remote.attach ?? {};
    const source = attach.source ?? undefined;
    const address = source?.address ?? undefined;
    const targetAddress = attach.target?.address ?? undefined;
    if (address === '$cbs' || (typeof address === 'string' && address.toLowerCase().endsWith(MANAGEMENT))) {
      link.set_source({ address });
      link.set_target(attach.target ?? null);
      this.#requests.addReplyLink(link, targetAddress);
      this.#track(link, { kind: 'reply' }, undefined);
      return;
    }
    if (typeof address !== 'string' || address === '') {
      this.#refuse(link, {
        condition: Condition.InvalidField,
        description: 'A receiving link needs a source address.',
      });
      return;
    }
    let info: ReturnType<Broker['entity']>;
    try {
      info = this.#ctx.broker().entity(address, 'receive');
    } catch (err) {
      this.#refuse(link, notFoundOr(err, address));
      return;
    }
    const grant = this.#authorize(link, address, 'Listen');
    if (!grant.ok) return;
    link.local.attach.snd_settle_mode = attach.snd_settle_mode;
    link.local.attach.rcv_settle_mode = attach.rcv_settle_mode;
    link.set_target(attach.target ?? null);
    const mode = attach.snd_settle_mode === 1 ? 'receiveAndDelete' : 'peekLock';
    const filter = source?.filter ?? undefined;
    const wantsSession = filter !== undefined && filter !== null && 'com.microsoft:session-filter' in filter;
    if (!wantsSession && !info.requiresSession) {
      link.set_source({ address });
      this.#startReceiver(link, address, mode, grant, undefined);
      return;
    }
    if (!wantsSession) {
      this.#refuse(link, {
        condition: Condition.ArgumentError,
        description: `${address} requires sessions: accept a session to receive.`,
      });
      return;
    }
    this.#acceptSession(link, address, mode, grant, filter['com.microsoft:session-filter']);
  }

  /** Holds the attach until the session is locked (or refuses it), as Service Bus does. */
  #acceptSession(
    link: RheaLink,
    address: string,
    mode: 'peekLock' | 'receiveAndDelete',
    grant: Grant,
    wanted: unknown,
  ): void {
    const state = (link as unknown as { state: { local_open: boolean; open_requests: number } }).state;
    state.local_open = false;
    state.open_requests = Math.max(0, state.open_requests - 1);
    const requested = typeof wanted === 'string' ? wanted : undefined;
    const timeoutProp = link.remote.attach?.properties?.['com.microsoft:timeout'];
    const wait = Math.min(
      typeof timeoutProp === 'number' && timeoutProp > 0 ? timeoutProp : 60_000,
      this.#ctx.limits.maxSessionWaitMs,
    );
    const abort = new AbortController();
    this.#links.set(link, { role: { kind: 'pending', abort } });
    let accepting: Promise<{ sessionId: string; lockToken: string; lockedUntil: number }>;
    try {
      accepting = this.#ctx.broker().sessions.accept(address, requested, { maxWaitTimeMs: wait, signal: abort.signal });
    } catch (err) {
      accepting = Promise.reject(err);
    }
    accepting.then(
      (lock) => {
        if (this.#closed || abort.signal.aborted || !link.is_remote_open()) {
          this.#ctx
            .broker()
            .sessions.release(address, lock.lockToken)
            .catch(() => {});
          this.#links.delete(link);
          return;
        }
        link.set_source({ address, filter: { 'com.microsoft:session-filter': lock.sessionId } });
        link.local.attach.properties = { 'com.microsoft:locked-until-utc': ticks(lock.lockedUntil) };
        link.attach();
        this.#requests.lockSession(address, lock.sessionId, lock.lockToken);
        this.#startReceiver(link, address, mode, grant, { id: lock.sessionId, token: lock.lockToken });
      },
      (err: unknown) => {
        this.#links.delete(link);
        if (this.#closed || !link.is_remote_open()) return;
        link.set_source(null);
        link.attach();
        link.close(toAmqpError(err));
      },
    );
  }

  #startReceiver(
    link: RheaLink,
    path: string,
    mode: 'peekLock' | 'receiveAndDelete',
    grant: Grant,
    session: { id: string; token: string } | undefined,
  ): void {
    const outbound = new Outbound(link, {
      broker: this.#ctx.broker,
      path,
      mode,
      session: session?.token,
      maxBatch: this.#ctx.limits.maxReceiveBatch,
      writable: () => this.#socket.writableLength < this.#ctx.limits.maxWriteBufferBytes,
      onWritable: (resume) => this.#socket.once('drain', resume),
      fail: (error) => {
        if (link.is_open()) link.close(error);
      },
    });
    const role: LinkRole =
      session === undefined ? { kind: 'receive', outbound, path } : { kind: 'receive', outbound, path, session };
    this.#track(link, role, grant, path, 'Listen');
    if (link.credit > 0) outbound.flow();
  }

  #flow(link: RheaLink): void {
    const state = this.#links.get(link);
    if (state?.role.kind === 'receive') state.role.outbound.flow();
  }

  #message(c: RheaContext): void {
    const link = c.receiver!;
    const delivery = c.delivery!;
    const state = this.#links.get(link);
    if (state === undefined || isPoisoned(link) || !link.is_open()) {
      settleIncoming(delivery, { condition: Condition.NotFound, description: 'The link is closed.' });
      return;
    }
    const done = (): void => link.add_credit(1);
    switch (state.role.kind) {
      case 'send': {
        // Sends in flight are bounded in bytes per connection: over half the bound, a link's credit
        // comes back only as the bytes fall; past the whole bound, the client ignored its credit.
        const size = deliverySize(link);
        this.#inflight += size;
        if (this.#inflight > this.#ctx.limits.maxInflightBytes) {
          this.fail('LimitExceeded', Condition.ResourceLimit, 'Too many bytes of sends in flight.');
          return;
        }
        sendToEntity(this.#ctx.broker(), state.role.entity, delivery, c.message, c.format, () =>
          this.#answered(link, size),
        );
        return;
      }
      case 'cbs':
        settleIncoming(delivery);
        this.#requests.putToken(c.message as AmqpMessage | undefined);
        done();
        return;
      case 'management':
        settleIncoming(delivery);
        this.#requests.manage(state.role.path, state.role.keyName, c.message as AmqpMessage | undefined, done);
        return;
      default:
        settleIncoming(delivery, {
          condition: Condition.NotImplemented,
          description: 'This link does not take messages.',
        });
    }
  }

  /** The broker answered a send of `size` bytes on `link`: hand credit back, to it and to starved links. */
  #answered(link: RheaLink, size: number): void {
    this.#inflight -= size;
    if (this.#inflight * 2 > this.#ctx.limits.maxInflightBytes) {
      if (link.is_open()) this.#starved.add(link);
      return;
    }
    if (link.is_open() && !this.#starved.has(link)) link.add_credit(1);
    // Starved links get their whole window back (rhea's `credit` is what the client still holds).
    for (const starved of this.#starved) {
      this.#starved.delete(starved);
      const top = this.#ctx.limits.linkCredit - starved.credit;
      if (starved.is_open() && top > 0) starved.add_credit(top);
    }
  }

  #outcome(kind: string, c: RheaContext): void {
    const link = c.sender;
    if (link === undefined || c.delivery === undefined) return;
    settleDelivery(this.#ctx.broker(), kind, c.delivery);
  }

  #linkClosed(link: RheaLink | undefined): void {
    if (link === undefined) return;
    const state = this.#links.get(link);
    if (state === undefined) return;
    this.#links.delete(link);
    this.#starved.delete(link);
    this.#claims.forget(link);
    this.#requests.forget(link);
    if (state.role.kind === 'pending') state.role.abort.abort();
    if (state.role.kind === 'receive') {
      state.role.outbound.close();
      const session = state.role.session;
      if (session !== undefined) {
        this.#requests.unlockSession(state.role.path, session.id);
        try {
          this.#ctx
            .broker()
            .sessions.release(state.role.path, session.token)
            .catch(() => {});
        } catch {
          // The bus is closed: its session locks went with it.
        }
      }
    }
  }
}

function notFoundOr(err: unknown, address: string): AmqpError {
  const e = toAmqpError(err);
  return e.condition === Condition.NotFound ? notFound(address) : e;
}
