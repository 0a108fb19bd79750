import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SingleFlight } from './single-flight.ts';

describe('single flight', () => {
  it('shares running work per key, and frees the key once it settles, either way', async () => {
    const flights = new SingleFlight();
    let calls = 0;
    let fail!: (err: Error) => void;
    const work = () =>
      new Promise<number>((_, reject) => {
        calls++;
        fail = reject;
      });
    const a = flights.run('k', work);
    const b = flights.run('k', work);
    const other = flights.run('other', async () => 'x');
    assert.equal(a, b);
    assert.equal(calls, 1);
    fail(new Error('down'));
    await assert.rejects(a, /down/);
    assert.equal(await other, 'x');
    assert.equal(flights.size, 0);
    assert.equal(await flights.run('k', async () => 2), 2);
  });

  it('remembers nothing when work throws synchronously', () => {
    const flights = new SingleFlight();
    assert.throws(() =>
      flights.run('k', () => {
        throw new Error('sync');
      }),
    );
    assert.equal(flights.size, 0);
  });
});
