/** What the running system says in its log: a warning per dead-lettered message, a debug line per request. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createConsoleLogger, waitFor } from '@hubbub/kernel';
import { startSystem } from '../src/index.ts';

type Line = { level: string; msg: string; part?: string; reason?: string; entity?: string; status?: number };

describe('the system log', () => {
  it('warns when a message is dead-lettered, with its reason, and logs each request at debug', async () => {
    const lines: Line[] = [];
    const logger = createConsoleLogger({ level: 'debug', write: (l) => lines.push(JSON.parse(l) as Line) });
    await using system = await startSystem({ port: 0, logger, push: false });
    await system.bus.admin.createQueue('fragile', { maxDeliveryCount: 1 });
    await system.bus.createSender('fragile').send({ body: 'poison' });
    const receiver = system.bus.createReceiver('fragile');
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeMs: 5_000 });
    await message!.abandon();
    // Past its delivery count: the next receive moves it to the dead-letter queue.
    assert.deepEqual(await receiver.receiveMessages(1, { maxWaitTimeMs: 200 }), []);
    await receiver.close();
    const warning = await waitFor(() => lines.find((l) => l.msg.startsWith('Dead-lettered')), { what: 'the warning' });
    assert.equal(warning.level, 'warn');
    assert.equal(warning.part, 'bus');
    assert.equal(warning.entity, 'fragile/$DeadLetterQueue');
    assert.equal(warning.reason, 'MaxDeliveryCountExceeded');
    assert.match(warning.msg, /MaxDeliveryCountExceeded/);

    assert.equal((await fetch(`${system.url}/healthz?token=secret`)).status, 200);
    const request = await waitFor(() => lines.find((l) => l.part === 'http'), { what: 'the request line' });
    assert.equal(request.level, 'debug');
    assert.match(request.msg, /^GET \/healthz 200 \d+ms$/);
    assert.equal(request.msg.includes('secret'), false, 'no query string: it may carry tokens');
  });
});
