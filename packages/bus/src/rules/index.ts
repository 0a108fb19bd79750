/**
 * Subscription rules: SQL, correlation, true and false filters, and SQL rule actions, compiled
 * once into closures. See the "Rules" section of the package README for the grammar.
 * @module
 */
import { BusError } from '../errors.ts';
import { compileAction } from './action.ts';
import { compileCorrelation } from './correlation.ts';
import { compileExpr } from './evaluate.ts';
import { syntaxErrorFactory } from './lexer.ts';
import { EvaluationBudget } from './like.ts';
import { parseFilter } from './parser.ts';
import type { CompiledRule, RoutableMessage, RuleDescription, RuleFilter } from './types.ts';

export type { CompiledRule, RoutableMessage, RuleDescription, RuleFilter } from './types.ts';

const always = (): boolean => true;
const never = (): boolean => false;
const identity = (m: RoutableMessage): RoutableMessage => m;

/**
 * Compiles a SQL filter expression into a predicate (TRUE matches; FALSE and unknown do not). The
 * predicate throws BUS_FILTER_BUDGET_EXCEEDED when its LIKEs spend more than `maxEvaluationSteps`
 * on one message (routing treats that as a filter evaluation exception).
 */
export function compileSqlFilter(expression: string): (message: RoutableMessage) => boolean {
  if (typeof expression !== 'string') {
    throw new BusError('BUS_INVALID_FILTER', 'a SQL filter expression must be a string at position 1', {
      detail: { position: 1, expression: String(expression) },
    });
  }
  const budget = new EvaluationBudget();
  const evaluate = compileExpr(parseFilter(expression, syntaxErrorFactory('BUS_INVALID_FILTER', expression)), budget);
  return (m) => {
    budget.reset();
    return evaluate(m) === true;
  };
}

function compileFilter(filter: RuleFilter): (message: RoutableMessage) => boolean {
  switch (filter?.kind) {
    case 'true':
      return always;
    case 'false':
      return never;
    case 'sql':
      return compileSqlFilter(filter.expression);
    case 'correlation':
      return compileCorrelation(filter);
    default:
      throw new BusError('BUS_INVALID_FILTER', "a rule filter needs kind 'sql', 'correlation', 'true' or 'false'", {
        detail: { kind: String((filter as { kind?: unknown } | undefined)?.kind) },
      });
  }
}

/** Throws BusError code BUS_INVALID_FILTER (detail.position = 1-based char offset, detail.expression) or BUS_INVALID_ACTION. */
export function compileRule(rule: RuleDescription): CompiledRule {
  const matches = compileFilter(rule.filter);
  let apply = identity;
  if (rule.action !== undefined) {
    if (typeof rule.action.sqlExpression !== 'string') {
      throw new BusError('BUS_INVALID_ACTION', 'a rule action needs a sqlExpression string at position 1', {
        detail: { position: 1, expression: String(rule.action.sqlExpression) },
      });
    }
    apply = compileAction(rule.action.sqlExpression);
  }
  return { name: rule.name, matches, apply };
}

export { maxEvaluationSteps } from './like.ts';
export { maxExpressionLength } from './parser.ts';
