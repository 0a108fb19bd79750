import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from './backoff.ts';
import { CodedError, codeGuard, HubbubError, InvalidOptionError, isHubbubError } from './errors.ts';
import { TypedEmitter } from './events.ts';
import { randomIds, sequentialIds } from './ids.ts';
import { createConsoleLogger } from './logger.ts';
import { waitFor } from './wait-for.ts';

describe('errors', () => {
  it('carry a stable code, status, detail and cause', () => {
    const cause = new Error('root');
    const err = new HubbubError('X_CODE', 'boom', { status: 400, detail: { field: 'a' }, cause });
    assert.equal(err.code, 'X_CODE');
    assert.equal(err.status, 400);
    assert.equal(err.cause, cause);
    assert.equal(err.name, 'HubbubError');
    assert.deepEqual(err.toJSON(), { code: 'X_CODE', message: 'boom', detail: { field: 'a' } });
    assert.ok(isHubbubError(err, 'X_CODE'));
    assert.ok(!isHubbubError(err, 'OTHER'));
    assert.equal(new InvalidOptionError('port', 'must be a number').code, 'KERNEL_INVALID_OPTION');
  });

  it('CodedError takes its status from the class table, a given one winning; codeGuard narrows by class and code', () => {
    class ShopError extends CodedError<'SHOP_GONE' | 'SHOP_BUSY' | 'SHOP_ODD'> {
      static readonly statuses = { SHOP_GONE: 410, SHOP_BUSY: 503 };
    }
    class PlainError extends CodedError<'PLAIN_X'> {}
    const isShopError = codeGuard(ShopError);
    const gone = new ShopError('SHOP_GONE', 'gone', { detail: { id: 1 } });
    assert.equal(gone.status, 410);
    assert.equal(gone.name, 'ShopError');
    assert.equal(new ShopError('SHOP_ODD', 'odd').status, undefined);
    assert.equal(new ShopError('SHOP_BUSY', 'busy', { status: 429 }).status, 429);
    assert.equal(new PlainError('PLAIN_X', 'x').status, undefined);
    assert.ok(isShopError(gone));
    assert.ok(isShopError(gone, 'SHOP_GONE'));
    assert.ok(!isShopError(gone, 'SHOP_BUSY'));
    assert.ok(!isShopError(new PlainError('PLAIN_X', 'x')));
    assert.ok(!isShopError(new Error('SHOP_GONE')));
  });
});

describe('backoffDelay', () => {
  it('grows by the factor and stops at the ceiling', () => {
    const opts = { initialMs: 100, maxMs: 1_000, random: () => 1 };
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => backoffDelay(n, opts)),
      [100, 200, 400, 800, 1_000],
    );
    assert.equal(backoffDelay(3, { ...opts, random: () => 0 }), 0);
  });
});

describe('TypedEmitter', () => {
  it('delivers to listeners, once() fires once, off() unsubscribes', () => {
    const e = new TypedEmitter<{ tick: (n: number) => void }>();
    const seen: number[] = [];
    const off = e.on('tick', (n) => seen.push(n));
    e.once('tick', (n) => seen.push(n * 10));
    e.emit('tick', 1);
    e.emit('tick', 2);
    off();
    e.emit('tick', 3);
    assert.deepEqual(seen, [1, 10, 2]);
    assert.equal(e.listenerCount('tick'), 0);
  });
});

describe('ids', () => {
  it('random ids are 22 URL-safe characters and distinct', () => {
    const a = randomIds.next();
    assert.match(a, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(a, randomIds.next());
    const seq = sequentialIds('c');
    assert.deepEqual([seq.next(), seq.next()], ['c-1', 'c-2']);
  });

  it('random UUIDs are RFC 4122 version 4 and distinct, across refills of the random pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1_000; i++) {
      const id = randomIds.uuid();
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      seen.add(id);
    }
    assert.equal(seen.size, 1_000);
  });
});

describe('createConsoleLogger', () => {
  it('writes JSON lines at or above its level with child bindings', () => {
    const lines: string[] = [];
    const log = createConsoleLogger({ level: 'info', write: (l) => lines.push(l) }).child({ hub: 'chat' });
    log.debug({}, 'hidden');
    log.warn({ err: Object.assign(new Error('x'), { code: 'E' }) }, 'shown');
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0] ?? '');
    assert.equal(line.hub, 'chat');
    assert.equal(line.msg, 'shown');
    assert.equal(line.err.code, 'E');
  });
});

describe('waitFor', () => {
  it('resolves with the first truthy value and times out with a code', async () => {
    let n = 0;
    assert.equal(await waitFor(() => ++n >= 3 && n), 3);
    await assert.rejects(
      waitFor(() => false, { timeoutMs: 20 }),
      { code: 'KERNEL_WAIT_TIMEOUT' },
    );
  });
});
