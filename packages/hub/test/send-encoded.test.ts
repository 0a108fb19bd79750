/**
 * `Hub.sendEncoded`: an invocation written once as the JSON protocol writes it reaches JSON
 * connections as exactly that text and MessagePack connections decoded, in one send.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EncodedInvocation } from '@hubbub/hub-protocol';
import { waitFor } from '@hubbub/kernel';
import { type Backplane, type BackplaneMessage, createInProcessBackplane } from '../src/index.ts';
import { buildClient, startHub } from './helpers.ts';
import { RawClient } from './raw.ts';

describe('a pre-encoded send', () => {
  it('writes its text as it is to JSON connections and decodes it for MessagePack ones', async () => {
    const { server, url } = await startHub();
    const hub = server.hub('tracking');
    try {
      const raw = await RawClient.json(url, 'tracking');
      const packed = buildClient(`${url}/hubs/tracking`, { protocol: 'messagepack' });
      const json = buildClient(`${url}/hubs/tracking`);
      const got: { packed: unknown[][]; json: unknown[][] } = { packed: [], json: [] };
      packed.on('location', (...args: unknown[]) => got.packed.push(args));
      json.on('location', (...args: unknown[]) => got.json.push(args));
      await packed.start();
      await json.start();
      const rawId = [...hub.connections()]
        .map((c) => c.connectionId)
        .find((id) => id !== packed.connectionId && id !== json.connectionId)!;
      for (const id of [rawId, packed.connectionId!, json.connectionId!]) await hub.groups.add(id, 'order-7');

      const location = { orderid: '7', lat: 47.6, longitude: -122.3, note: 'é "quoted" \u2028' };
      const text = JSON.stringify({ type: 1, target: 'location', arguments: [location, 2] });
      await hub.sendEncoded({ kind: 'groups', names: ['order-7'] }, new EncodedInvocation('location', text));

      const frame = await raw.next();
      assert.equal(frame.binary, false);
      assert.equal(frame.data.toString('utf8'), `${text}\x1e`);
      await waitFor(() => got.packed.length === 1 && got.json.length === 1);
      assert.deepEqual(got.packed, [[location, 2]]);
      assert.deepEqual(got.json, [[location, 2]]);
      raw.ws.close();
      await packed.stop();
      await json.stop();
    } finally {
      await server.close();
    }
  });

  it('crosses a backplane that serialises messages as a plain send, its arguments decoded', async () => {
    const inner = createInProcessBackplane();
    const published: string[] = [];
    const backplane: Backplane = {
      publish: (message) => {
        const text = JSON.stringify(message);
        published.push(text);
        return inner.publish(JSON.parse(text) as BackplaneMessage);
      },
      subscribe: (handler) => inner.subscribe(handler),
      close: () => inner.close(),
    };
    const { server, url } = await startHub({ backplane });
    const hub = server.hub('tracking');
    try {
      const raw = await RawClient.json(url, 'tracking');
      const text = JSON.stringify({ type: 1, target: 'location', arguments: [{ orderid: '7' }] });
      await hub.sendEncoded({ kind: 'all' }, new EncodedInvocation('location', text));
      assert.deepEqual(JSON.parse(published.at(-1)!), {
        kind: 'send',
        hub: 'tracking',
        audience: { kind: 'all' },
        target: 'location',
        arguments: [{ orderid: '7' }],
      });
      assert.equal((await raw.next()).data.toString('utf8'), `${text}\x1e`);
      raw.ws.close();
    } finally {
      await server.close();
    }
  });
});
