/**
 * A `sqlQuery` with binding expressions as the Azure Cosmos DB extension runs it: every
 * `{expression}` becomes a query parameter (`{Query.id}` → `@Query_id`) whose value is the
 * expression's value, so a value can never change the text of the query — a quote in it is just a
 * character of a string. The same expression twice is one parameter. An expression whose value is
 * an array — a batch trigger's metadata, such as `{MessageIdArray}` of Service Bus with
 * `cardinality: 'many'` — is that array, as the extension hands the binding data's value to the
 * query (`ARRAY_CONTAINS({MessageIdArray}, c.messageId)`).
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
      const list = arrayOf(expr, data);
      parameters.push({ name, value: list ?? resolveExpressions(whole, data, env) });
    }
    return name;
  });
  return { query, parameters };
}

/** The value of a plain `{name}` (or `{a.b}`) of the trigger's data when it is an array; else undefined. */
function arrayOf(expr: string, data: ExpressionData): unknown[] | undefined {
  let value: unknown = data.values;
  for (const part of expr.trim().split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const record = value as Record<string, unknown>;
    const lower = part.toLowerCase();
    const key = Object.hasOwn(record, part) ? part : Object.keys(record).find((k) => k.toLowerCase() === lower);
    value = key === undefined ? undefined : record[key];
  }
  return Array.isArray(value) ? value : undefined;
}
