/**
 * Recursive-descent parser for SQL filters and rule actions. Precedence, loosest first:
 * OR, AND, NOT, predicates (comparison, IS [NOT] NULL, [NOT] IN, [NOT] LIKE), `+ -`, `* / %`,
 * unary `+ -`, primaries. Keywords are case-insensitive.
 * @module
 */
import type { ActionStatement, ArithmeticOperator, ComparisonOperator, Expr, PropertyRef } from './ast.ts';
import { type SyntaxErrorFactory, type Token, TokenKind, tokenize } from './lexer.ts';
import { compileLike } from './like.ts';
import { systemProperties } from './system-properties.ts';

const keywords = new Set(['and', 'or', 'not', 'in', 'like', 'escape', 'is', 'null', 'true', 'false', 'exists']);
const comparisons = new Set<string>(['=', '<>', '!=', '>', '>=', '<', '<=']);

/** Maximum length of a filter or action expression, as Service Bus enforces. */
export const maxExpressionLength = 1024;

const describe = (t: Token): string => (t.kind === TokenKind.End ? 'end of input' : `'${t.text}'`);

class Parser {
  readonly #tokens: Token[];
  readonly #fail: SyntaxErrorFactory;
  #i = 0;

  constructor(source: string, fail: SyntaxErrorFactory) {
    if (source.length > maxExpressionLength) {
      throw fail(`expression longer than ${maxExpressionLength} characters`, maxExpressionLength + 1);
    }
    this.#fail = fail;
    this.#tokens = tokenize(source, fail);
  }

  get #peek(): Token {
    return this.#tokens[this.#i]!;
  }

  #next(): Token {
    const t = this.#tokens[this.#i]!;
    if (t.kind !== TokenKind.End) this.#i++;
    return t;
  }

  #isKeyword(word: string, t: Token = this.#peek): boolean {
    return t.kind === TokenKind.Identifier && t.text.toLowerCase() === word;
  }

  #isOperator(op: string, t: Token = this.#peek): boolean {
    return t.kind === TokenKind.Operator && t.text === op;
  }

  #acceptKeyword(word: string): boolean {
    if (!this.#isKeyword(word)) return false;
    this.#i++;
    return true;
  }

  #expectOperator(op: string): Token {
    const t = this.#peek;
    if (!this.#isOperator(op)) throw this.#expected(`'${op}'`);
    this.#i++;
    return t;
  }

  #expected(what: string, t: Token = this.#peek): Error {
    return this.#fail(`expected ${what} but found ${describe(t)}`, t.position);
  }

  expectEnd(): void {
    if (this.#peek.kind !== TokenKind.End) throw this.#fail(`unexpected ${describe(this.#peek)}`, this.#peek.position);
  }

  /** A filter: one predicate covering the whole input. */
  filter(): Expr {
    if (this.#peek.kind === TokenKind.End) throw this.#expected('a predicate');
    const e = this.or();
    this.expectEnd();
    return this.#predicate(e);
  }

  /** A rule action: `SET p = e[, …]` / `REMOVE p[, …]` statements separated by `;` or `,`. */
  action(): ActionStatement[] {
    const statements: ActionStatement[] = [];
    for (;;) {
      const t = this.#peek;
      if (this.#acceptKeyword('set')) {
        do {
          const target = this.#property(this.#next());
          this.#expectOperator('=');
          statements.push({ type: 'set', target, value: this.or() });
        } while (this.#continueList());
      } else if (this.#acceptKeyword('remove')) {
        do statements.push({ type: 'remove', target: this.#property(this.#next()) });
        while (this.#continueList());
      } else {
        throw this.#expected('SET or REMOVE', t);
      }
      if (this.#isOperator(';') || this.#isOperator(',')) {
        this.#i++;
        if (this.#peek.kind === TokenKind.End) break;
        continue;
      }
      if (this.#peek.kind === TokenKind.End) break;
      throw this.#expected("';'");
    }
    return statements;
  }

  /** After an item of a SET/REMOVE list: a `,` continues the list unless a new statement follows. */
  #continueList(): boolean {
    if (!this.#isOperator(',')) return false;
    const after = this.#tokens[this.#i + 1]!;
    if (this.#isKeyword('set', after) || this.#isKeyword('remove', after) || after.kind === TokenKind.End) return false;
    this.#i++;
    return true;
  }

  /** Checks that `e` can stand where a predicate is required (not a bare number or string). */
  #predicate(e: Expr): Expr {
    const bad =
      e.type === 'arithmetic' ||
      e.type === 'negate' ||
      e.type === 'newid' ||
      (e.type === 'constant' && e.value !== null && typeof e.value !== 'boolean');
    if (bad)
      throw this.#fail('expected a predicate (a comparison, IN, LIKE, IS NULL, EXISTS or a boolean)', e.position);
    return e;
  }

  or(): Expr {
    let left = this.#and();
    while (this.#isKeyword('or')) {
      const position = this.#next().position;
      left = { type: 'logical', op: 'OR', left: this.#predicate(left), right: this.#predicate(this.#and()), position };
    }
    return left;
  }

  #and(): Expr {
    let left = this.#not();
    while (this.#isKeyword('and')) {
      const position = this.#next().position;
      left = { type: 'logical', op: 'AND', left: this.#predicate(left), right: this.#predicate(this.#not()), position };
    }
    return left;
  }

  #not(): Expr {
    if (this.#isKeyword('not')) {
      const position = this.#next().position;
      return { type: 'not', operand: this.#predicate(this.#not()), position };
    }
    return this.#comparison();
  }

  #comparison(): Expr {
    const left = this.#additive();
    const t = this.#peek;
    if (t.kind === TokenKind.Operator && comparisons.has(t.text)) {
      this.#i++;
      return { type: 'compare', op: t.text as ComparisonOperator, left, right: this.#additive(), position: t.position };
    }
    if (this.#acceptKeyword('is')) {
      const negated = this.#acceptKeyword('not');
      if (!this.#acceptKeyword('null')) throw this.#expected(negated ? 'NULL' : 'NULL or NOT NULL');
      return { type: 'isNull', operand: left, negated, position: t.position };
    }
    const negated =
      this.#isKeyword('not') && (this.#isKeyword('in', this.#after) || this.#isKeyword('like', this.#after));
    if (negated) this.#i++;
    if (this.#acceptKeyword('in')) return this.#inList(left, negated, t.position);
    if (this.#acceptKeyword('like')) return this.#like(left, negated, t.position);
    return left;
  }

  get #after(): Token {
    return this.#tokens[this.#i + 1] ?? this.#peek;
  }

  #inList(operand: Expr, negated: boolean, position: number): Expr {
    this.#expectOperator('(');
    const list: Expr[] = [this.#additive()];
    while (this.#isOperator(',')) {
      this.#i++;
      list.push(this.#additive());
    }
    this.#expectOperator(')');
    return { type: 'in', operand, list, negated, position };
  }

  #like(operand: Expr, negated: boolean, position: number): Expr {
    const patternToken = this.#next();
    if (patternToken.kind !== TokenKind.String) throw this.#expected('a string pattern', patternToken);
    let escapeChar: string | undefined;
    if (this.#acceptKeyword('escape')) {
      const e = this.#next();
      if (e.kind !== TokenKind.String) throw this.#expected('an escape character string', e);
      if ([...e.text].length !== 1) throw this.#fail('ESCAPE must be exactly one character', e.position);
      escapeChar = e.text;
    }
    const pattern = compileLike(patternToken.text, escapeChar, () =>
      this.#fail('LIKE pattern ends with its escape character', patternToken.position),
    );
    return { type: 'like', operand, pattern, negated, position };
  }

  #additive(): Expr {
    let left = this.#multiplicative();
    while (this.#isOperator('+') || this.#isOperator('-')) {
      const t = this.#next();
      left = {
        type: 'arithmetic',
        op: t.text as ArithmeticOperator,
        left,
        right: this.#multiplicative(),
        position: t.position,
      };
    }
    return left;
  }

  #multiplicative(): Expr {
    let left = this.#unary();
    while (this.#isOperator('*') || this.#isOperator('/') || this.#isOperator('%')) {
      const t = this.#next();
      left = { type: 'arithmetic', op: t.text as ArithmeticOperator, left, right: this.#unary(), position: t.position };
    }
    return left;
  }

  #unary(): Expr {
    const t = this.#peek;
    if (this.#isOperator('-') || this.#isOperator('+')) {
      this.#i++;
      const operand = this.#unary();
      if (t.text === '+') return operand;
      if (operand.type === 'constant' && (typeof operand.value === 'number' || typeof operand.value === 'bigint')) {
        return { ...operand, value: -operand.value, position: t.position };
      }
      return { type: 'negate', operand, position: t.position };
    }
    return this.#primary();
  }

  #primary(): Expr {
    const t = this.#next();
    switch (t.kind) {
      case TokenKind.String:
        return { type: 'constant', value: t.text, double: false, position: t.position };
      case TokenKind.Integer: {
        const big = BigInt(t.text);
        if (big > 9223372036854775807n) throw this.#fail('integer literal out of range (Int64)', t.position);
        const value = big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
        return { type: 'constant', value, double: false, position: t.position };
      }
      case TokenKind.Decimal:
        return { type: 'constant', value: Number(t.text), double: true, position: t.position };
      case TokenKind.QuotedIdentifier:
        return { type: 'property', ref: this.#property(t), position: t.position };
      case TokenKind.Operator:
        if (t.text === '(') {
          const inner = this.or();
          this.#expectOperator(')');
          return inner;
        }
        throw this.#expected('an expression', t);
      case TokenKind.End:
        throw this.#expected('an expression', t);
    }
    const word = t.text.toLowerCase();
    if (word === 'true' || word === 'false')
      return { type: 'constant', value: word === 'true', double: false, position: t.position };
    if (word === 'null') return { type: 'constant', value: null, double: false, position: t.position };
    if (word === 'exists') {
      this.#expectOperator('(');
      const ref = this.#property(this.#next());
      this.#expectOperator(')');
      return { type: 'exists', ref, position: t.position };
    }
    if (this.#isOperator('(')) return this.#call(t);
    return { type: 'property', ref: this.#property(t), position: t.position };
  }

  /** Functions: `newid()`, `property('name')` / `p('name')` (the name may carry `sys.`/`user.`). */
  #call(name: Token): Expr {
    const fn = name.text.toLowerCase();
    this.#expectOperator('(');
    if (fn === 'newid') {
      this.#expectOperator(')');
      return { type: 'newid', position: name.position };
    }
    if (fn === 'property' || fn === 'p') {
      const arg = this.#next();
      if (arg.kind !== TokenKind.String) throw this.#expected('a property name string', arg);
      this.#expectOperator(')');
      const dot = arg.text.indexOf('.');
      const scope = dot > 0 ? arg.text.slice(0, dot).toLowerCase() : '';
      const ref =
        scope === 'sys' || scope === 'user'
          ? this.#scoped(scope, arg.text.slice(dot + 1), arg.position)
          : this.#scoped('user', arg.text, arg.position);
      return { type: 'property', ref, position: name.position };
    }
    throw this.#fail(`unknown function '${name.text}'`, name.position);
  }

  /** `[sys.|user.]name` where `first` is the token already consumed. */
  #property(first: Token): PropertyRef {
    if (first.kind === TokenKind.QuotedIdentifier) return { scope: 'user', name: first.text, position: first.position };
    if (first.kind !== TokenKind.Identifier) throw this.#expected('a property name', first);
    const lower = first.text.toLowerCase();
    if ((lower === 'sys' || lower === 'user') && this.#isOperator('.')) {
      this.#i++;
      const name = this.#next();
      if (name.kind !== TokenKind.Identifier && name.kind !== TokenKind.QuotedIdentifier) {
        throw this.#expected('a property name', name);
      }
      return this.#scoped(lower, name.text, first.position);
    }
    if (keywords.has(lower)) throw this.#fail(`unexpected keyword '${first.text}'`, first.position);
    return { scope: 'user', name: first.text, position: first.position };
  }

  #scoped(scope: 'sys' | 'user', name: string, position: number): PropertyRef {
    if (scope === 'user') return { scope, name, position };
    const key = name.toLowerCase();
    if (!systemProperties.has(key)) throw this.#fail(`unknown system property 'sys.${name}'`, position);
    return { scope, name: key, position };
  }
}

export function parseFilter(source: string, fail: SyntaxErrorFactory): Expr {
  return new Parser(source, fail).filter();
}

export function parseAction(source: string, fail: SyntaxErrorFactory): ActionStatement[] {
  return new Parser(source, fail).action();
}
