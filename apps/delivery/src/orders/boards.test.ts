import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { enteredStatusAt } from './boards.ts';
import type { Order } from './rules.ts';
import { DEFAULT_STUCK_AFTER_SECONDS, parseStuckAfter, stuckThresholds } from './stuck.ts';

describe('stuck thresholds', () => {
  it('fill in the defaults for the statuses not given', () => {
    assert.deepEqual(stuckThresholds({ placed: 30 }), { ...DEFAULT_STUCK_AFTER_SECONDS, placed: 30 });
    assert.deepEqual(stuckThresholds(), DEFAULT_STUCK_AFTER_SECONDS);
  });

  it('refuse an unknown or final status and a number that is not positive, naming the option', () => {
    for (const [given, option] of [
      [{ delivered: 5 }, 'stuckAfterSeconds.delivered'],
      [{ nope: 5 }, 'stuckAfterSeconds.nope'],
      [{ ready: 0 }, 'stuckAfterSeconds.ready'],
      [{ ready: -1 }, 'stuckAfterSeconds.ready'],
      [{ ready: Number.NaN }, 'stuckAfterSeconds.ready'],
      [{ ready: '60' }, 'stuckAfterSeconds.ready'],
    ] as const) {
      assert.throws(
        () => stuckThresholds(given as never),
        (err: { code?: string; detail?: { option?: string } }) =>
          err.code === 'KERNEL_INVALID_OPTION' && err.detail?.option === option,
      );
    }
  });
});

describe('the --stuck-after flag', () => {
  it('reads status=seconds pairs', () => {
    assert.deepEqual(parseStuckAfter('placed=120, ready=900'), {
      ...DEFAULT_STUCK_AFTER_SECONDS,
      placed: 120,
      ready: 900,
    });
    assert.deepEqual(parseStuckAfter(''), DEFAULT_STUCK_AFTER_SECONDS);
  });

  it('refuses a malformed pair, an unknown status and zero', () => {
    for (const [text, option] of [
      ['placed', 'stuck-after'],
      ['placed=-5', 'stuck-after'],
      ['placed=5m', 'stuck-after'],
      ['eaten=5', 'stuckAfterSeconds.eaten'],
      ['ready=0', 'stuckAfterSeconds.ready'],
    ] as const) {
      assert.throws(
        () => parseStuckAfter(text),
        (err: { code?: string; detail?: { option?: string } }) =>
          err.code === 'KERNEL_INVALID_OPTION' && err.detail?.option === option,
        text,
      );
    }
  });
});

describe('when an order entered its status', () => {
  const order = (history: { status: string; at: string }[], status: string) =>
    ({ status, history, updatedAt: '2026-01-01T00:09:00.000Z' }) as unknown as Order;

  it('is the last history entry of the current status', () => {
    const o = order(
      [
        { status: 'placed', at: '2026-01-01T00:00:00.000Z' },
        { status: 'accepted', at: '2026-01-01T00:01:00.000Z' },
      ],
      'accepted',
    );
    assert.equal(enteredStatusAt(o), '2026-01-01T00:01:00.000Z');
  });

  it('is the last change when the history does not have it', () => {
    assert.equal(enteredStatusAt(order([], 'placed')), '2026-01-01T00:09:00.000Z');
  });
});
