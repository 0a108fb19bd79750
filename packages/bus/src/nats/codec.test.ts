import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { StoredMessage } from '../engine/port.ts';
import { decodePayload, encodePayload } from './codec.ts';
import { natsOptionsFromUrl } from './index.ts';
import { parseServers } from './url.ts';

const message: StoredMessage = {
  entity: 'q',
  seq: 7,
  body: Buffer.from('{"a":1}'),
  bodyType: 'json',
  enqueuedTime: 1_700_000_000_000,
  expiresAt: 1_700_000_060_000,
  deliveryCount: 2,
  state: 'active',
  messageId: 'm',
  sessionId: 's',
  applicationProperties: { big: 12345678901234567890n, when: new Date(5), n: 1.5, s: 'x', f: false, none: null },
  deadLetterReason: 'why',
};

it('round-trips a stored message: properties keep bigints and dates; the stream sequence fills in', () => {
  const moved = decodePayload(encodePayload(message, true), 'q', 'deferred', 99);
  assert.deepEqual({ ...moved, body: Buffer.from(moved.body) }, { ...message, state: 'deferred' });
  const fresh = decodePayload(encodePayload(message, false), 'other', 'active', 42);
  assert.equal(fresh.seq, 42);
  assert.equal(fresh.entity, 'other');
});

it('refuses bytes that are no bus message with BUS_ENGINE_FAILURE', () => {
  const header = (json: string) => {
    const meta = Buffer.from(json);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(meta.byteLength);
    return Buffer.concat([len, meta]);
  };
  const fields = '"bodyType":"string","enqueuedTime":1,"deliveryCount":0';
  for (const bad of [
    Buffer.alloc(0),
    Buffer.from([0, 0, 0, 99, 1]),
    Buffer.from([0xff, 0xff, 0xff, 0xff]),
    header('{x}'),
    header('"text"'),
    header('null'),
    header('[1]'),
    header('{"bodyType":"nope","enqueuedTime":1}'),
    header('{"bodyType":"json","enqueuedTime":"soon"}'),
    header(`{${fields},"deliveryCount":-1}`),
    header(`{${fields},"seq":1.5}`),
    header(`{${fields},"expiresAt":"never"}`),
    header(`{${fields},"messageId":5}`),
    header(`{${fields},"applicationProperties":[]}`),
    header(`{${fields},"applicationProperties":{"p":["b","xyz"]}}`),
    header(`{${fields},"applicationProperties":{"p":{"nested":1}}}`),
  ]) {
    assert.throws(() => decodePayload(bad, 'q', 'active', 1), { code: 'BUS_ENGINE_FAILURE' }, bad.toString());
  }
  assert.equal(decodePayload(header(`{${fields}}`), 'q', 'active', 3).seq, 3);
});

it('reads nats:// URLs: servers, namespace and replicas; anything else is BUS_INVALID_OPTION', () => {
  assert.deepEqual(parseServers('nats://a:4222,nats://b:4222,c:4222'), ['a:4222', 'b:4222', 'c:4222']);
  assert.deepEqual(natsOptionsFromUrl('nats://h:1?namespace=prod&replicas=3'), {
    url: 'nats://h:1',
    namespace: 'prod',
    replicas: 3,
  });
  for (const bad of ['nats://', 'http://h:4222', 'nats://a b', 'nats://h:1?x=1', 'nats://h:1;rm']) {
    assert.throws(() => natsOptionsFromUrl(bad), { code: 'BUS_INVALID_OPTION' }, bad);
  }
});
