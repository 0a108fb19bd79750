/**
 * Entity management routes. Service Bus speaks Atom XML here; Hubbub speaks JSON with the same
 * property names (camelCase) — `PUT` creates (or, with `If-Match: *`, updates), `GET` reads with
 * runtime counts, `DELETE` removes.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Bus } from '../client.ts';
import { BusError, entityNotFound } from '../errors.ts';
import type { RuleDescription } from '../rules/index.ts';
import { parseJson, readBody, sendEmpty, sendJson } from './respond.ts';

/** A JSON object body (an empty body is `{}`); BUS_INVALID_OPTION otherwise. */
async function readOptions(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const bytes = await readBody(req, limit);
  if (bytes.length === 0) return {};
  const value = parseJson(bytes, 'BUS_INVALID_OPTION', 'body');
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new BusError('BUS_INVALID_OPTION', 'body: must be a JSON object', { detail: { option: 'body' } });
  }
  return value as Record<string, unknown>;
}

const isUpdate = (req: IncomingMessage): boolean => req.headers['if-match'] === '*';

/** `/{entity}`: a queue or a topic. */
export async function entity(bus: Bus, name: string, req: IncomingMessage, res: ServerResponse, limit: number) {
  const admin = bus.admin;
  switch (req.method) {
    case 'GET': {
      if (await admin.queueExists(name)) {
        const props = await admin.getQueue(name);
        const runtime = await admin.getRuntimeProperties(name);
        sendJson(res, 200, { kind: 'queue', ...props, runtime });
        return;
      }
      if (await admin.topicExists(name)) {
        const props = await admin.getTopic(name);
        const subscriptions = (await admin.listSubscriptions(name)).map((s) => s.subscriptionName);
        sendJson(res, 200, { kind: 'topic', ...props, subscriptions });
        return;
      }
      throw entityNotFound(name);
    }
    case 'PUT': {
      const { kind = 'queue', ...options } = await readOptions(req, limit);
      if (kind !== 'queue' && kind !== 'topic') {
        throw new BusError('BUS_INVALID_OPTION', "kind: must be 'queue' or 'topic'", { detail: { option: 'kind' } });
      }
      const update = isUpdate(req);
      const props =
        kind === 'queue'
          ? await (update ? admin.updateQueue(name, options) : admin.createQueue(name, options))
          : await (update ? admin.updateTopic(name, options) : admin.createTopic(name, options));
      sendJson(res, update ? 200 : 201, { kind, ...props });
      return;
    }
    case 'DELETE':
      if (await admin.queueExists(name)) await admin.deleteQueue(name);
      else if (await admin.topicExists(name)) await admin.deleteTopic(name);
      else throw entityNotFound(name);
      sendEmpty(res, 200);
      return;
  }
}

/** `/{topic}/subscriptions/{subscription}`. */
export async function subscription(
  bus: Bus,
  topic: string,
  name: string,
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
) {
  const admin = bus.admin;
  switch (req.method) {
    case 'GET': {
      const props = await admin.getSubscription(topic, name);
      const runtime = await admin.getRuntimeProperties({ topic, subscription: name });
      sendJson(res, 200, { ...props, runtime });
      return;
    }
    case 'PUT': {
      const options = await readOptions(req, limit);
      const update = isUpdate(req);
      const props = update
        ? await admin.updateSubscription(topic, name, options)
        : await admin.createSubscription(topic, name, options);
      sendJson(res, update ? 200 : 201, props);
      return;
    }
    case 'DELETE':
      await admin.deleteSubscription(topic, name);
      sendEmpty(res, 200);
      return;
  }
}

/** `/{topic}/subscriptions/{subscription}/rules/{rule}`: body `{ filter, action? }` as {@link RuleDescription}. */
export async function rule(
  bus: Bus,
  topic: string,
  sub: string,
  name: string,
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
) {
  const admin = bus.admin;
  switch (req.method) {
    case 'GET':
      sendJson(res, 200, await admin.getRule(topic, sub, name));
      return;
    case 'PUT': {
      const body = await readOptions(req, limit);
      if (body.filter === undefined) {
        throw new BusError('BUS_INVALID_FILTER', 'filter: is required ({ "kind": "sql", "expression": "…" } …)', {
          detail: { field: 'filter' },
        });
      }
      const description = { ...body, name } as RuleDescription;
      sendJson(res, 201, await admin.createRule(topic, sub, description));
      return;
    }
    case 'DELETE':
      await admin.deleteRule(topic, sub, name);
      sendEmpty(res, 200);
      return;
  }
}
