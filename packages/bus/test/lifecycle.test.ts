import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createBus, openBus } from '../src/index.ts';

describe('the bus as a part: createBus() starts nothing, start() opens', () => {
  it('touches no file before start, and opens (and locks) its directory on start', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hubbub-bus-part-'));
    try {
      const dir = join(root, 'bus');
      const bus = createBus({ url: `file://${dir}`, entities: { queues: [{ name: 'q' }] } });
      assert.equal(existsSync(dir), false);
      assert.throws(() => bus.admin, { code: 'BUS_NOT_STARTED' });
      assert.throws(() => bus.createSender('q'), { code: 'BUS_NOT_STARTED' });
      await assert.rejects(bus.acceptSession('q', 's'), { code: 'BUS_NOT_STARTED' });
      await bus.start();
      assert.equal(existsSync(dir), true);
      assert.equal(await bus.admin.queueExists('q'), true);
      // A second bus on the same directory is refused once the first holds it.
      await assert.rejects(openBus({ url: `file://${dir}` }), { code: 'BUS_DIR_LOCKED' });
      await bus.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('start() twice is one start; close() is idempotent, also before start; no start after close', async () => {
    const bus = createBus({ entities: { queues: [{ name: 'q' }] } });
    const first = bus.start();
    assert.equal(bus.start(), first);
    await first;
    await bus.close();
    await bus.close();
    assert.throws(() => bus.createSender('q'), { code: 'BUS_CLOSED' });
    await assert.rejects(bus.admin.createQueue('x'), { code: 'BUS_CLOSED' });
    await assert.rejects(bus.start(), { code: 'BUS_CLOSED' });

    const never = createBus();
    await never.close();
    await assert.rejects(never.start(), { code: 'BUS_CLOSED' });
    assert.throws(() => never.admin, { code: 'BUS_CLOSED' });
  });

  it('close() during start leaves nothing open', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hubbub-bus-part-'));
    try {
      const dir = join(root, 'bus');
      const bus = createBus({ url: `file://${dir}` });
      const started = bus.start();
      await bus.close();
      await assert.rejects(started, { code: 'BUS_CLOSED' });
      // The directory is free again: another bus opens it.
      await using again = await openBus({ url: `file://${dir}` });
      assert.equal(await again.admin.queueExists('q'), false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('listeners added before start hear the events', async () => {
    const bus = createBus({ entities: { queues: [{ name: 'q' }] } });
    const sent: { entity: string; count: number }[] = [];
    bus.on('sent', (event) => sent.push(event));
    await bus.start();
    await bus.createSender('q').send({ body: 'hello' });
    assert.deepEqual(sent, [{ entity: 'q', count: 1 }]);
    await bus.close();
  });
});
