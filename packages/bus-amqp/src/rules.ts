/**
 * Subscription rules as the `$management` node carries them: the `add-rule` request's
 * `rule-description` map, and the described lists `enumerate-rules` answers with (codes from the
 * Service Bus request-response protocol).
 * @module
 */
import type { PropertyValue, RuleDescription } from '@hubbub/bus';
import { propertyOut } from './codec.ts';
import { types } from './rhea.ts';

const Codes = {
  ruleDescription: 0x0000013700000004,
  sqlFilter: 0x0000001370000006,
  trueFilter: 0x0000001370000007,
  falseFilter: 0x0000001370000008,
  correlationFilter: 0x0000001370000009,
  emptyAction: 0x0000013700000005,
  sqlAction: 0x0000013700000006,
} as const;

/**
 * Unwraps a value rhea left typed (described or inside a described list), or one the 1.x SDK
 * wrapped twice (its `wrap_int` inside a map arrives as a typed value of a typed value).
 */
export const plain = (v: unknown): unknown => (isTyped(v) ? plain(v.value) : v);

function isTyped(v: unknown): v is { value: unknown } {
  if (v === null || typeof v !== 'object' || !('value' in v)) return false;
  if (typeof (v as { toRheaTyped?: unknown }).toRheaTyped === 'function') return true;
  const type = (v as { type?: { typecode?: unknown } }).type;
  return type !== null && typeof type === 'object' && typeof type.typecode === 'number';
}

const str = (v: unknown, field: string): string | undefined => {
  const x = plain(v);
  if (x === undefined || x === null) return undefined;
  if (typeof x !== 'string') throw new TypeError(`${field} must be a string`);
  return x;
};

const CORRELATION_FIELDS = [
  ['correlation-id', 'correlationId'],
  ['message-id', 'messageId'],
  ['to', 'to'],
  ['reply-to', 'replyTo'],
  ['label', 'subject'],
  ['session-id', 'sessionId'],
  ['reply-to-session-id', 'replyToSessionId'],
  ['content-type', 'contentType'],
] as const;

/** The rule an `add-rule` request describes; a TypeError names what is malformed. */
export function ruleFromRequest(name: unknown, description: unknown): RuleDescription {
  const ruleName = str(name, 'rule-name');
  if (ruleName === undefined || ruleName === '') throw new TypeError('rule-name is required');
  const d = plain(description) as Record<string, unknown> | null;
  if (d === null || typeof d !== 'object') throw new TypeError('rule-description must be a map');
  let rule: RuleDescription;
  const sql = plain(d['sql-filter']) as Record<string, unknown> | undefined | null;
  const corr = plain(d['correlation-filter']) as Record<string, unknown> | undefined | null;
  if (sql !== undefined && sql !== null) {
    const expression = str(sql.expression, 'sql-filter.expression');
    if (expression === undefined) throw new TypeError('sql-filter needs an expression');
    rule = { name: ruleName, filter: { kind: 'sql', expression } };
  } else if (corr !== undefined && corr !== null) {
    const filter: Record<string, unknown> = { kind: 'correlation' };
    for (const [wire, field] of CORRELATION_FIELDS) {
      const v = str(corr[wire], `correlation-filter.${wire}`);
      if (v !== undefined) filter[field] = v;
    }
    const props = plain(corr.properties) as Record<string, unknown> | undefined | null;
    if (props !== undefined && props !== null) {
      const out: Record<string, PropertyValue> = {};
      for (const [k, v] of Object.entries(props)) out[k] = plain(v) as PropertyValue;
      filter.applicationProperties = out;
    }
    rule = { name: ruleName, filter: filter as RuleDescription['filter'] };
  } else {
    throw new TypeError('rule-description needs a sql-filter or a correlation-filter');
  }
  const action = plain(d['sql-rule-action']) as Record<string, unknown> | undefined | null;
  if (action !== undefined && action !== null) {
    const expression = str(action.expression, 'sql-rule-action.expression');
    if (expression !== undefined) rule.action = { sqlExpression: expression };
  }
  return rule;
}

/** A rule as one entry of the `enumerate-rules` answer. */
export function ruleToWire(rule: RuleDescription): Record<string, unknown> {
  const f = rule.filter;
  let filter: unknown;
  if (f.kind === 'sql') filter = types.wrap_described([f.expression], Codes.sqlFilter);
  else if (f.kind === 'true') filter = types.wrap_described([], Codes.trueFilter);
  else if (f.kind === 'false') filter = types.wrap_described([], Codes.falseFilter);
  else {
    const props: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(f.applicationProperties ?? {})) props[k] = propertyOut(v);
    filter = types.wrap_described(
      [f.correlationId, f.messageId, f.to, f.replyTo, f.subject, f.sessionId, f.replyToSessionId, f.contentType]
        .map((v) => v ?? null)
        .concat([types.wrap_map(props) as never]),
      Codes.correlationFilter,
    );
  }
  const action =
    rule.action === undefined
      ? types.wrap_described([], Codes.emptyAction)
      : types.wrap_described([rule.action.sqlExpression], Codes.sqlAction);
  return { 'rule-description': types.wrap_described([filter, action, rule.name], Codes.ruleDescription) };
}
