import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from './clock.ts';

describe('ManualClock', () => {
  it('fires due timers in time order and leaves later ones pending', () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b'), 20);
    clock.setTimeout(() => fired.push('a'), 10);
    clock.setTimeout(() => fired.push('c'), 30);
    clock.advance(25);
    assert.deepEqual(fired, ['a', 'b']);
    assert.equal(clock.now(), 25);
    assert.equal(clock.pending, 1);
  });

  it('fires timers scheduled by a firing timer when they fall in the same advance', () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now());
      clock.setTimeout(() => fired.push(clock.now()), 5);
    }, 5);
    clock.advance(10);
    assert.deepEqual(fired, [5, 10]);
  });

  it('does not fire a cancelled timer', () => {
    const clock = new ManualClock(0);
    let fired = false;
    clock
      .setTimeout(() => {
        fired = true;
      }, 1)
      .cancel();
    clock.advance(10);
    assert.equal(fired, false);
  });
});
