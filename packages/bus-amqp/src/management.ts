/**
 * The `$management` node of an entity (`queue/$management`, `t/Subscriptions/s/$management`):
 * request/response operations the SDK sends as amqp-value maps — peek, lock renewal, scheduling,
 * deferred receive, settlement by lock token, session locks and state, and rules. Each answers
 * with camelCase `statusCode` / `statusDescription` (the SDK's empty-peek check reads
 * `statusCode`), an `errorCondition` on failure.
 * @module
 */
import type { SasRight } from '@hubbub/bus';
import type { Broker, ReceiveMode, Settlement } from '@hubbub/bus/broker';
import { asBigInt, guidBytes, guidString, toBusMessage } from './codec.ts';
import { Condition, toAmqpError, toStatus } from './conditions.ts';
import { encodeDelivery } from './encode.ts';
import { type AmqpMessage, amqpMessage, types } from './rhea.ts';
import { plain, ruleFromRequest, ruleToWire } from './rules.ts';

export interface ManagementContext {
  readonly broker: Broker;
  /** The entity the node belongs to (`queue`, `queue/$DeadLetterQueue`, `t/Subscriptions/s`). */
  readonly path: string;
  /** The lock token of a session this connection holds on `path`. */
  readonly sessionToken: (sessionId: string) => string | undefined;
  /** Largest number of messages one peek or receive-by-sequence-number answers with. */
  readonly maxMessages: number;
}

/** The right each operation needs; anything not listed needs Listen. */
export function rightFor(operation: string): SasRight {
  switch (operation) {
    case 'com.microsoft:schedule-message':
    case 'com.microsoft:cancel-scheduled-message':
      return 'Send';
    case 'com.microsoft:add-rule':
    case 'com.microsoft:remove-rule':
    case 'com.microsoft:enumerate-rules':
      return 'Manage';
    default:
      return 'Listen';
  }
}

type Body = Record<string, unknown>;
type Result = { status: number; body?: unknown };

class BadRequest extends Error {}

const bad = (message: string): BadRequest => new BadRequest(message);

/**
 * A map entry as an object: the 1.x SDK's `wrap_map` of typed keys and values arrives as a flat
 * `[key, value, key, value …]` list of typed values.
 */
function mapOf(v: unknown): Body | null {
  if (!Array.isArray(v)) return (v ?? null) as Body | null;
  const out: Body = {};
  for (let i = 0; i + 1 < v.length; i += 2) {
    const key = plain(v[i]);
    if (typeof key === 'string') out[key] = v[i + 1];
  }
  return out;
}

function list(v: unknown, field: string): unknown[] {
  const x = plain(v);
  if (!Array.isArray(x)) throw bad(`${field} must be an array`);
  return x.map(plain);
}

function int(v: unknown, field: string, fallback?: number): number {
  const x = plain(v);
  if (x === undefined || x === null) {
    if (fallback !== undefined) return fallback;
    throw bad(`${field} is required`);
  }
  const n = typeof x === 'number' ? x : Number(asBigInt(x) ?? Number.NaN);
  if (!Number.isSafeInteger(n) || n < 0) throw bad(`${field} must be a non-negative integer`);
  return n;
}

function seqs(v: unknown, field: string): bigint[] {
  return list(v, field).map((x) => {
    const n = asBigInt(x);
    if (n === undefined || n < 0n) throw bad(`${field} must hold sequence numbers`);
    return n;
  });
}

function lockTokens(v: unknown): string[] {
  return list(v, 'lock-tokens').map((x) => {
    if (!Buffer.isBuffer(x) || x.length !== 16) throw bad('lock-tokens must hold uuids');
    return guidString(x);
  });
}

function optionalString(v: unknown, field: string): string | undefined {
  const x = plain(v);
  if (x === undefined || x === null) return undefined;
  if (typeof x !== 'string') throw bad(`${field} must be a string`);
  return x;
}

function sessionToken(ctx: ManagementContext, body: Body): string | undefined {
  const id = optionalString(body['session-id'], 'session-id');
  if (id === undefined) return undefined;
  const token = ctx.sessionToken(id);
  if (token === undefined) {
    throw Object.assign(bad(`this connection holds no lock on session '${id}'`), {
      condition: Condition.SessionLockLost,
      status: 410,
    });
  }
  return token;
}

function subscriptionOf(path: string): { topic: string; subscription: string } {
  const m = /^(.+)\/subscriptions\/([^/]+)$/i.exec(path);
  if (m === null)
    throw Object.assign(bad(`${path} is not a subscription`), { condition: Condition.NotFound, status: 404 });
  return { topic: m[1]!, subscription: m[2]! };
}

const dispositions: Record<string, Settlement['kind']> = {
  completed: 'complete',
  abandoned: 'abandon',
  defered: 'defer',
  deferred: 'defer',
  suspended: 'deadLetter',
};

const operations: Record<string, (ctx: ManagementContext, body: Body) => Promise<Result>> = {
  async 'com.microsoft:renew-lock'(ctx, body) {
    const expirations: Date[] = [];
    for (const token of lockTokens(body['lock-tokens'])) expirations.push(await ctx.broker.renewLock(ctx.path, token));
    return {
      status: 200,
      body: {
        expirations: types.wrap_array(
          expirations.map((d) => d.getTime()),
          0x83,
        ),
      },
    };
  },

  async 'com.microsoft:peek-message'(ctx, body) {
    const from = asBigInt(plain(body['from-sequence-number'])) ?? 1n;
    const count = Math.min(int(body['message-count'], 'message-count', 1), ctx.maxMessages);
    const sessionId = optionalString(body['session-id'], 'session-id');
    const got = await ctx.broker.peek(ctx.path, {
      fromSequenceNumber: from,
      maxMessageCount: Math.max(count, 1),
      sessionId,
    });
    if (got.length === 0) return { status: 204 };
    return {
      status: 200,
      body: { messages: got.map((d) => ({ message: encodeDelivery({ ...d, lockedUntil: undefined }) })) },
    };
  },

  async 'com.microsoft:schedule-message'(ctx, body) {
    const items = list(body.messages, 'messages');
    if (items.length > ctx.maxMessages) throw bad(`at most ${ctx.maxMessages} messages per request`);
    const messages = items.map((item) => {
      const entry = mapOf(plain(item));
      const bytes = plain(entry?.message);
      if (!Buffer.isBuffer(bytes)) throw bad('messages[].message must be an encoded message');
      const m = toBusMessage(amqpMessage.decode(bytes));
      const id = optionalString(entry?.['message-id'], 'message-id');
      if (m.messageId === undefined && id !== undefined) m.messageId = id;
      if (m.scheduledEnqueueTime === undefined) throw bad('a scheduled message needs x-opt-scheduled-enqueue-time');
      return m;
    });
    const numbers = await ctx.broker.send(ctx.path, messages);
    return { status: 200, body: { 'sequence-numbers': types.wrap_array(numbers.map(Number), 0x81) } };
  },

  async 'com.microsoft:cancel-scheduled-message'(ctx, body) {
    await ctx.broker.cancelScheduled(ctx.path, seqs(body['sequence-numbers'], 'sequence-numbers'));
    return { status: 200 };
  },

  async 'com.microsoft:receive-by-sequence-number'(ctx, body) {
    const numbers = seqs(body['sequence-numbers'], 'sequence-numbers');
    if (numbers.length > ctx.maxMessages) throw bad(`at most ${ctx.maxMessages} sequence numbers per request`);
    const mode: ReceiveMode =
      int(body['receiver-settle-mode'], 'receiver-settle-mode', 1) === 0 ? 'receiveAndDelete' : 'peekLock';
    const got = await ctx.broker.receiveDeferred(ctx.path, numbers, mode, sessionToken(ctx, body));
    return {
      status: 200,
      body: {
        messages: got.map((d) => ({
          ...(d.lockToken === undefined ? {} : { 'lock-token': types.wrap_uuid(guidBytes(d.lockToken)) }),
          message: encodeDelivery(d),
        })),
      },
    };
  },

  async 'com.microsoft:update-disposition'(ctx, body) {
    const status = optionalString(body['disposition-status'], 'disposition-status');
    const kind = status === undefined ? undefined : dispositions[status];
    if (kind === undefined) throw bad('disposition-status must be completed, abandoned, defered or suspended');
    const modify = plain(body['properties-to-modify']) as Record<string, never> | undefined | null;
    const props =
      modify !== null && modify !== undefined && Object.keys(modify).length > 0 ? { propertiesToModify: modify } : {};
    let settlement: Settlement;
    if (kind === 'deadLetter') {
      const reason = optionalString(body['deadletter-reason'], 'deadletter-reason');
      const description = optionalString(body['deadletter-description'], 'deadletter-description');
      settlement = {
        kind,
        ...(reason === undefined ? {} : { reason }),
        ...(description === undefined ? {} : { errorDescription: description }),
        ...props,
      };
    } else if (kind === 'complete') settlement = { kind };
    else settlement = { kind, ...props };
    for (const token of lockTokens(body['lock-tokens'])) await ctx.broker.settle(ctx.path, token, settlement);
    return { status: 200 };
  },

  async 'com.microsoft:renew-session-lock'(ctx, body) {
    const token = sessionToken(ctx, body);
    if (token === undefined) throw bad('session-id is required');
    const until = await ctx.broker.sessions.renew(ctx.path, token);
    return { status: 200, body: { expiration: new Date(until) } };
  },

  async 'com.microsoft:get-session-state'(ctx, body) {
    const token = sessionToken(ctx, body);
    if (token === undefined) throw bad('session-id is required');
    const state = await ctx.broker.sessions.getState(ctx.path, token);
    return { status: 200, body: { 'session-state': state === undefined ? null : Buffer.from(state) } };
  },

  async 'com.microsoft:set-session-state'(ctx, body) {
    const token = sessionToken(ctx, body);
    if (token === undefined) throw bad('session-id is required');
    const raw = plain(body['session-state']);
    if (raw !== null && raw !== undefined && !Buffer.isBuffer(raw)) throw bad('session-state must be binary or null');
    await ctx.broker.sessions.setState(ctx.path, token, raw === null || raw === undefined ? null : new Uint8Array(raw));
    return { status: 200 };
  },

  async 'com.microsoft:add-rule'(ctx, body) {
    const { topic, subscription } = subscriptionOf(ctx.path);
    let rule: ReturnType<typeof ruleFromRequest>;
    try {
      rule = ruleFromRequest(body['rule-name'], body['rule-description']);
    } catch (err) {
      throw bad((err as Error).message);
    }
    await ctx.broker.admin.createRule(topic, subscription, rule);
    return { status: 200 };
  },

  async 'com.microsoft:remove-rule'(ctx, body) {
    const { topic, subscription } = subscriptionOf(ctx.path);
    const name = optionalString(body['rule-name'], 'rule-name');
    if (name === undefined) throw bad('rule-name is required');
    await ctx.broker.admin.deleteRule(topic, subscription, name);
    return { status: 200 };
  },

  async 'com.microsoft:enumerate-rules'(ctx, body) {
    const { topic, subscription } = subscriptionOf(ctx.path);
    const skip = int(body.skip, 'skip', 0);
    const top = int(body.top, 'top', 2 ** 31 - 1);
    const rules = (await ctx.broker.admin.listRules(topic, subscription)).slice(skip, skip + top);
    if (rules.length === 0) return { status: 204 };
    return { status: 200, body: { rules: rules.map(ruleToWire) } };
  },
};

/** Whether the node knows the operation. */
export const knowsOperation = (operation: string): boolean => Object.hasOwn(operations, operation);

/** Runs one request; never rejects — failures become error replies. */
export async function handleManagement(ctx: ManagementContext, request: AmqpMessage): Promise<AmqpMessage> {
  const operation = String(request.application_properties?.operation ?? '');
  let result: Result;
  let error: { condition: string; description: string } | undefined;
  try {
    const run = operations[operation];
    if (run === undefined) {
      result = { status: 501 };
      error = { condition: Condition.NotImplemented, description: `Unknown operation '${operation}'.` };
    } else {
      const body = plain(request.body);
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bad('the request body must be a map');
      result = await run(ctx, body as Body);
    }
  } catch (err) {
    if (err instanceof BadRequest) {
      const e = err as BadRequest & { condition?: string; status?: number };
      result = { status: e.status ?? 400 };
      error = { condition: e.condition ?? Condition.ArgumentError, description: err.message };
    } else {
      const mapped = toAmqpError(err);
      result = { status: toStatus(err) };
      error = { condition: mapped.condition, description: mapped.description ?? 'The operation failed.' };
    }
  }
  const props: Record<string, unknown> = {
    statusCode: types.wrap_int(result.status),
    statusDescription: error?.description ?? (result.status === 204 ? 'No Content' : 'OK'),
  };
  if (error !== undefined) props.errorCondition = types.wrap_symbol(error.condition);
  const reply: AmqpMessage = { correlation_id: request.message_id, application_properties: props };
  if (request.reply_to !== undefined) reply.to = request.reply_to;
  if (result.body !== undefined) reply.body = types.wrap_map(result.body as Record<string, unknown>);
  return reply;
}
