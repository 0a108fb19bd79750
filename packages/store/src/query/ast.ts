/**
 * The parsed form of the Cosmos SQL subset: what the parser produces, the memory driver evaluates
 * and the SQL drivers translate. Positions are 1-based character offsets into the query text.
 * @module
 */
import type { Json } from '../json.ts';

export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

export const functionNames = [
  'IS_DEFINED',
  'IS_NULL',
  'IS_STRING',
  'IS_NUMBER',
  'IS_BOOL',
  'IS_ARRAY',
  'IS_OBJECT',
  'ARRAY_CONTAINS',
  'ARRAY_LENGTH',
  'STARTSWITH',
  'ENDSWITH',
  'CONTAINS',
  'LOWER',
  'UPPER',
] as const;
export type FunctionName = (typeof functionNames)[number];

export type Expr =
  | { readonly kind: 'literal'; readonly value: Json | undefined; readonly pos: number }
  | { readonly kind: 'param'; readonly name: string; readonly pos: number }
  /** The FROM alias itself (`c`). */
  | { readonly kind: 'root'; readonly pos: number }
  /** `x.name` or `x["name"]`. */
  | { readonly kind: 'property'; readonly object: Expr; readonly name: string; readonly pos: number }
  /** `x[0]`. */
  | { readonly kind: 'element'; readonly object: Expr; readonly index: number; readonly pos: number }
  | { readonly kind: 'array'; readonly items: readonly Expr[]; readonly pos: number }
  | {
      readonly kind: 'object';
      readonly entries: readonly (readonly [string, Expr])[];
      readonly pos: number;
    }
  | { readonly kind: 'not'; readonly operand: Expr; readonly pos: number }
  | {
      readonly kind: 'compare';
      readonly op: CompareOp;
      readonly left: Expr;
      readonly right: Expr;
      readonly pos: number;
    }
  | {
      readonly kind: 'logic';
      readonly op: 'and' | 'or';
      readonly left: Expr;
      readonly right: Expr;
      readonly pos: number;
    }
  | { readonly kind: 'in'; readonly value: Expr; readonly list: readonly Expr[]; readonly pos: number }
  | { readonly kind: 'between'; readonly value: Expr; readonly low: Expr; readonly high: Expr; readonly pos: number }
  | { readonly kind: 'call'; readonly name: FunctionName; readonly args: readonly Expr[]; readonly pos: number };

export interface SelectItem {
  readonly expr: Expr;
  /** The property name in each result object (the alias, the last property name, or `$1`, `$2` …). */
  readonly name: string;
}

export type Selection =
  | { readonly kind: 'star' }
  | { readonly kind: 'value'; readonly expr: Expr }
  | { readonly kind: 'list'; readonly items: readonly SelectItem[] }
  /** `SELECT VALUE COUNT(x)` (name absent) or `SELECT COUNT(x) [AS name]`. */
  | { readonly kind: 'count'; readonly expr: Expr; readonly name?: string };

export interface OrderItem {
  readonly expr: Expr;
  readonly descending: boolean;
}

/** A count given as a literal or a parameter (TOP, OFFSET, LIMIT). */
export type CountExpr =
  | { readonly kind: 'literal'; readonly value: number }
  | { readonly kind: 'param'; readonly name: string; readonly pos: number };

export interface Query {
  readonly text: string;
  readonly select: Selection;
  readonly top?: CountExpr;
  /** The FROM alias (`c` in `FROM c`, `o` in `FROM orders o`). */
  readonly alias: string;
  readonly where?: Expr;
  readonly orderBy: readonly OrderItem[];
  readonly offset?: CountExpr;
  readonly limit?: CountExpr;
}
