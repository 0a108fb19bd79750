/**
 * A `sqlQuery` with binding expressions as the Azure Cosmos DB extension runs it: every
 * `{expression}` becomes a query parameter (`{Query.id}` → `@Query_id`) whose value is the
 * expression's value, so a value can never change the text of the query — a quote in it is just a
 * character of a string. The same expression twice is one parameter.
 * @module
 */
import { type ExpressionData, type ExpressionEnv, resolveExpressions } from '../../binding-expressions.ts';
import type { StoreQuery } from './port.ts';

const EXPRESSION = /\{([^{}]+)\}/g;

/** The query with each `{expression}` replaced by a parameter, and the parameters' values. */
export function parameterize(sql: string, data: ExpressionData, env: ExpressionEnv): StoreQuery {
  const names = new Map<string, string>();
  const taken = new Set<string>();
  const parameters: { name: string; value: unknown }[] = [];
  const query = sql.replace(EXPRESSION, (whole, expr: string) => {
    const key = expr.trim().toLowerCase();
    let name = names.get(key);
    if (name === undefined) {
      const base = `@${expr.trim().replace(/[^A-Za-z0-9_]/g, '_')}`;
      name = base;
      for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${base}_${n}`;
      taken.add(name.toLowerCase());
      names.set(key, name);
      parameters.push({ name, value: resolveExpressions(whole, data, env) });
    }
    return name;
  });
  return { query, parameters };
}
