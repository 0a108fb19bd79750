/**
 * A recursive-descent parser for the Cosmos SQL subset applications write:
 *
 * ```
 * SELECT [TOP n] (* | VALUE expr | expr [AS name], … | [VALUE] COUNT(expr) [AS name])
 * FROM name [[AS] alias] [WHERE expr] [ORDER BY expr [ASC|DESC], …] [OFFSET n LIMIT n]
 * ```
 *
 * Expressions: property paths (`c.a.b`, `c["a"]`, `c.tags[0]`), literals (numbers, strings,
 * `true`, `false`, `null`, `undefined`, arrays, objects), `@parameters`, comparisons, `AND`, `OR`,
 * `NOT`, `IN (…)`, `BETWEEN … AND …` and the functions in {@link functionNames}. Anything else is
 * STORE_INVALID_QUERY naming the position. Input is bounded: length, nesting and list sizes.
 * @module
 */
import type { Json } from '../json.ts';
import {
  type CompareOp,
  type CountExpr,
  type Expr,
  type FunctionName,
  functionNames,
  type OrderItem,
  type Query,
  type SelectItem,
  type Selection,
} from './ast.ts';
import { queryError, type Token, tokenize } from './lexer.ts';

/** Longest query text accepted, in characters. */
export const MAX_QUERY_LENGTH = 65_536;
const MAX_DEPTH = 64;
const MAX_LIST = 10_000;

const reserved = new Set([
  'SELECT',
  'VALUE',
  'TOP',
  'FROM',
  'WHERE',
  'AND',
  'OR',
  'NOT',
  'IN',
  'BETWEEN',
  'ORDER',
  'BY',
  'ASC',
  'DESC',
  'OFFSET',
  'LIMIT',
  'AS',
  'TRUE',
  'FALSE',
  'NULL',
  'UNDEFINED',
  'JOIN',
  'DISTINCT',
  'GROUP',
  'LIKE',
  'EXISTS',
  'ARRAY',
  'HAVING',
]);
const unsupported = new Set(['JOIN', 'DISTINCT', 'GROUP', 'LIKE', 'EXISTS', 'ARRAY', 'HAVING']);
const aggregates = new Set(['SUM', 'AVG', 'MIN', 'MAX']);
const arity: Record<FunctionName, [number, number]> = {
  IS_DEFINED: [1, 1],
  IS_NULL: [1, 1],
  IS_STRING: [1, 1],
  IS_NUMBER: [1, 1],
  IS_BOOL: [1, 1],
  IS_ARRAY: [1, 1],
  IS_OBJECT: [1, 1],
  ARRAY_CONTAINS: [2, 3],
  ARRAY_LENGTH: [1, 1],
  STARTSWITH: [2, 3],
  ENDSWITH: [2, 3],
  CONTAINS: [2, 3],
  LOWER: [1, 1],
  UPPER: [1, 1],
};

/** Parses query text; parameters stay as references until {@link bindQuery}. */
export function parseQuery(text: string): Query {
  if (typeof text !== 'string') throw queryError('The query must be a string', 1);
  if (text.length > MAX_QUERY_LENGTH) throw queryError(`The query is longer than ${MAX_QUERY_LENGTH} characters`, 1);
  return new Parser(text).query();
}

class Parser {
  readonly #text: string;
  readonly #tokens: Token[];
  #at = 0;
  #depth = 0;
  #roots: Array<{ name: string; pos: number }> = [];
  #unnamed = 0;

  constructor(text: string) {
    this.#text = text;
    this.#tokens = tokenize(text);
  }

  query(): Query {
    this.#expectKeyword('SELECT');
    let top: CountExpr | undefined;
    if (this.#acceptKeyword('TOP')) top = this.#count('TOP');
    const select = this.#selection();
    this.#expectKeyword('FROM');
    const from = this.#name('a container name');
    this.#acceptKeyword('AS');
    const alias = this.#peek().kind === 'ident' && !this.#isReserved(this.#peek()) ? this.#next().text : from.text;
    this.#rejectUnsupported();
    let where: Expr | undefined;
    if (this.#acceptKeyword('WHERE')) where = this.#expr();
    const orderBy: OrderItem[] = [];
    if (this.#acceptKeyword('ORDER')) {
      this.#expectKeyword('BY');
      do {
        const expr = this.#expr();
        const descending = this.#acceptKeyword('DESC');
        if (!descending) this.#acceptKeyword('ASC');
        orderBy.push({ expr, descending });
      } while (this.#acceptPunct(','));
    }
    let offset: CountExpr | undefined;
    let limit: CountExpr | undefined;
    if (this.#acceptKeyword('OFFSET')) {
      offset = this.#count('OFFSET');
      this.#expectKeyword('LIMIT');
      limit = this.#count('LIMIT');
    }
    this.#rejectUnsupported();
    const end = this.#peek();
    if (end.kind !== 'eof') throw queryError(`Unexpected ${describe(end)}`, end.pos);
    for (const ref of this.#roots) {
      if (ref.name !== alias)
        throw queryError(`Unknown identifier '${ref.name}' (the FROM alias is '${alias}')`, ref.pos);
    }
    if (select.kind === 'count' && (orderBy.length > 0 || offset !== undefined || top !== undefined)) {
      throw queryError('COUNT cannot be combined with ORDER BY, TOP or OFFSET … LIMIT', 1);
    }
    return {
      text: this.#text,
      select,
      alias,
      orderBy,
      ...(top === undefined ? {} : { top }),
      ...(where === undefined ? {} : { where }),
      ...(offset === undefined ? {} : { offset }),
      ...(limit === undefined ? {} : { limit }),
    };
  }

  #selection(): Selection {
    if (this.#acceptPunct('*')) return { kind: 'star' };
    if (this.#acceptKeyword('VALUE')) {
      const count = this.#aggregate();
      if (count !== undefined) return { kind: 'count', expr: count };
      return { kind: 'value', expr: this.#expr() };
    }
    const items: SelectItem[] = [];
    const names = new Set<string>();
    do {
      const start = this.#peek();
      const count = this.#aggregate();
      const expr = count ?? this.#expr();
      let name: string;
      if (this.#acceptKeyword('AS')) name = this.#name('an alias').text;
      else if (this.#peek().kind === 'ident' && !this.#isReserved(this.#peek())) name = this.#next().text;
      else name = defaultName(expr, count !== undefined, start, () => `$${++this.#unnamed}`);
      if (names.has(name)) throw queryError(`The property name '${name}' is projected twice`, start.pos);
      names.add(name);
      if (count !== undefined) {
        if (items.length > 0 || this.#peekPunct(',')) throw queryError('COUNT must be the only projection', start.pos);
        return { kind: 'count', expr: count, name };
      }
      items.push({ expr, name });
    } while (this.#acceptPunct(','));
    return { kind: 'list', items };
  }

  /** `COUNT(expr)` at the head of a projection, or undefined. */
  #aggregate(): Expr | undefined {
    const t = this.#peek();
    const after = this.#tokens[this.#at + 1];
    if (t.kind !== 'ident' || after?.text !== '(') return undefined;
    const upper = t.text.toUpperCase();
    if (aggregates.has(upper)) throw queryError(`The aggregate ${upper} is not supported (COUNT is)`, t.pos);
    if (upper !== 'COUNT') return undefined;
    this.#next();
    this.#next();
    const expr = this.#expr();
    this.#expectPunct(')');
    return expr;
  }

  #count(clause: string): CountExpr {
    const t = this.#next();
    if (t.kind === 'param') return { kind: 'param', name: t.text, pos: t.pos };
    if (t.kind === 'number' && Number.isSafeInteger(t.number) && t.number! >= 0) {
      return { kind: 'literal', value: t.number! };
    }
    throw queryError(`${clause} needs a non-negative integer or a parameter`, t.pos);
  }

  #expr(): Expr {
    if (++this.#depth > MAX_DEPTH)
      throw queryError(`The query nests deeper than ${MAX_DEPTH} levels`, this.#peek().pos);
    try {
      return this.#or();
    } finally {
      this.#depth--;
    }
  }

  #or(): Expr {
    let left = this.#and();
    for (let t = this.#peek(); this.#acceptKeyword('OR'); t = this.#peek()) {
      left = { kind: 'logic', op: 'or', left, right: this.#and(), pos: t.pos };
    }
    return left;
  }

  #and(): Expr {
    let left = this.#not();
    for (let t = this.#peek(); this.#acceptKeyword('AND'); t = this.#peek()) {
      left = { kind: 'logic', op: 'and', left, right: this.#not(), pos: t.pos };
    }
    return left;
  }

  #not(): Expr {
    const t = this.#peek();
    if (this.#acceptKeyword('NOT')) {
      if (++this.#depth > MAX_DEPTH) throw queryError(`The query nests deeper than ${MAX_DEPTH} levels`, t.pos);
      try {
        return { kind: 'not', operand: this.#not(), pos: t.pos };
      } finally {
        this.#depth--;
      }
    }
    return this.#comparison();
  }

  #comparison(): Expr {
    const value = this.#postfix();
    const t = this.#peek();
    if (t.kind === 'punct' && ['=', '!=', '<>', '<', '<=', '>', '>='].includes(t.text)) {
      this.#next();
      const op = (t.text === '<>' ? '!=' : t.text) as CompareOp;
      return { kind: 'compare', op, left: value, right: this.#postfix(), pos: t.pos };
    }
    const negated =
      this.#isKeyword(t, 'NOT') && ['IN', 'BETWEEN'].includes(this.#tokens[this.#at + 1]!.text.toUpperCase());
    if (negated) this.#next();
    let node: Expr | undefined;
    if (this.#acceptKeyword('IN')) {
      this.#expectPunct('(');
      const list = this.#list(')');
      node = { kind: 'in', value, list, pos: t.pos };
    } else if (this.#acceptKeyword('BETWEEN')) {
      const low = this.#postfix();
      this.#expectKeyword('AND');
      node = { kind: 'between', value, low, high: this.#postfix(), pos: t.pos };
    }
    if (node === undefined) return value;
    return negated ? { kind: 'not', operand: node, pos: t.pos } : node;
  }

  #list(close: string): Expr[] {
    const items: Expr[] = [];
    if (this.#acceptPunct(close)) return items;
    do {
      if (items.length >= MAX_LIST) throw queryError(`A list holds more than ${MAX_LIST} items`, this.#peek().pos);
      items.push(this.#expr());
    } while (this.#acceptPunct(','));
    this.#expectPunct(close);
    return items;
  }

  #postfix(): Expr {
    let expr = this.#primary();
    for (;;) {
      if (this.#acceptPunct('.')) {
        const name = this.#next();
        if (name.kind !== 'ident') throw queryError('A property name must follow "."', name.pos);
        expr = { kind: 'property', object: expr, name: name.text, pos: expr.pos };
      } else if (this.#acceptPunct('[')) {
        const key = this.#next();
        if (key.kind === 'string') expr = { kind: 'property', object: expr, name: key.text, pos: expr.pos };
        else if (key.kind === 'number' && Number.isSafeInteger(key.number) && key.number! >= 0) {
          expr = { kind: 'element', object: expr, index: key.number!, pos: expr.pos };
        } else throw queryError('"[" takes a string or a non-negative integer', key.pos);
        this.#expectPunct(']');
      } else {
        return expr;
      }
    }
  }

  #primary(): Expr {
    const t = this.#next();
    switch (t.kind) {
      case 'number':
        return { kind: 'literal', value: t.number!, pos: t.pos };
      case 'string':
        return { kind: 'literal', value: t.text, pos: t.pos };
      case 'param':
        return { kind: 'param', name: t.text, pos: t.pos };
      case 'punct':
        return this.#punctPrimary(t);
      case 'ident':
        return this.#identPrimary(t);
      default:
        throw queryError('The query ends where an expression was expected', t.pos);
    }
  }

  #punctPrimary(t: Token): Expr {
    if (t.text === '(') {
      const inner = this.#expr();
      this.#expectPunct(')');
      return inner;
    }
    if (t.text === '-') {
      const n = this.#next();
      if (n.kind !== 'number') throw queryError('"-" must precede a number (arithmetic is not supported)', t.pos);
      return { kind: 'literal', value: -n.number!, pos: t.pos };
    }
    if (t.text === '[') return { kind: 'array', items: this.#list(']'), pos: t.pos };
    if (t.text === '{') {
      const entries: Array<readonly [string, Expr]> = [];
      if (!this.#acceptPunct('}')) {
        do {
          const key = this.#next();
          if (key.kind !== 'string' && key.kind !== 'ident')
            throw queryError('An object key must be a name or a string', key.pos);
          this.#expectPunct(':');
          entries.push([key.text, this.#expr()]);
        } while (this.#acceptPunct(','));
        this.#expectPunct('}');
      }
      return { kind: 'object', entries, pos: t.pos };
    }
    throw queryError(`Unexpected ${describe(t)}`, t.pos);
  }

  #identPrimary(t: Token): Expr {
    const upper = t.text.toUpperCase();
    const literals: Record<string, Json | undefined> = { TRUE: true, FALSE: false, NULL: null, UNDEFINED: undefined };
    if (Object.hasOwn(literals, upper)) return { kind: 'literal', value: literals[upper], pos: t.pos };
    if (this.#peekPunct('(')) {
      this.#next();
      if (upper === 'COUNT' || aggregates.has(upper)) {
        throw queryError(`The aggregate ${upper} is only allowed as the whole projection`, t.pos);
      }
      if (!(functionNames as readonly string[]).includes(upper)) throw queryError(`Unknown function ${t.text}`, t.pos);
      const name = upper as FunctionName;
      const args = this.#list(')');
      const [min, max] = arity[name];
      if (args.length < min || args.length > max) {
        throw queryError(`${name} takes ${min === max ? min : `${min} to ${max}`} arguments`, t.pos);
      }
      return { kind: 'call', name, args, pos: t.pos };
    }
    if (this.#isReserved(t)) {
      throw unsupported.has(upper)
        ? queryError(`${upper} is not supported`, t.pos)
        : queryError(`Unexpected ${upper}`, t.pos);
    }
    this.#roots.push({ name: t.text, pos: t.pos });
    return { kind: 'root', pos: t.pos };
  }

  #rejectUnsupported(): void {
    const t = this.#peek();
    if (t.kind === 'ident' && unsupported.has(t.text.toUpperCase())) {
      throw queryError(`${t.text.toUpperCase()} is not supported`, t.pos);
    }
  }

  #name(what: string): Token {
    const t = this.#next();
    if (t.kind !== 'ident' || this.#isReserved(t)) throw queryError(`Expected ${what}, found ${describe(t)}`, t.pos);
    return t;
  }

  #peek(): Token {
    return this.#tokens[this.#at]!;
  }

  #next(): Token {
    const t = this.#tokens[this.#at]!;
    if (t.kind !== 'eof') this.#at++;
    return t;
  }

  #isReserved(t: Token): boolean {
    return t.kind === 'ident' && reserved.has(t.text.toUpperCase());
  }

  #isKeyword(t: Token, word: string): boolean {
    return t.kind === 'ident' && t.text.toUpperCase() === word;
  }

  #acceptKeyword(word: string): boolean {
    if (!this.#isKeyword(this.#peek(), word)) return false;
    this.#at++;
    return true;
  }

  #expectKeyword(word: string): void {
    const t = this.#peek();
    if (!this.#acceptKeyword(word)) throw queryError(`Expected ${word}, found ${describe(t)}`, t.pos);
  }

  #peekPunct(text: string): boolean {
    const t = this.#peek();
    return t.kind === 'punct' && t.text === text;
  }

  #acceptPunct(text: string): boolean {
    if (!this.#peekPunct(text)) return false;
    this.#at++;
    return true;
  }

  #expectPunct(text: string): void {
    const t = this.#peek();
    if (!this.#acceptPunct(text)) throw queryError(`Expected "${text}", found ${describe(t)}`, t.pos);
  }
}

function describe(t: Token): string {
  if (t.kind === 'eof') return 'the end of the query';
  if (t.kind === 'string') return 'a string';
  return `"${t.text.slice(0, 32)}"`;
}

/** Cosmos's name for an unaliased projection: the property's name, the alias itself, or `$1`, `$2` … */
function defaultName(expr: Expr, isCount: boolean, start: Token, next: () => string): string {
  if (!isCount && expr.kind === 'property') return expr.name;
  if (!isCount && expr.kind === 'root') return start.text;
  return next();
}
