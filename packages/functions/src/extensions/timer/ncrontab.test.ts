import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSchedule } from './ncrontab.ts';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

describe('parseSchedule', () => {
  const cases: [string, string, string][] = [
    ['*/5 * * * * *', '2026-01-01T00:00:03Z', '2026-01-01T00:00:05.000Z'],
    ['0 */5 * * * *', '2026-01-01T00:00:00Z', '2026-01-01T00:05:00.000Z'],
    ['0 30 9 * * *', '2026-01-01T10:00:00Z', '2026-01-02T09:30:00.000Z'],
    ['0 0 9-17/4 * * *', '2026-01-01T09:00:00Z', '2026-01-01T13:00:00.000Z'],
    ['0 0 0 * * MON', '2026-01-01T00:00:00Z', '2026-01-05T00:00:00.000Z'],
    ['0 0 0 * * 7', '2026-01-01T00:00:00Z', '2026-01-04T00:00:00.000Z'],
    ['0 0 12 1 JAN,jul *', '2026-02-01T00:00:00Z', '2026-07-01T12:00:00.000Z'],
    ['0 0 0 29 2 *', '2026-01-01T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['0 15,45 * * * *', '2026-01-01T00:15:00Z', '2026-01-01T00:45:00.000Z'],
    ['0 0 0 13 * FRI', '2026-02-01T00:00:00Z', '2026-02-06T00:00:00.000Z'],
    ['0 */2 * * *', '2026-01-01T00:00:30Z', '2026-01-01T02:00:00.000Z'],
    ['00:00:30', '2026-01-01T00:00:10Z', '2026-01-01T00:00:40.000Z'],
  ];
  for (const [expression, after, next] of cases) {
    it(`${expression} after ${after} is ${next}`, () => {
      assert.equal(iso(parseSchedule(expression).next(at(after))), next);
    });
  }

  it('rejects malformed schedules with FUNCTIONS_INVALID_SCHEDULE', () => {
    for (const bad of [
      '',
      '* * *',
      '60 * * * * *',
      '* * 24 * * *',
      '* * * 0 * *',
      '* * * * 13 *',
      '*/0 * * * * *',
      '5-1 * * * * *',
      'x * * * * *',
      '* * * * * FOO',
      '1,,2 * * * * *',
      '* * * * * * *',
      '00:00:00',
    ]) {
      assert.throws(() => parseSchedule(bad), { code: 'FUNCTIONS_INVALID_SCHEDULE' }, bad);
    }
  });
});
