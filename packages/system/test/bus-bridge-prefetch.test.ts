/**
 * The bus bridge's prefetch (host.json `extensions.serviceBus.prefetchCount`): one broker receive
 * takes what is there, up to that many, and holds it locked for the trigger; without it a trigger
 * locks one message at a time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openBus } from '@hubbub/bus';
import { bridgeBus } from '../src/index.ts';

async function lockedByTrigger(prefetch: number | undefined): Promise<number> {
  await using bus = await openBus({ url: 'memory://', entities: { queues: [{ name: 'work' }] } });
  await bus.createSender('work').send(Array.from({ length: 5 }, (_, i) => ({ body: { i } })));
  const abort = new AbortController();
  const messages = bridgeBus(bus)
    .receive(
      { queue: 'work' },
      { sessions: false, signal: abort.signal, ...(prefetch === undefined ? {} : { prefetch }) },
    )
    [Symbol.asyncIterator]();
  const first = await messages.next();
  assert.deepEqual(first.value?.body, { i: 0 });
  // What another receiver still finds is what the trigger did not lock.
  const others = await bus.createReceiver('work').receiveMessages(10, { maxWaitTimeMs: 0 });
  abort.abort();
  await messages.return?.();
  return 5 - others.length;
}

describe('bus bridge prefetch', () => {
  it('locks one message at a time by default, and up to prefetch with one receive', async () => {
    assert.equal(await lockedByTrigger(undefined), 1);
    assert.equal(await lockedByTrigger(0), 1);
    assert.equal(await lockedByTrigger(3), 3);
  });
});
