/**
 * The reference semantics of the query language, evaluated in process: what the memory driver
 * runs and what the SQL translation must agree with (the conformance suite checks both).
 *
 * Cosmos's three-valued logic: a missing property is `undefined`; comparing values of different
 * types, or ordering anything but two numbers or two strings, is `undefined`; `NOT`, `AND`, `OR`
 * treat non-booleans as `undefined`; `WHERE` keeps a row only when its filter is exactly `true`.
 * @module
 */
import {
  compareStrings,
  isObject,
  type Json,
  jsonContains,
  jsonEquals,
  setOwn,
  sortRank,
  typeName,
  type Value,
} from '../json.ts';
import type { CompareOp, Expr, Query } from './ast.ts';

/** Evaluates a bound expression against one item (`root`). */
export function evaluate(e: Expr, root: Value): Value {
  switch (e.kind) {
    case 'literal':
      return e.value;
    case 'root':
      return root;
    case 'property': {
      const o = evaluate(e.object, root);
      return isObject(o) && Object.hasOwn(o, e.name) ? o[e.name] : undefined;
    }
    case 'element': {
      const o = evaluate(e.object, root);
      return Array.isArray(o) && e.index < o.length ? o[e.index] : undefined;
    }
    case 'not': {
      const v = evaluate(e.operand, root);
      return typeof v === 'boolean' ? !v : undefined;
    }
    case 'logic':
      return logic(e.op, evaluate(e.left, root), evaluate(e.right, root));
    case 'compare':
      return compare(e.op, evaluate(e.left, root), evaluate(e.right, root));
    case 'in': {
      const v = evaluate(e.value, root);
      if (v === undefined) return undefined;
      let unknown = false;
      for (const item of e.list) {
        const x = evaluate(item, root);
        if (x === undefined) unknown = true;
        else if (jsonEquals(v, x)) return true;
      }
      return unknown ? undefined : false;
    }
    case 'between': {
      const v = evaluate(e.value, root);
      return logic('and', compare('>=', v, evaluate(e.low, root)), compare('<=', v, evaluate(e.high, root)));
    }
    case 'call':
      return call(
        e.name,
        e.args.map((a) => evaluate(a, root)),
      );
    default:
      throw new Error(`unbound ${e.kind} in a query`);
  }
}

function logic(op: 'and' | 'or', l: Value, r: Value): Value {
  if (op === 'and') {
    if (l === false || r === false) return false;
    return l === true && r === true ? true : undefined;
  }
  if (l === true || r === true) return true;
  return l === false && r === false ? false : undefined;
}

export function compare(op: CompareOp, l: Value, r: Value): Value {
  if (l === undefined || r === undefined) return undefined;
  const type = typeName(l);
  if (type !== typeName(r)) return undefined;
  if (op === '=') return jsonEquals(l, r);
  if (op === '!=') return !jsonEquals(l, r);
  let c: number;
  if (type === 'number') c = (l as number) - (r as number);
  else if (type === 'string') c = compareStrings(l as string, r as string);
  else return undefined;
  switch (op) {
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    default:
      return c >= 0;
  }
}

/** jsonb `@>` at the top level: also true when `a` is an array holding the scalar `b`. */
function containsTop(a: Json, b: Json): boolean {
  if (Array.isArray(a) && (typeof b !== 'object' || b === null)) return a.some((x) => x === b);
  return jsonContains(a, b);
}

function call(name: string, args: Value[]): Value {
  const [a, b, flag] = args;
  switch (name) {
    case 'IS_DEFINED':
      return a !== undefined;
    case 'IS_NULL':
      return a === null;
    case 'IS_STRING':
      return typeof a === 'string';
    case 'IS_NUMBER':
      return typeof a === 'number';
    case 'IS_BOOL':
      return typeof a === 'boolean';
    case 'IS_ARRAY':
      return Array.isArray(a);
    case 'IS_OBJECT':
      return isObject(a);
    case 'ARRAY_CONTAINS':
      if (!Array.isArray(a) || b === undefined) return false;
      return flag === true ? a.some((x) => containsTop(x, b)) : a.some((x) => jsonEquals(x, b));
    case 'ARRAY_LENGTH':
      return Array.isArray(a) ? a.length : undefined;
    case 'LOWER':
      return typeof a === 'string' ? a.toLowerCase() : undefined;
    case 'UPPER':
      return typeof a === 'string' ? a.toUpperCase() : undefined;
    default: {
      if (typeof a !== 'string' || typeof b !== 'string') return undefined;
      const s = flag === true ? a.toLowerCase() : a;
      const t = flag === true ? b.toLowerCase() : b;
      if (name === 'STARTSWITH') return s.startsWith(t);
      if (name === 'ENDSWITH') return s.endsWith(t);
      return s.includes(t);
    }
  }
}

/** Whether an item passes the query's WHERE. */
export function matches(query: Query, doc: Json): boolean {
  return query.where === undefined || evaluate(query.where, doc) === true;
}

/** The result row for an item; undefined when a `SELECT VALUE` yields undefined (the row is left out). */
export function project(query: Query, doc: Json): Value {
  const s = query.select;
  switch (s.kind) {
    case 'star':
      return doc;
    case 'value':
      return evaluate(s.expr, doc);
    case 'list': {
      const out: Record<string, Json> = {};
      for (const item of s.items) {
        const v = evaluate(item.expr, doc);
        if (v !== undefined) setOwn(out, item.name, v);
      }
      return out;
    }
    default:
      throw new Error('project() does not count');
  }
}

/**
 * An item's position in the result order: for each ORDER BY item its type rank, its number (or 0)
 * and its string (or ''), then the partition key and id that break ties. The SQL drivers compute
 * the same columns.
 */
export function sortKey(query: Query, doc: Json, partitionKey: string, id: string): Json[] {
  const key: Json[] = [];
  for (const o of query.orderBy) {
    const v = evaluate(o.expr, doc);
    key.push(sortRank(v), typeof v === 'number' ? v : 0, typeof v === 'string' ? v : '');
  }
  key.push(partitionKey, id);
  return key;
}

/** Compares two sort keys in the query's order. */
export function compareSortKeys(query: Query, a: readonly Json[], b: readonly Json[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const c = typeof x === 'number' ? x - (y as number) : compareStrings(x as string, y as string);
    if (c !== 0) return query.orderBy[Math.floor(i / 3)]?.descending === true ? -c : c;
  }
  return 0;
}
