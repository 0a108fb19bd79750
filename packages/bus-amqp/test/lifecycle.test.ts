import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openBus } from '@hubbub/bus';
import { isHubbubError } from '@hubbub/kernel';
import { createAmqpFront, isAmqpFrontError } from '../src/index.ts';
import { KEY } from './harness.ts';
import { RawPeer } from './raw-peer.ts';

describe('AMQP front lifecycle', () => {
  it('validates its options at construction', async () => {
    await using bus = await openBus({ url: 'memory://' });
    for (const bad of [
      { keys: [] },
      { keys: [{ name: '', key: 'k' }] },
      { keys: [{ name: 'n', key: 'k', rights: ['Everything'] }] },
      { keys: [KEY], port: 70_000 },
      { keys: [KEY], maxFrameSize: 100 },
      { keys: [KEY], linkCredit: 0 },
    ]) {
      assert.throws(
        () => createAmqpFront({ bus, ...(bad as { keys: [] }) }),
        (err) => isHubbubError(err, 'KERNEL_INVALID_OPTION'),
        JSON.stringify(bad),
      );
    }
  });

  it('starts nothing until start(), reports a taken port, closes its connections and refuses a restart', async () => {
    await using bus = await openBus({ url: 'memory://' });
    const front = createAmqpFront({ bus, keys: [KEY], port: 0 });
    assert.equal(front.port, undefined);
    await front.start();
    const port = front.port!;
    const taken = createAmqpFront({ bus, keys: [KEY], port });
    await assert.rejects(taken.start(), (err) => isAmqpFrontError(err, 'BUS_AMQP_LISTEN_FAILED'));
    const peer = await RawPeer.connect(port);
    await peer.handshake();
    assert.equal(front.connectionCount, 1);
    await front.close();
    await peer.waitFor('close');
    assert.equal(peer.condition('close'), 'amqp:connection:forced');
    await peer.waitClosed();
    await assert.rejects(front.start(), (err) => isAmqpFrontError(err, 'BUS_AMQP_CLOSED'));
    await front.close();
  });

  it('refuses connections past maxConnections and serves the ones it holds', async () => {
    await using bus = await openBus({ url: 'memory://' });
    await using front = createAmqpFront({ bus, keys: [KEY], port: 0, maxConnections: 2 });
    await front.start();
    const held = [await RawPeer.connect(front.port!), await RawPeer.connect(front.port!)];
    for (const peer of held) await peer.handshake();
    const extra = await RawPeer.connect(front.port!);
    await extra.waitClosed();
    assert.equal(front.connectionCount, 2);
    for (const peer of held) peer.destroy();
  });
});
