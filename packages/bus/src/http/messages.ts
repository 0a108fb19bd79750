/**
 * Message routes of the REST API: send (single and batch), peek-lock and receive-and-delete of
 * the head, complete / unlock / renew by lock token, and peek (a Hubbub extension).
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { queryParam } from '@hubbub/kernel';
import type { Delivery } from '../broker/port.ts';
import type { Bus } from '../client.ts';
import { BusError } from '../errors.ts';
import type { PropertyValue, ServiceBusMessage } from '../message.ts';
import { toReceivedMessage } from '../received-message.ts';
import {
  brokerPropertiesToMessage,
  messageToBrokerProperties,
  parseBrokerPropertiesHeader,
} from './broker-properties.ts';
import { parseJson, readBody, sendEmpty, sendJson } from './respond.ts';
import { customHeadersToProperties, decodeBody, formatPropertyValue, isHeaderName } from './wire.ts';

export const BATCH_CONTENT_TYPE = 'application/vnd.microsoft.servicebus.json';

export interface MessageContext {
  readonly bus: Bus;
  readonly maxRequestBytes: number;
  /** Longest receive wait a client may ask for, in seconds. */
  readonly maxTimeoutSeconds: number;
  /** Absolute URL of the API root (for Location headers). */
  readonly baseUrl: string;
}

const invalid = (message: string, field: string): BusError =>
  new BusError('BUS_INVALID_MESSAGE', message, { detail: { field } });

/** `POST /{entity}/messages`: one message (body + BrokerProperties + custom headers) or a JSON batch. */
export async function sendMessages(ctx: MessageContext, entity: string, req: IncomingMessage, res: ServerResponse) {
  const bytes = await readBody(req, ctx.maxRequestBytes);
  const contentType = req.headers['content-type'];
  let messages: ServiceBusMessage[];
  if (contentType?.toLowerCase().startsWith(BATCH_CONTENT_TYPE)) {
    messages = parseBatch(parseJson(bytes, 'BUS_INVALID_MESSAGE', 'batch'));
  } else {
    const fields = parseBrokerPropertiesHeader(req.headers.brokerproperties);
    const type = fields.contentType ?? contentType;
    const props = customHeadersToProperties(req.headers);
    messages = [
      {
        ...fields,
        ...(type === undefined ? {} : { contentType: type }),
        body: decodeBody(bytes, type),
        ...(props === undefined ? {} : { applicationProperties: props }),
      },
    ];
  }
  await ctx.bus.broker.send(entity, messages);
  sendEmpty(res, 201);
}

/** A batch: `[{ Body, BrokerProperties?, UserProperties? }, …]`; Body is a string (or any JSON value). */
export function parseBatch(value: unknown): ServiceBusMessage[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid('batch: must be a non-empty JSON array', 'batch');
  return value.map((item: unknown, i) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw invalid(`batch[${i}]: must be an object with Body`, `batch[${i}]`);
    }
    const entry = item as Record<string, unknown>;
    if (!('Body' in entry)) throw invalid(`batch[${i}].Body: is required`, `batch[${i}].Body`);
    const fields = brokerPropertiesToMessage(entry.BrokerProperties, `batch[${i}].BrokerProperties`);
    const user = entry.UserProperties;
    if (user !== undefined && (user === null || typeof user !== 'object' || Array.isArray(user))) {
      throw invalid(`batch[${i}].UserProperties: must be an object`, `batch[${i}].UserProperties`);
    }
    let body: unknown = entry.Body;
    if (typeof body === 'string') {
      body =
        entry.BodyEncoding === 'base64'
          ? Buffer.from(body, 'base64')
          : decodeBody(Buffer.from(body, 'utf8'), fields.contentType ?? 'text/plain');
    }
    return {
      ...fields,
      body,
      ...(user === undefined ? {} : { applicationProperties: user as Record<string, PropertyValue> }),
    };
  });
}

function timeoutMs(ctx: MessageContext, url: URL): number {
  const raw = queryParam(url.searchParams, 'timeout') ?? null;
  if (raw === null) return Math.min(60, ctx.maxTimeoutSeconds) * 1000;
  const seconds = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(seconds) || seconds < 0) {
    throw new BusError('BUS_INVALID_OPTION', 'timeout: must be a number of seconds ≥ 0', {
      detail: { option: 'timeout' },
    });
  }
  return Math.min(seconds, ctx.maxTimeoutSeconds) * 1000;
}

/** `POST …/messages/head` (peek-lock, 201) and `DELETE …/messages/head` (receive-and-delete, 200); 204 when empty. */
export async function receiveHead(
  ctx: MessageContext,
  entity: string,
  mode: 'peekLock' | 'receiveAndDelete',
  url: URL,
  res: ServerResponse,
): Promise<void> {
  const wait = timeoutMs(ctx, url);
  const abort = new AbortController();
  const onClose = (): void => abort.abort();
  res.on('close', onClose);
  try {
    const [delivery] = await ctx.bus.broker.receive(entity, {
      maxMessages: 1,
      mode,
      maxWaitTimeMs: wait,
      signal: abort.signal,
    });
    if (abort.signal.aborted) {
      // The client went away while waiting: give a peek-locked message back at once.
      if (delivery?.lockToken !== undefined)
        await ctx.bus.broker.settle(delivery.path, delivery.lockToken, { kind: 'abandon' }).catch(() => {});
      return;
    }
    if (delivery === undefined) {
      sendEmpty(res, 204);
      return;
    }
    writeDelivery(ctx, entity, delivery, mode === 'peekLock' ? 201 : 200, res);
  } finally {
    res.off('close', onClose);
  }
}

function writeDelivery(ctx: MessageContext, entity: string, d: Delivery, status: number, res: ServerResponse): void {
  const m = toReceivedMessage(d);
  const headers: Record<string, string> = {
    brokerproperties: JSON.stringify(messageToBrokerProperties(m, 'received')),
    'content-length': String(d.msg.body.byteLength),
  };
  const contentType = m.contentType ?? (d.msg.bodyType === 'string' ? 'text/plain; charset=utf-8' : undefined);
  if (contentType !== undefined) headers['content-type'] = contentType;
  if (d.lockToken !== undefined) {
    const id = encodeURIComponent(m.messageId ?? String(m.sequenceNumber));
    headers.location = `${ctx.baseUrl}/${entityUrl(entity)}/messages/${id}/${d.lockToken}`;
  }
  for (const [name, value] of Object.entries(m.applicationProperties)) {
    const lower = name.toLowerCase();
    if (!isHeaderName(name) || lower in headers || lower === 'content-type') continue;
    headers[name] = formatPropertyValue(value);
  }
  res.writeHead(status, headers);
  res.end(d.msg.body);
}

const entityUrl = (entity: string): string => entity.split('/').map(encodeURIComponent).join('/');

/** `DELETE` (complete), `PUT` (unlock / abandon), `POST` (renew lock) on `…/messages/{id}/{lockToken}`. */
export async function settle(
  ctx: MessageContext,
  entity: string,
  lockToken: string,
  method: string,
  res: ServerResponse,
): Promise<void> {
  const broker = ctx.bus.broker;
  if (method === 'DELETE') await broker.settle(entity, lockToken, { kind: 'complete' });
  else if (method === 'PUT') await broker.settle(entity, lockToken, { kind: 'abandon' });
  else {
    const lockedUntil = await broker.renewLock(entity, lockToken);
    sendEmpty(res, 200, {
      brokerproperties: JSON.stringify({ LockToken: lockToken, LockedUntilUtc: lockedUntil.toUTCString() }),
    });
    return;
  }
  sendEmpty(res, 200);
}

/** `GET /{entity}/messages?count=N&fromSequenceNumber=S` (Hubbub extension): peek without locking, as a JSON batch. */
export async function peek(ctx: MessageContext, entity: string, url: URL, res: ServerResponse): Promise<void> {
  const count = queryParam(url.searchParams, 'count') ?? '1';
  const from = queryParam(url.searchParams, 'fromSequenceNumber') ?? '1';
  if (!/^\d+$/.test(count) || Number(count) < 1 || Number(count) > 1000) {
    throw new BusError('BUS_INVALID_OPTION', 'count: must be an integer in 1…1000', { detail: { option: 'count' } });
  }
  if (!/^\d+$/.test(from)) {
    throw new BusError('BUS_INVALID_OPTION', 'fromSequenceNumber: must be a non-negative integer', {
      detail: { option: 'fromSequenceNumber' },
    });
  }
  const deliveries = await ctx.bus.broker.peek(entity, {
    fromSequenceNumber: BigInt(from),
    maxMessageCount: Number(count),
  });
  sendJson(res, 200, deliveries.map(toBatchEntry));
}

/** A delivery in the batch format (what a batch send accepts back, so peeked messages can be resubmitted). */
export function toBatchEntry(d: Delivery): Record<string, unknown> {
  const m = toReceivedMessage(d);
  const bytes = Buffer.from(d.msg.body.buffer, d.msg.body.byteOffset, d.msg.body.byteLength);
  const user: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m.applicationProperties)) {
    user[k] = typeof v === 'bigint' ? Number(v) : v instanceof Date ? v.toISOString() : v;
  }
  return {
    Body: d.msg.bodyType === 'bytes' ? bytes.toString('base64') : bytes.toString('utf8'),
    ...(d.msg.bodyType === 'bytes' ? { BodyEncoding: 'base64' } : {}),
    BrokerProperties: messageToBrokerProperties(m, 'peeked'),
    UserProperties: user,
  };
}
