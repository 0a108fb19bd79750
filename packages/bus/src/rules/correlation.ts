/**
 * Correlation filters: every field that is set must equal the message's (strings exactly,
 * application properties by value); unset fields are ignored. At least one field is required.
 * @module
 */
import { BusError } from '../errors.ts';
import type { PropertyValue } from '../message.ts';
import { compareValues } from './evaluate.ts';
import type { RoutableMessage, RuleFilter } from './types.ts';

type CorrelationFilter = Extract<RuleFilter, { kind: 'correlation' }>;

const stringFields = [
  'correlationId',
  'messageId',
  'to',
  'replyTo',
  'subject',
  'sessionId',
  'replyToSessionId',
  'contentType',
] as const;

function sameValue(a: PropertyValue | undefined, b: PropertyValue): boolean {
  if (a === undefined) return false;
  if (a === null || b === null) return a === b;
  return compareValues(a, b) === 0;
}

export function compileCorrelation(filter: CorrelationFilter): (m: RoutableMessage) => boolean {
  const checks: Array<(m: RoutableMessage) => boolean> = [];
  for (const field of stringFields) {
    const expected = filter[field];
    if (expected === undefined) continue;
    if (typeof expected !== 'string') {
      throw new BusError('BUS_INVALID_FILTER', `correlation filter field '${field}' must be a string`, {
        detail: { field },
      });
    }
    checks.push((m) => m[field] === expected);
  }
  for (const [name, expected] of Object.entries(filter.applicationProperties ?? {})) {
    checks.push((m) => {
      const props = m.applicationProperties;
      return props !== undefined && Object.hasOwn(props, name) && sameValue(props[name], expected);
    });
  }
  if (checks.length === 0) {
    throw new BusError('BUS_INVALID_FILTER', 'a correlation filter needs at least one field or application property', {
      detail: { field: 'correlation' },
    });
  }
  if (checks.length === 1) return checks[0]!;
  return (m) => {
    for (const check of checks) if (!check(m)) return false;
    return true;
  };
}
