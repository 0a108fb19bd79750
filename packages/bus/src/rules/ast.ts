/**
 * Syntax tree of the SQL filter / rule-action language. Every node keeps the 1-based position of
 * its first character so that later checks can still point at the source.
 * @module
 */
import type { LikePattern } from './like.ts';

/** A value during evaluation. `null` is SQL NULL / unknown (also a missing property). */
export type SqlValue = string | number | bigint | boolean | Date | null;

export type ComparisonOperator = '=' | '<>' | '!=' | '>' | '>=' | '<' | '<=';
export type ArithmeticOperator = '+' | '-' | '*' | '/' | '%';

export interface PropertyRef {
  readonly scope: 'sys' | 'user';
  /** User scope: the name as written (application properties are matched exactly, then case-insensitively). Sys scope: lower-cased. */
  readonly name: string;
  readonly position: number;
}

export type Expr =
  | { readonly type: 'constant'; readonly value: SqlValue; readonly double: boolean; readonly position: number }
  | { readonly type: 'property'; readonly ref: PropertyRef; readonly position: number }
  | { readonly type: 'negate'; readonly operand: Expr; readonly position: number }
  | { readonly type: 'not'; readonly operand: Expr; readonly position: number }
  | {
      readonly type: 'logical';
      readonly op: 'AND' | 'OR';
      readonly left: Expr;
      readonly right: Expr;
      readonly position: number;
    }
  | {
      readonly type: 'compare';
      readonly op: ComparisonOperator;
      readonly left: Expr;
      readonly right: Expr;
      readonly position: number;
    }
  | {
      readonly type: 'arithmetic';
      readonly op: ArithmeticOperator;
      readonly left: Expr;
      readonly right: Expr;
      readonly position: number;
    }
  | {
      readonly type: 'in';
      readonly operand: Expr;
      readonly list: readonly Expr[];
      readonly negated: boolean;
      readonly position: number;
    }
  | {
      readonly type: 'like';
      readonly operand: Expr;
      readonly pattern: LikePattern;
      readonly negated: boolean;
      readonly position: number;
    }
  | { readonly type: 'isNull'; readonly operand: Expr; readonly negated: boolean; readonly position: number }
  | { readonly type: 'exists'; readonly ref: PropertyRef; readonly position: number }
  | { readonly type: 'newid'; readonly position: number };

export type ActionStatement =
  | { readonly type: 'set'; readonly target: PropertyRef; readonly value: Expr }
  | { readonly type: 'remove'; readonly target: PropertyRef };
