/**
 * Six-field NCRONTAB schedules as Azure Functions timer triggers use them:
 * `{second} {minute} {hour} {day} {month} {day-of-week}` with `*`, ranges `a-b`, steps `*\/n` and
 * `a-b/n`, lists `a,b`, month names (JAN–DEC) and day names (SUN–SAT, 0 and 7 both Sunday). Five
 * fields (no seconds) are accepted too, meaning second 0. Day-of-month and day-of-week combine as in
 * cron: when both are restricted, either may match. Times are UTC.
 * @module
 */
import { FunctionsError } from '../../errors.ts';

export interface Schedule {
  readonly expression: string;
  /** The first occurrence strictly after `after` (ms since epoch), or undefined if none within 5 years. */
  next(after: number): number | undefined;
}

interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const FIELDS: readonly Field[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  { name: 'day-of-week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

function bad(expression: string, why: string): FunctionsError {
  return new FunctionsError('FUNCTIONS_INVALID_SCHEDULE', `Invalid NCRONTAB schedule "${expression}": ${why}`, {
    detail: { schedule: expression },
  });
}

function parseValue(text: string, field: Field, expression: string): number {
  const upper = text.toUpperCase();
  const named = field.names?.indexOf(upper.slice(0, 3)) ?? -1;
  if (named >= 0 && /^[A-Z]+$/.test(upper)) return named + (field.name === 'month' ? 1 : 0);
  if (!/^\d+$/.test(text)) throw bad(expression, `"${text}" is not a valid ${field.name}.`);
  const n = Number(text);
  if (n < field.min || n > field.max) throw bad(expression, `${field.name} ${n} is outside ${field.min}-${field.max}.`);
  return n;
}

function parseField(text: string, field: Field, expression: string): Set<number> {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    if (part === '') throw bad(expression, `empty list item in ${field.name}.`);
    const [range, stepText, extra] = part.split('/');
    if (extra !== undefined || range === undefined) throw bad(expression, `"${part}" has more than one step.`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0)
        throw bad(expression, `step "${stepText}" must be a positive integer.`);
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (range === '*' || range === '?') {
      lo = field.min;
      hi = field.name === 'day-of-week' ? 6 : field.max;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-');
      lo = parseValue(a ?? '', field, expression);
      hi = parseValue(b ?? '', field, expression);
      if (hi < lo) throw bad(expression, `range "${range}" runs backwards.`);
    } else {
      lo = parseValue(range, field, expression);
      hi = stepText === undefined ? lo : field.name === 'day-of-week' ? 6 : field.max;
    }
    for (let v = lo; v <= hi; v += step) values.add(field.name === 'day-of-week' && v === 7 ? 0 : v);
  }
  return values;
}

/** Parses a schedule; throws FUNCTIONS_INVALID_SCHEDULE on a malformed one. */
export function parseSchedule(expression: string): Schedule {
  const span = /^(\d+):([0-5]\d):([0-5]\d)$/.exec(expression.trim());
  if (span !== null) {
    // TimeSpan form ("00:05:00"): every interval, counted from the previous occurrence.
    const every = (Number(span[1]) * 3600 + Number(span[2]) * 60 + Number(span[3])) * 1000;
    if (every === 0) throw bad(expression, 'the interval must be positive.');
    return { expression, next: (after) => after + every };
  }
  const parts = expression.trim().split(/\s+/);
  if (parts.length === 5) parts.unshift('0');
  if (parts.length !== 6)
    throw bad(
      expression,
      `expected 6 fields ({second} {minute} {hour} {day} {month} {day-of-week}), got ${parts.length}.`,
    );
  const [seconds, minutes, hours, days, months, weekdays] = parts.map((p, i) =>
    parseField(p, FIELDS[i]!, expression),
  ) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  const dayRestricted = parts[3] !== '*' && parts[3] !== '?';
  const weekRestricted = parts[5] !== '*' && parts[5] !== '?';
  const dayMatches = (d: Date): boolean => {
    const dom = days.has(d.getUTCDate());
    const dow = weekdays.has(d.getUTCDay());
    if (dayRestricted && weekRestricted) return dom || dow;
    if (dayRestricted) return dom;
    if (weekRestricted) return dow;
    return true;
  };
  return {
    expression,
    next(after) {
      const d = new Date(Math.floor(after / 1000) * 1000 + 1000);
      const limit = after + 5 * 366 * 86_400_000;
      while (d.getTime() <= limit) {
        if (!months.has(d.getUTCMonth() + 1)) {
          d.setUTCMonth(d.getUTCMonth() + 1, 1);
          d.setUTCHours(0, 0, 0);
          continue;
        }
        if (!dayMatches(d)) {
          d.setUTCDate(d.getUTCDate() + 1);
          d.setUTCHours(0, 0, 0);
          continue;
        }
        if (!hours.has(d.getUTCHours())) {
          d.setUTCHours(d.getUTCHours() + 1, 0, 0);
          continue;
        }
        if (!minutes.has(d.getUTCMinutes())) {
          d.setUTCMinutes(d.getUTCMinutes() + 1, 0);
          continue;
        }
        if (!seconds.has(d.getUTCSeconds())) {
          d.setUTCSeconds(d.getUTCSeconds() + 1);
          continue;
        }
        return d.getTime();
      }
      return undefined;
    },
  };
}
