/**
 * Binds `@parameters` into a parsed query: every parameter reference becomes a literal, TOP /
 * OFFSET / LIMIT become numbers, and the constant flags (`ARRAY_CONTAINS(…, true)`,
 * `STARTSWITH(…, true)`) are checked. Drivers only ever see bound queries.
 * @module
 */
import { type Json, setOwn } from '../json.ts';
import type { CountExpr, Expr, Query, Selection } from './ast.ts';
import { queryError } from './lexer.ts';

export interface QueryParameter {
  /** `@name`. */
  readonly name: string;
  readonly value: unknown;
}

/** A query as text, or text with parameters (the `@azure/cosmos` SqlQuerySpec shape). */
export type QuerySpec = string | { readonly query: string; readonly parameters?: readonly QueryParameter[] };

/** Characters jsonb cannot hold: NUL and unpaired surrogates (as JSON.stringify escapes them). */
export const unstorableJson = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/** Checks parameter names and values; returns name → value. */
export function parameterMap(parameters: readonly QueryParameter[] = []): Map<string, Json | undefined> {
  if (!Array.isArray(parameters)) throw queryError('parameters must be an array of {name, value}', 1);
  const map = new Map<string, Json | undefined>();
  for (const p of parameters) {
    if (typeof p?.name !== 'string' || !/^@[A-Za-z_][A-Za-z0-9_]*$/.test(p.name)) {
      throw queryError(`Parameter name ${JSON.stringify(p?.name)} must look like @name`, 1);
    }
    map.set(p.name, p.value === undefined ? undefined : toJson(p.value, p.name));
  }
  return map;
}

function toJson(value: unknown, name: string): Json {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined) throw queryError(`Parameter ${name} is not a JSON value`, 1);
  if (unstorableJson.test(text))
    throw queryError(`Parameter ${name} holds a NUL character or an unpaired surrogate`, 1);
  return JSON.parse(text) as Json;
}

/** Substitutes parameters; a reference to a parameter not given is STORE_INVALID_QUERY at its position. */
export function bindQuery(query: Query, parameters: ReadonlyMap<string, Json | undefined>): Query {
  const expr = (e: Expr): Expr => bindExpr(e, parameters);
  const count = (c: CountExpr | undefined): CountExpr | undefined => {
    if (c === undefined || c.kind === 'literal') return c;
    const value = lookup(parameters, c.name, c.pos);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw queryError(`Parameter ${c.name} must be a non-negative integer here`, c.pos);
    }
    return { kind: 'literal', value };
  };
  const select = ((s: Selection): Selection => {
    switch (s.kind) {
      case 'star':
        return s;
      case 'value':
        return { kind: 'value', expr: expr(s.expr) };
      case 'count':
        return { ...s, expr: expr(s.expr) };
      default:
        return { kind: 'list', items: s.items.map((i) => ({ name: i.name, expr: expr(i.expr) })) };
    }
  })(query.select);
  const top = count(query.top);
  const offset = count(query.offset);
  const limit = count(query.limit);
  return {
    text: query.text,
    select,
    alias: query.alias,
    orderBy: query.orderBy.map((o) => ({ expr: expr(o.expr), descending: o.descending })),
    ...(query.where === undefined ? {} : { where: expr(query.where) }),
    ...(top === undefined ? {} : { top }),
    ...(offset === undefined ? {} : { offset }),
    ...(limit === undefined ? {} : { limit }),
  };
}

function lookup(parameters: ReadonlyMap<string, Json | undefined>, name: string, pos: number): Json | undefined {
  if (!parameters.has(name)) throw queryError(`Parameter ${name} is not given`, pos);
  return parameters.get(name);
}

/** Array and object literals hold constants only; they fold into one literal. */
function constant(e: Expr, parameters: ReadonlyMap<string, Json | undefined>): Json | undefined {
  const bound = e.kind === 'array' || e.kind === 'object' ? e : bindExpr(e, parameters);
  switch (bound.kind) {
    case 'literal':
      return bound.value;
    case 'array':
      return bound.items.map((item) => constant(item, parameters) ?? null);
    case 'object': {
      const out: Record<string, Json> = {};
      for (const [key, item] of bound.entries) {
        if (unstorableJson.test(JSON.stringify(key)))
          throw queryError('An object key holds a NUL character', bound.pos);
        const value = constant(item, parameters);
        if (value !== undefined) setOwn(out, key, value);
      }
      return out;
    }
    default:
      throw queryError('Array and object literals may hold only constants and parameters', bound.pos);
  }
}

function bindExpr(e: Expr, parameters: ReadonlyMap<string, Json | undefined>): Expr {
  const b = (x: Expr): Expr => bindExpr(x, parameters);
  switch (e.kind) {
    case 'param':
      return { kind: 'literal', value: lookup(parameters, e.name, e.pos), pos: e.pos };
    case 'literal':
      if (typeof e.value === 'string' && unstorableJson.test(JSON.stringify(e.value))) {
        throw queryError('A string holds a NUL character or an unpaired surrogate', e.pos);
      }
      return e;
    case 'root':
      return e;
    case 'property':
      if (unstorableJson.test(JSON.stringify(e.name))) {
        throw queryError('A property name holds a NUL character or an unpaired surrogate', e.pos);
      }
      return { ...e, object: b(e.object) };
    case 'element':
      return { ...e, object: b(e.object) };
    case 'array':
    case 'object':
      return { kind: 'literal', value: constant(e, parameters), pos: e.pos };
    case 'not':
      return { ...e, operand: b(e.operand) };
    case 'compare':
    case 'logic':
      return { ...e, left: b(e.left), right: b(e.right) };
    case 'in':
      return { ...e, value: b(e.value), list: e.list.map(b) };
    case 'between':
      return { ...e, value: b(e.value), low: b(e.low), high: b(e.high) };
    case 'call': {
      const args = e.args.map(b);
      const flag = args[2];
      if (flag !== undefined && (flag.kind !== 'literal' || typeof flag.value !== 'boolean')) {
        throw queryError(`The third argument of ${e.name} must be true or false`, flag.pos);
      }
      return { ...e, args };
    }
  }
}
