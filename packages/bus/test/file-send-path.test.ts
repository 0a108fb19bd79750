import assert from 'node:assert/strict';
import { write as fsWrite, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openBus } from '@hubbub/bus';
import { FileEngine, type FsWrite } from '@hubbub/bus/engine';

// The send path's in-flight state after it was slimmed (one promise per flush, no suspended frames,
// parked messages as arrays): batches partly parked, single sends sharing a flush, a failed flush.
const root = mkdtempSync(join(tmpdir(), 'hubbub-bus-send-path-'));
let n = 0;
const dir = (): string => join(root, String(++n));

async function drain(bus: Awaited<ReturnType<typeof openBus>>, queue: string, count: number): Promise<unknown[]> {
  const receiver = bus.createReceiver(queue, { receiveMode: 'receiveAndDelete' });
  const got: unknown[] = [];
  while (got.length < count) {
    const batch = await receiver.receiveMessages(count - got.length, { maxWaitTimeMs: 2000 });
    assert.ok(batch.length > 0, `received ${got.length} of ${count}`);
    for (const m of batch) got.push(m.body);
  }
  await receiver.close();
  return got;
}

describe('file bus send path', () => {
  it('parks the part of a batch past the memory limit, large batches and small ones, in order', async () => {
    const d = dir();
    const bus = await openBus({
      engine: new FileEngine({ dir: d, memoryMessagesPerQueue: 5 }),
      entities: { queues: [{ name: 'q' }] },
    });
    const sender = bus.createSender('q');
    await sender.send(Array.from({ length: 20 }, (_, i) => ({ body: i }))); // 5 shown, 15 parked (> 16 inserts)
    await sender.send([{ body: 20 }, { body: 21 }, { body: 22 }]); // all parked (a small batch)
    await Promise.all(Array.from({ length: 10 }, (_, i) => sender.send({ body: 23 + i }))); // one flush, parked
    assert.equal((await bus.admin.getRuntimeProperties('q')).activeMessageCount, 33);
    assert.deepEqual(
      await drain(bus, 'q', 33),
      Array.from({ length: 33 }, (_, i) => i),
    );
    await bus.close();
  });

  it('rejects every send sharing a flush that fails, keeps what was acknowledged, and counts no lost message', async () => {
    const d = dir();
    let fail = false;
    const write: FsWrite = (fd, buffer, offset, length, position, callback) => {
      if (length >= 1024 * 1024 || !fail) return fsWrite(fd, buffer, offset, length, position, callback);
      callback(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }), 0);
    };
    const bus = await openBus({
      engine: new FileEngine({ dir: d, fsWrite: write, memoryMessagesPerQueue: 2 }),
      entities: { queues: [{ name: 'q' }] },
    });
    const sender = bus.createSender('q');
    await sender.send([{ body: 'a' }, { body: 'b' }, { body: 'c' }]); // 2 shown, 1 parked
    fail = true;
    const sends = Array.from({ length: 8 }, (_, i) => sender.send({ body: `lost ${i}` }));
    const results = await Promise.allSettled(sends);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.equal((r.reason as { code?: string }).code, 'BUS_ENGINE_FAILURE');
    }
    assert.equal((await bus.admin.getRuntimeProperties('q')).activeMessageCount, 3, 'the failed sends are withdrawn');
    await assert.rejects(sender.send({ body: 'after' }), { code: 'BUS_ENGINE_FAILURE' });
    await bus.close().catch(() => {});
    const reopened = await openBus({ url: `file://${d}`, entities: { queues: [{ name: 'q' }] } });
    assert.deepEqual(await drain(reopened, 'q', 3), ['a', 'b', 'c']);
    assert.equal((await reopened.admin.getRuntimeProperties('q')).activeMessageCount, 0);
    await reopened.close();
  });

  it('rejects a send on a closed sender without throwing synchronously', async () => {
    const bus = await openBus({ url: `file://${dir()}`, entities: { queues: [{ name: 'q' }] } });
    const sender = bus.createSender('q');
    await sender.close();
    const sent = sender.send({ body: 1 });
    assert.ok(sent instanceof Promise);
    await assert.rejects(sent, { code: 'BUS_CLOSED' });
    await bus.close();
  });
});
