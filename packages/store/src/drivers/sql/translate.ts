/**
 * Translates a bound query into one PostgreSQL statement over a container's table
 * (`doc jsonb`, `pk`, `id`, `expires_at`). Every value travels as a bound parameter — literals,
 * property names, partition keys, paging keys — never inside the SQL text; the text holds only
 * structure. The semantics are those of `query/evaluate.ts`:
 *
 * - An expression's value is a `jsonb` (SQL NULL = undefined); a condition is a `boolean` (NULL =
 *   undefined). Comparisons check types first (`CASE WHEN jsonb_typeof(x) = 'number' THEN …`), so a
 *   type mismatch is NULL, as in Cosmos, and `NOT` keeps it NULL.
 * - Strings compare and sort `COLLATE "C"` (code point order), numbers as `numeric`.
 * - In a positive context (no `NOT` above), `c.a.b = <scalar>` and `ARRAY_CONTAINS(c.a, <scalar>)`
 *   become `doc @> <param>` so that the GIN index on `doc` serves them; there false and NULL both
 *   drop the row, so containment's "false" for a type mismatch changes nothing; so does
 *   `ARRAY_CONTAINS(<a constant list of scalars>, c.a.b)`, as one containment per value.
 * - Subexpressions without a property reference are evaluated in process and bound as one value.
 * - ORDER BY sorts on three columns per item (type rank, number, string), then `pk`, `id`; the
 *   page after a continuation starts past the last row's key (keyset paging).
 * @module
 */
import { type Json, type TypeName, typeName, type Value } from '../../json.ts';
import type { CompareOp, Expr, Query } from '../../query/ast.ts';
import { evaluate } from '../../query/evaluate.ts';

/** Most values of a constant list an ARRAY_CONTAINS turns into containments (one parameter each). */
const MAX_CONTAINMENTS = 1_000;

/** A statement and its parameters. */
export interface Statement {
  readonly text: string;
  readonly values: unknown[];
}

class Params {
  readonly values: unknown[] = [];

  add(value: unknown, cast: string): string {
    this.values.push(value);
    return `$${this.values.length}::${cast}`;
  }

  json(value: Json): string {
    return this.add(JSON.stringify(value), 'jsonb');
  }
}

const sqlType: Record<TypeName, string> = {
  undefined: '',
  null: 'null',
  boolean: 'boolean',
  number: 'number',
  string: 'string',
  array: 'array',
  object: 'object',
};

/** Whether an expression reads the item (else it is a constant). */
function readsItem(e: Expr): boolean {
  switch (e.kind) {
    case 'root':
      return true;
    case 'literal':
    case 'param':
      return false;
    case 'property':
    case 'element':
      return readsItem(e.object);
    case 'not':
      return readsItem(e.operand);
    case 'compare':
    case 'logic':
      return readsItem(e.left) || readsItem(e.right);
    case 'in':
      return readsItem(e.value) || e.list.some(readsItem);
    case 'between':
      return readsItem(e.value) || readsItem(e.low) || readsItem(e.high);
    case 'call':
      return e.args.some(readsItem);
    default:
      return false;
  }
}

/** `c.a.b` → ['a', 'b']; undefined for anything else (indexes, the root itself, expressions). */
function pathOf(e: Expr): string[] | undefined {
  const names: string[] = [];
  let at = e;
  while (at.kind === 'property') {
    names.unshift(at.name);
    at = at.object;
  }
  return at.kind === 'root' && names.length > 0 ? names : undefined;
}

function nest(names: readonly string[], leaf: Json): Json {
  let out = leaf;
  for (let i = names.length - 1; i >= 0; i--) {
    const level: Record<string, Json> = {};
    Object.defineProperty(level, names[i]!, { value: out, enumerable: true, writable: true, configurable: true });
    out = level;
  }
  return out;
}

const isScalar = (v: Value): v is string | number | boolean | null =>
  v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

const booleanKinds = new Set(['not', 'compare', 'logic', 'in', 'between']);
const booleanCalls = new Set([
  'IS_DEFINED',
  'IS_NULL',
  'IS_STRING',
  'IS_NUMBER',
  'IS_BOOL',
  'IS_ARRAY',
  'IS_OBJECT',
  'ARRAY_CONTAINS',
  'STARTSWITH',
  'ENDSWITH',
  'CONTAINS',
]);
const typeChecks: Record<string, string> = {
  IS_NULL: 'null',
  IS_STRING: 'string',
  IS_NUMBER: 'number',
  IS_BOOL: 'boolean',
  IS_ARRAY: 'array',
  IS_OBJECT: 'object',
};

class Translator {
  readonly p = new Params();

  /** An expression's value as SQL `jsonb`. */
  value(e: Expr): string {
    if (!readsItem(e)) {
      const v = evaluate(e, undefined);
      return v === undefined ? 'NULL::jsonb' : this.p.json(v);
    }
    switch (e.kind) {
      case 'root':
        return 'doc';
      case 'property':
        return `(${this.value(e.object)} -> ${this.p.add(e.name, 'text')})`;
      case 'element': {
        // a top-level scalar is stored as a one-element array: `'"x"'::jsonb -> 0` is "x"
        const o = this.value(e.object);
        return `(CASE WHEN jsonb_typeof(${o}) = 'array' THEN ${o} -> ${this.p.add(e.index, 'int')} END)`;
      }
      case 'call': {
        const x = this.value(e.args[0]!);
        if (e.name === 'LOWER' || e.name === 'UPPER') {
          return `(CASE WHEN jsonb_typeof(${x}) = 'string' THEN to_jsonb(${e.name.toLowerCase()}(${x} #>> '{}')) END)`;
        }
        if (e.name === 'ARRAY_LENGTH') {
          return `(CASE WHEN jsonb_typeof(${x}) = 'array' THEN to_jsonb(jsonb_array_length(${x})) END)`;
        }
        return `to_jsonb(${this.cond(e, false)})`;
      }
      default:
        return `to_jsonb(${this.cond(e, false)})`;
    }
  }

  /** An expression as an SQL `boolean` (NULL = undefined). `positive`: no NOT above it. */
  cond(e: Expr, positive: boolean): string {
    if (!readsItem(e)) {
      const v = evaluate(e, undefined);
      return v === true ? 'TRUE' : v === false ? 'FALSE' : 'NULL::boolean';
    }
    switch (e.kind) {
      case 'not':
        return `(NOT ${this.cond(e.operand, !positive)})`;
      case 'logic':
        return `(${this.cond(e.left, positive)} ${e.op.toUpperCase()} ${this.cond(e.right, positive)})`;
      case 'compare':
        return this.compare(e.op, e.left, e.right, positive);
      case 'between':
        return `(${this.compare('>=', e.value, e.low, false)} AND ${this.compare('<=', e.value, e.high, false)})`;
      case 'in':
        return this.in(e.value, e.list);
      case 'call':
        if (booleanCalls.has(e.name)) return this.call(e.name, e.args, positive);
        break;
      default:
        if (booleanKinds.has(e.kind)) throw new Error(`unhandled ${e.kind}`);
    }
    const v = this.value(e);
    return `(CASE WHEN jsonb_typeof(${v}) = 'boolean' THEN (${v})::boolean END)`;
  }

  compare(op: CompareOp, left: Expr, right: Expr, positive: boolean): string {
    const sqlOp = op === '!=' ? '<>' : op;
    const lc = !readsItem(left);
    const rc = !readsItem(right);
    if (lc || rc) {
      // the constant on the right: `5 < c.a` is `c.a > 5`
      const flipped: Record<CompareOp, CompareOp> = {
        '=': '=',
        '!=': '!=',
        '<': '>',
        '<=': '>=',
        '>': '<',
        '>=': '<=',
      };
      const [x, c, o] = rc ? [left, right, op] : [right, left, flipped[op]];
      return this.compareConstant(o, x, evaluate(c, undefined), positive);
    }
    const l = this.value(left);
    const r = this.value(right);
    if (op === '=' || op === '!=')
      return `(CASE WHEN jsonb_typeof(${l}) = jsonb_typeof(${r}) THEN ${l} ${sqlOp} ${r} END)`;
    return (
      `(CASE WHEN jsonb_typeof(${l}) = 'number' AND jsonb_typeof(${r}) = 'number' THEN (${l})::numeric ${sqlOp} (${r})::numeric ` +
      `WHEN jsonb_typeof(${l}) = 'string' AND jsonb_typeof(${r}) = 'string' ` +
      `THEN (${l} #>> '{}') COLLATE "C" ${sqlOp} (${r} #>> '{}') END)`
    );
  }

  compareConstant(op: CompareOp, x: Expr, c: Value, positive: boolean): string {
    if (c === undefined) return 'NULL::boolean';
    const path = pathOf(x);
    if (op === '=' && positive && path !== undefined && isScalar(c)) return `(doc @> ${this.p.json(nest(path, c))})`;
    const v = this.value(x);
    const type = sqlType[typeName(c)];
    if (op === '=' || op === '!=') {
      return `(CASE WHEN jsonb_typeof(${v}) = '${type}' THEN ${v} ${op === '=' ? '=' : '<>'} ${this.p.json(c)} END)`;
    }
    if (typeof c === 'number') {
      return `(CASE WHEN jsonb_typeof(${v}) = 'number' THEN (${v})::numeric ${op} ${this.p.add(String(c), 'numeric')} END)`;
    }
    if (typeof c === 'string') {
      return `(CASE WHEN jsonb_typeof(${v}) = 'string' THEN (${v} #>> '{}') COLLATE "C" ${op} ${this.p.add(c, 'text')} END)`;
    }
    return 'NULL::boolean';
  }

  in(value: Expr, list: readonly Expr[]): string {
    const v = this.value(value);
    if (list.length === 0) return `(CASE WHEN ${v} IS NOT NULL THEN FALSE END)`;
    if (!list.some(readsItem)) {
      const items = list.map((item) => {
        const x = evaluate(item, undefined);
        return x === undefined ? null : JSON.stringify(x);
      });
      return `(${v} = ANY(${this.p.add(items, 'jsonb[]')}))`;
    }
    return `(${v} = ANY(ARRAY[${list.map((item) => this.value(item)).join(', ')}]::jsonb[]))`;
  }

  call(name: string, args: readonly Expr[], positive: boolean): string {
    const [a, b, flag] = args;
    if (name === 'IS_DEFINED') return `(${this.value(a!)} IS NOT NULL)`;
    if (typeChecks[name] !== undefined)
      return `COALESCE(jsonb_typeof(${this.value(a!)}) = '${typeChecks[name]}', FALSE)`;
    const option = flag !== undefined && evaluate(flag, undefined) === true;
    if (name === 'ARRAY_CONTAINS') {
      const path = pathOf(a!);
      if (positive && !option && path !== undefined && !readsItem(b!)) {
        const needle = evaluate(b!, undefined);
        if (isScalar(needle)) return `(doc @> ${this.p.json(nest(path, [needle]))})`;
      }
      // ARRAY_CONTAINS(<a list of values>, c.a.b): c.a.b is one of them — a containment each, so
      // the GIN index serves it too (a batch's ids: ARRAY_CONTAINS(@ids, c.id)).
      const target = pathOf(b!);
      if (positive && !option && target !== undefined && !readsItem(a!)) {
        const list = evaluate(a!, undefined);
        if (Array.isArray(list) && list.length <= MAX_CONTAINMENTS && list.every(isScalar)) {
          if (list.length === 0) return 'FALSE';
          return `(${list.map((v) => `doc @> ${this.p.json(nest(target, v))}`).join(' OR ')})`;
        }
      }
      const arr = this.value(a!);
      const item = this.value(b!);
      return (
        `(CASE WHEN jsonb_typeof(${arr}) = 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements(${arr}) AS e(v) ` +
        `WHERE e.v ${option ? '@>' : '='} ${item}) ELSE FALSE END)`
      );
    }
    const s = this.value(a!);
    const t = this.value(b!);
    const text = (x: string): string => (option ? `lower(${x} #>> '{}')` : `(${x} #>> '{}')`);
    const test =
      name === 'STARTSWITH'
        ? `starts_with(${text(s)}, ${text(t)})`
        : name === 'ENDSWITH'
          ? `(right(${text(s)}, char_length(${text(t)})) COLLATE "C" = ${text(t)})`
          : `(strpos(${text(s)}, ${text(t)}) > 0)`;
    return `(CASE WHEN jsonb_typeof(${s}) = 'string' AND jsonb_typeof(${t}) = 'string' THEN ${test} END)`;
  }

  /** The three sort columns of an ORDER BY expression: type rank, number, string. */
  sortColumns(e: Expr): [string, string, string] {
    const v = this.value(e);
    return [
      `(CASE jsonb_typeof(${v}) WHEN 'null' THEN 1 WHEN 'boolean' THEN (CASE WHEN ${v} = 'true'::jsonb THEN 3 ELSE 2 END) ` +
        `WHEN 'number' THEN 4 WHEN 'string' THEN 5 WHEN 'array' THEN 6 WHEN 'object' THEN 7 ELSE 0 END)`,
      `(CASE WHEN jsonb_typeof(${v}) = 'number' THEN (${v})::numeric ELSE 0 END)`,
      `((CASE WHEN jsonb_typeof(${v}) = 'string' THEN ${v} #>> '{}' ELSE '' END) COLLATE "C")`,
    ];
  }
}

export interface TranslateOptions {
  /** The container's table, already quoted (`"schema"."items_7"`). */
  readonly table: string;
  readonly partitionKey?: string;
  readonly after?: readonly Json[];
  readonly offset: number;
  readonly limit: number;
  readonly now: number;
}

const rankOk = (v: Json): boolean => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= 7;
const numericOk = (v: Json): boolean => typeof v === 'string' && /^-?[0-9]{1,1000}(\.[0-9]{1,1000})?$/.test(v);

/** Whether a continuation key has the shape this translation returns for `orderItems` ORDER BY items. */
export function validAfter(after: readonly Json[], orderItems: number): boolean {
  if (!Array.isArray(after) || after.length !== orderItems * 3 + 2) return false;
  return after.every((v, i) => {
    if (i >= orderItems * 3) return typeof v === 'string';
    return i % 3 === 0 ? rankOk(v) : i % 3 === 1 ? numericOk(v) : typeof v === 'string';
  });
}

/**
 * The statement for one page. Rows come back as `{ v, k0 … kN, pk, id }`: `v` the result, the `k`
 * columns and `pk`, `id` the sort key (for the continuation).
 */
export function translateQuery(query: Query, options: TranslateOptions): Statement {
  const t = new Translator();
  const where: string[] = [`(expires_at IS NULL OR expires_at > ${t.p.add(options.now, 'bigint')})`];
  if (options.partitionKey !== undefined) where.push(`pk = ${t.p.add(options.partitionKey, 'text')}`);
  if (query.where !== undefined) where.push(t.cond(query.where, true));
  const select = query.select;
  if (select.kind === 'count') {
    const counted = `to_jsonb(count(${t.value(select.expr)}))`;
    const v = select.name === undefined ? counted : `jsonb_build_object(${t.p.add(select.name, 'text')}, ${counted})`;
    return { text: `SELECT ${v} AS v FROM ${options.table} WHERE ${where.join(' AND ')}`, values: t.p.values };
  }
  let v: string;
  if (select.kind === 'star') v = 'doc';
  else if (select.kind === 'value') {
    v = t.value(select.expr);
    where.push(`${v} IS NOT NULL`);
  } else {
    v = select.items
      .map((item) => {
        const x = t.value(item.expr);
        return `(CASE WHEN ${x} IS NULL THEN '{}'::jsonb ELSE jsonb_build_object(${t.p.add(item.name, 'text')}, ${x}) END)`;
      })
      .join(' || ');
  }
  const columns: Array<{ sql: string; descending: boolean; cast: string }> = [];
  for (const o of query.orderBy) {
    const [rank, num, str] = t.sortColumns(o.expr);
    columns.push({ sql: rank, descending: o.descending, cast: 'int' });
    columns.push({ sql: num, descending: o.descending, cast: 'numeric' });
    columns.push({ sql: str, descending: o.descending, cast: 'text' });
  }
  if (options.after !== undefined) where.push(keyset(t, columns, options.after));
  const keys = columns.map((c, i) => `${c.sql} AS k${i}`);
  const order = [...columns.map((c, i) => `k${i} ${c.descending ? 'DESC' : 'ASC'}`), 'pk', 'id'];
  const text =
    `SELECT ${v} AS v, ${[...keys, 'pk', 'id'].join(', ')} FROM ${options.table} WHERE ${where.join(' AND ')} ` +
    `ORDER BY ${order.join(', ')} OFFSET ${t.p.add(options.offset, 'bigint')} LIMIT ${t.p.add(options.limit + 1, 'bigint')}`;
  return { text, values: t.p.values };
}

/** Rows strictly after `after` in the sort order. */
function keyset(
  t: Translator,
  columns: Array<{ sql: string; descending: boolean; cast: string }>,
  after: readonly Json[],
): string {
  const n = columns.length;
  const pk = t.p.add(after[n], 'text');
  const id = t.p.add(after[n + 1], 'text');
  if (n === 0) return `(pk, id) > (${pk}, ${id})`;
  const values = columns.map((c, i) => t.p.add(after[i], c.cast));
  const terms: string[] = [];
  for (let i = 0; i <= n; i++) {
    const equal = columns.slice(0, i).map((c, j) => `${c.sql} = ${values[j]}`);
    const last =
      i < n ? `${columns[i]!.sql} ${columns[i]!.descending ? '<' : '>'} ${values[i]}` : `(pk, id) > (${pk}, ${id})`;
    terms.push(`(${[...equal, last].join(' AND ')})`);
  }
  return `(${terms.join(' OR ')})`;
}
