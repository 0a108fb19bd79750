/**
 * Compiles a syntax tree into closures, once per rule; evaluating a message runs no parser.
 * Semantics follow Service Bus: three-valued logic (a missing property or a type mismatch is
 * unknown, and a filter matches only when it is TRUE), numeric comparison across integers and
 * doubles, ordinal string comparison, C#-style integer division when both operands are integers.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { PropertyValue } from '../message.ts';
import type { ArithmeticOperator, ComparisonOperator, Expr, PropertyRef, SqlValue } from './ast.ts';
import type { EvaluationBudget } from './like.ts';
import { systemProperties } from './system-properties.ts';
import type { RoutableMessage } from './types.ts';

export type Evaluator = (m: RoutableMessage) => SqlValue;

/** Looks a user property up by its exact name, then case-insensitively (Service Bus names are case-insensitive). */
export function findUserProperty(
  props: Readonly<Record<string, PropertyValue>> | undefined,
  name: string,
): { key: string; value: PropertyValue } | undefined {
  if (props === undefined) return undefined;
  if (Object.hasOwn(props, name)) return { key: name, value: props[name] as PropertyValue };
  const lower = name.toLowerCase();
  for (const key of Object.keys(props)) {
    if (key.length === lower.length && key.toLowerCase() === lower) return { key, value: props[key] as PropertyValue };
  }
  return undefined;
}

function normalize(v: unknown): SqlValue {
  if (v === undefined || v === null) return null;
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'bigint':
    case 'boolean':
      return v;
    default:
      return v instanceof Date ? v : null;
  }
}

export function propertyReader(ref: PropertyRef): Evaluator {
  if (ref.scope === 'sys') {
    const read = systemProperties.get(ref.name)!.read;
    return (m) => normalize(read(m));
  }
  const name = ref.name;
  return (m) => normalize(findUserProperty(m.applicationProperties, name)?.value);
}

export function propertyExists(ref: PropertyRef): (m: RoutableMessage) => boolean {
  if (ref.scope === 'sys') {
    const read = systemProperties.get(ref.name)!.read;
    return (m) => read(m) !== undefined;
  }
  const name = ref.name;
  return (m) => findUserProperty(m.applicationProperties, name) !== undefined;
}

const isNumeric = (v: SqlValue): v is number | bigint => typeof v === 'number' || typeof v === 'bigint';

/** -1/0/1, or undefined when the two values are not comparable (different types, NaN). */
export function compareValues(a: SqlValue, b: SqlValue): number | undefined {
  if (a === null || b === null) return undefined;
  if (isNumeric(a) && isNumeric(b)) {
    if (typeof a === typeof b) return a < b ? -1 : a > b ? 1 : a === b ? 0 : undefined;
    // Mixed number/bigint: compare exactly when the number is integral, else as doubles.
    const [x, y] =
      typeof a === 'number'
        ? Number.isInteger(a)
          ? [BigInt(a), b]
          : [a, Number(b)]
        : Number.isInteger(b)
          ? [a, BigInt(b as number)]
          : [Number(a), b];
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : Number.NaN;
  if (a instanceof Date && b instanceof Date) return Math.sign(a.getTime() - b.getTime());
  return undefined;
}

const comparators: Record<ComparisonOperator, (c: number) => boolean> = {
  '=': (c) => c === 0,
  '<>': (c) => c !== 0,
  '!=': (c) => c !== 0,
  '>': (c) => c > 0,
  '>=': (c) => c >= 0,
  '<': (c) => c < 0,
  '<=': (c) => c <= 0,
};

function compare(op: ComparisonOperator, a: SqlValue, b: SqlValue): boolean | null {
  const c = compareValues(a, b);
  if (c === undefined) return null;
  // Booleans order nowhere: only = and <> are defined (NaN marks "not equal").
  if (Number.isNaN(c)) return op === '<>' || op === '!=' ? true : op === '=' ? false : null;
  return comparators[op](c);
}

function arithmetic(op: ArithmeticOperator, a: SqlValue, b: SqlValue, integral: boolean): SqlValue {
  if (op === '+' && typeof a === 'string' && typeof b === 'string') return a + b;
  if (!isNumeric(a) || !isNumeric(b)) return null;
  if (typeof a === 'bigint' || typeof b === 'bigint') {
    if ((typeof a === 'number' && !Number.isInteger(a)) || (typeof b === 'number' && !Number.isInteger(b))) {
      return arithmetic(op, Number(a), Number(b), false);
    }
    const x = BigInt(a);
    const y = BigInt(b);
    if ((op === '/' || op === '%') && y === 0n) return null;
    const r = op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : op === '/' ? x / y : x % y;
    return r >= BigInt(Number.MIN_SAFE_INTEGER) && r <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(r) : r;
  }
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      if (integral && Number.isInteger(a) && Number.isInteger(b)) return b === 0 ? null : Math.trunc(a / b);
      return a / b;
    case '%':
      if (integral && Number.isInteger(a) && Number.isInteger(b) && b === 0) return null;
      return a % b;
  }
}

/** Whether an expression is statically a double (a decimal literal, or arithmetic involving one). */
function isDouble(e: Expr): boolean {
  if (e.type === 'constant') return e.double;
  if (e.type === 'negate') return isDouble(e.operand);
  if (e.type === 'arithmetic') return isDouble(e.left) || isDouble(e.right);
  return false;
}

const truth = (v: SqlValue): boolean | null => (typeof v === 'boolean' ? v : null);

/** Compiles `e`; every LIKE in it charges `budget`, which the caller resets before each message. */
export function compileExpr(e: Expr, budget: EvaluationBudget): Evaluator {
  const compile = (sub: Expr): Evaluator => compileExpr(sub, budget);
  switch (e.type) {
    case 'constant': {
      const value = e.value;
      return () => value;
    }
    case 'property':
      return propertyReader(e.ref);
    case 'newid':
      return () => randomUUID();
    case 'negate': {
      const operand = compile(e.operand);
      return (m) => {
        const v = operand(m);
        return isNumeric(v) ? -v : null;
      };
    }
    case 'not': {
      const operand = compile(e.operand);
      return (m) => {
        const v = truth(operand(m));
        return v === null ? null : !v;
      };
    }
    case 'logical': {
      const left = compile(e.left);
      const right = compile(e.right);
      if (e.op === 'AND') {
        return (m) => {
          const a = truth(left(m));
          if (a === false) return false;
          const b = truth(right(m));
          if (b === false) return false;
          return a === true && b === true ? true : null;
        };
      }
      return (m) => {
        const a = truth(left(m));
        if (a === true) return true;
        const b = truth(right(m));
        if (b === true) return true;
        return a === false && b === false ? false : null;
      };
    }
    case 'compare': {
      const { op } = e;
      const left = compile(e.left);
      const right = compile(e.right);
      return (m) => compare(op, left(m), right(m));
    }
    case 'arithmetic': {
      const { op } = e;
      const integral = !isDouble(e);
      const left = compile(e.left);
      const right = compile(e.right);
      return (m) => arithmetic(op, left(m), right(m), integral);
    }
    case 'in': {
      const operand = compile(e.operand);
      const list = e.list.map(compile);
      const negated = e.negated;
      return (m) => {
        const v = operand(m);
        if (v === null) return null;
        let unknown = false;
        for (const item of list) {
          const c = compare('=', v, item(m));
          if (c === true) return !negated;
          if (c === null) unknown = true;
        }
        return unknown ? null : negated;
      };
    }
    case 'like': {
      const operand = compile(e.operand);
      const { pattern, negated, position } = e;
      return (m) => {
        const v = operand(m);
        return typeof v === 'string' ? pattern.test(v, budget, position) !== negated : null;
      };
    }
    case 'isNull': {
      const operand = compile(e.operand);
      const negated = e.negated;
      return (m) => (operand(m) === null) !== negated;
    }
    case 'exists':
      return propertyExists(e.ref);
  }
}
