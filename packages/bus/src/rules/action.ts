/**
 * SQL rule actions: `SET` and `REMOVE` on user properties and on the writable system properties.
 * Statements run in order on a copy of the message; the input message is never mutated.
 * @module
 */
import { BusError } from '../errors.ts';
import type { PropertyValue } from '../message.ts';
import type { ActionStatement, SqlValue } from './ast.ts';
import { compileExpr, findUserProperty } from './evaluate.ts';
import { syntaxErrorFactory } from './lexer.ts';
import { EvaluationBudget } from './like.ts';
import { parseAction } from './parser.ts';
import { systemProperties, writableSystemProperties } from './system-properties.ts';
import type { RoutableMessage } from './types.ts';

export type ActionFn = (m: RoutableMessage) => RoutableMessage;

type Step = (m: RoutableMessage & { applicationProperties: Record<string, PropertyValue> }) => void;

function toSystemString(v: SqlValue): string | undefined {
  if (v === null) return undefined;
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

function compileStatement(s: ActionStatement, expression: string, budget: EvaluationBudget): Step {
  const target = s.target;
  if (target.scope === 'sys') {
    const prop = systemProperties.get(target.name)!;
    const field = prop.field;
    if (field === undefined) {
      throw new BusError(
        'BUS_INVALID_ACTION',
        `sys.${prop.name} cannot be modified by a rule action (writable: ${writableSystemProperties.join(', ')}) at position ${target.position}`,
        { detail: { position: target.position, expression, property: `sys.${prop.name}` } },
      );
    }
    if (s.type === 'remove') {
      return (m) => {
        delete m[field];
      };
    }
    const value = compileExpr(s.value, budget);
    return (m) => {
      const v = toSystemString(value(m));
      if (v === undefined) delete m[field];
      else m[field] = v;
    };
  }
  const name = target.name;
  if (s.type === 'remove') {
    return (m) => {
      const found = findUserProperty(m.applicationProperties, name);
      if (found !== undefined) delete m.applicationProperties[found.key];
    };
  }
  const value = compileExpr(s.value, budget);
  return (m) => {
    const v = value(m);
    const found = findUserProperty(m.applicationProperties, name);
    m.applicationProperties[found?.key ?? name] = v;
  };
}

/** Compiles an action expression, throwing `BUS_INVALID_ACTION` with the 1-based position on error. */
export function compileAction(expression: string): ActionFn {
  const statements = parseAction(expression, syntaxErrorFactory('BUS_INVALID_ACTION', expression));
  const budget = new EvaluationBudget();
  const steps = statements.map((s) => compileStatement(s, expression, budget));
  return (message) => {
    budget.reset();
    // Object.assign keeps the copies extensible without a dictionary-mode transition (much faster than spread when SET adds keys).
    const copy = Object.assign({}, message, {
      applicationProperties: Object.assign({}, message.applicationProperties) as Record<string, PropertyValue>,
    });
    for (const step of steps) step(copy);
    return copy;
  };
}
