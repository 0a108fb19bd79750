import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '@hubbub/kernel';
import { LockRenewer } from './lock-renewer.ts';
import type { BusReceivedMessage } from './port.ts';

const LOCK_MS = 30_000;
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A locked message whose renewals are counted; `fail` makes the next renewal reject. */
function lockedMessage(clock: ManualClock, id: string) {
  const m = {
    messageId: id,
    body: id,
    sequenceNumber: 1,
    enqueuedTime: new Date(clock.now()),
    deliveryCount: 0,
    lockedUntil: new Date(clock.now() + LOCK_MS),
    renewals: [] as number[],
    fail: false,
    complete: async () => {},
    abandon: async () => {},
    async renewLock(): Promise<Date> {
      if (m.fail) throw new Error('lock lost');
      m.renewals.push(clock.now());
      m.lockedUntil = new Date(clock.now() + LOCK_MS);
      return m.lockedUntil;
    },
  };
  return m satisfies BusReceivedMessage;
}

async function advance(clock: ManualClock, ms: number, step = 1_000): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await settle();
  }
}

describe('LockRenewer', () => {
  it('renews every held lock at half its remaining time until released', async () => {
    const clock = new ManualClock(0);
    const renewer = new LockRenewer({
      clock,
      maxAutoLockRenewalMs: 300_000,
      lost: () => assert.fail('no renewal fails'),
    });
    const a = lockedMessage(clock, 'a');
    renewer.hold([a]);
    await advance(clock, 5_000);
    const b = lockedMessage(clock, 'b');
    renewer.hold([b]);
    await advance(clock, 40_000);
    assert.deepEqual(a.renewals, [15_000, 30_000, 45_000]);
    assert.deepEqual(b.renewals, [20_000, 35_000]);
    renewer.release([a]);
    await advance(clock, 30_000);
    assert.deepEqual(a.renewals, [15_000, 30_000, 45_000], 'a released lock is not renewed');
    assert.deepEqual(b.renewals, [20_000, 35_000, 50_000, 65_000]);
    renewer.release([b]);
    assert.equal(renewer.size, 0);
  });

  it('stops renewing once the renewal budget is spent', async () => {
    const clock = new ManualClock(0);
    const renewer = new LockRenewer({
      clock,
      maxAutoLockRenewalMs: 40_000,
      lost: () => assert.fail('no renewal fails'),
    });
    const a = lockedMessage(clock, 'a');
    renewer.hold([a]);
    await advance(clock, 120_000);
    assert.deepEqual(a.renewals, [15_000, 30_000]);
    assert.equal(renewer.size, 0);
  });

  it('reports a failed renewal and leaves that lock to run out, keeping the others', async () => {
    const clock = new ManualClock(0);
    const lost: { messageId: string | undefined; error: unknown }[] = [];
    const renewer = new LockRenewer({
      clock,
      maxAutoLockRenewalMs: 300_000,
      lost: (message, error) => lost.push({ messageId: message.messageId, error }),
    });
    const a = lockedMessage(clock, 'a');
    const b = lockedMessage(clock, 'b');
    a.fail = true;
    renewer.hold([a, b]);
    await advance(clock, 35_000);
    assert.deepEqual(a.renewals, []);
    assert.deepEqual(b.renewals, [15_000, 30_000]);
    assert.deepEqual(
      lost.map((l) => ({ messageId: l.messageId, error: (l.error as Error).message })),
      [{ messageId: 'a', error: 'lock lost' }],
    );
    assert.equal(renewer.size, 1);
  });

  it('skips messages without a lock (receive-and-delete)', () => {
    const clock = new ManualClock(0);
    const renewer = new LockRenewer({
      clock,
      maxAutoLockRenewalMs: 300_000,
      lost: () => assert.fail('no renewal fails'),
    });
    const { renewLock: _r, lockedUntil: _l, ...unlocked } = lockedMessage(clock, 'a');
    renewer.hold([unlocked]);
    assert.equal(renewer.size, 0);
  });
});
