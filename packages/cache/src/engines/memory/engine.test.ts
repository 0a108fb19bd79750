import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '@hubbub/kernel';
import type { EvictedEvent } from '../../port.ts';
import { MemoryEngine } from './engine.ts';

async function open(maxBytes: number, clock = new ManualClock()) {
  const engine = new MemoryEngine({ maxBytes, clock });
  const evicted: EvictedEvent[] = [];
  await engine.open({ error: () => {}, evicted: (e) => evicted.push(e) });
  return { engine, evicted, clock };
}

describe('memory engine', () => {
  it('counts each entry as its key UTF-8 bytes plus its value bytes', async () => {
    const { engine } = await open(1_000);
    await engine.set('ab', '1234', undefined);
    await engine.set('ü', 'é', undefined);
    assert.equal(engine.bytes, 2 + 4 + 2 + 2);
    await engine.set('ab', '1', undefined);
    assert.equal(engine.bytes, 2 + 1 + 2 + 2, 'a replaced entry counts once');
    await engine.delete('ü');
    assert.equal(engine.bytes, 3);
    await engine.increment('n', 1_000, undefined);
    assert.equal(engine.bytes, 3 + 1 + 4);
  });

  it('evicts the least recently used entries past maxBytes, and says how many', async () => {
    const { engine, evicted } = await open(30);
    for (const key of ['a', 'b', 'c']) await engine.set(key, '123456789', undefined); // 10 bytes each
    await engine.get('a'); // a is now the most recently used; b the least
    await engine.set('d', '1234', undefined);
    assert.equal(await engine.get('b'), undefined);
    assert.equal(await engine.get('a'), '123456789');
    assert.equal(engine.bytes, 25);
    assert.deepEqual(evicted, [{ reason: 'size', count: 1, bytes: 10 }]);
    await engine.set('big', 'x'.repeat(26), undefined);
    assert.equal(engine.size, 1, 'one large entry pushes out all the others');
    assert.deepEqual(evicted[1], { reason: 'size', count: 3, bytes: 25 });
  });

  it('refuses an entry larger than maxBytes with CACHE_TOO_LARGE and keeps what it had', async () => {
    const { engine } = await open(16);
    await engine.set('k', 'v', undefined);
    await assert.rejects(engine.set('big', 'x'.repeat(14), undefined), { code: 'CACHE_TOO_LARGE' });
    assert.equal(engine.size, 1);
  });

  it('drops an expired entry on read and sweeps unread ones as writes happen', async () => {
    const { engine, evicted, clock } = await open(10_000);
    for (let i = 0; i < 10; i++) await engine.set(`old${i}`, 'v', 1_000);
    await engine.set('keep', 'v', undefined);
    clock.advance(1_000);
    assert.equal(await engine.get('old0'), undefined);
    assert.deepEqual(evicted, [{ reason: 'expired', count: 1, bytes: 5 }]);
    assert.equal(engine.size, 10);
    for (let i = 0; i < 5; i++) await engine.set(`new${i}`, 'v', undefined);
    assert.equal(engine.size, 6, 'every expired entry was swept without being read');
    assert.equal(engine.bytes, 6 * 5);
    assert.equal(
      evicted.reduce((sum, e) => sum + e.count, 0),
      10,
    );
  });

  it('refuses calls before open and after close with CACHE_CLOSED', async () => {
    const engine = new MemoryEngine();
    await assert.rejects(engine.get('k'), { code: 'CACHE_CLOSED' });
    await engine.open({ error: () => {}, evicted: () => {} });
    await engine.set('k', '1', undefined);
    await engine.close();
    await assert.rejects(engine.increment('k', 1, undefined), { code: 'CACHE_CLOSED' });
    assert.equal(engine.bytes, 0);
  });

  it('refuses a maxBytes that is not a positive integer', () => {
    for (const maxBytes of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new MemoryEngine({ maxBytes }), { code: 'KERNEL_INVALID_OPTION' });
    }
  });
});
