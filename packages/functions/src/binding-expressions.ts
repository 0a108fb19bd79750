/**
 * Binding expressions in binding properties, resolved per invocation: `{headers.x-ms-client-principal-id}`,
 * `{query.name}`, route parameters (`{id}`), trigger metadata (`{MessageId}`), properties of a JSON
 * trigger payload (`{orderId}`), and the system values `{rand-guid}`, `{DateTime}`, `{sys.randguid}`,
 * `{sys.utcnow}`, `{sys.methodname}`. Lookups are case-insensitive, like the Functions host.
 * @module
 */
import type { IdSource } from '@hubbub/kernel';
import { FunctionsError } from './errors.ts';

export interface ExpressionData {
  /** Request headers (lower-case names) for HTTP triggers. */
  headers?: Readonly<Record<string, string>>;
  /** Query parameters for HTTP triggers. */
  query?: Readonly<Record<string, string>>;
  /** Query parameters (lower-case) given more than once: an expression reading one is a 400, never a guess. */
  repeatedQuery?: ReadonlySet<string> | undefined;
  /** Route parameters, trigger metadata and top-level properties of a JSON payload. */
  values?: Readonly<Record<string, unknown>>;
}

export interface ExpressionEnv {
  readonly functionName: string;
  readonly binding: string;
  readonly now: () => number;
  readonly ids: IdSource;
}

const lower = (record: Readonly<Record<string, unknown>> | undefined, key: string): unknown => {
  if (record === undefined) return undefined;
  if (key in record) return record[key];
  const k = key.toLowerCase();
  for (const [name, value] of Object.entries(record)) if (name.toLowerCase() === k) return value;
  return undefined;
};

function lookup(expr: string, data: ExpressionData, env: ExpressionEnv): string | undefined {
  const key = expr.trim();
  const k = key.toLowerCase();
  if (k === 'rand-guid' || k === 'sys.randguid') return env.ids.uuid();
  if (k === 'datetime' || k === 'sys.utcnow') return new Date(env.now()).toISOString();
  if (k === 'sys.methodname') return env.functionName;
  // Absent headers and query parameters resolve to '' (an anonymous caller has no principal header).
  if (k.startsWith('headers.')) return String(lower(data.headers, key.slice(8)) ?? '');
  if (k.startsWith('query.')) {
    if (data.repeatedQuery?.has(k.slice(6))) {
      throw new FunctionsError(
        'FUNCTIONS_BAD_REQUEST',
        `The query parameter '${key.slice(6)}' is given more than once; binding {${key}} needs one value.`,
        { detail: { parameter: key.slice(6) } },
      );
    }
    return String(lower(data.query, key.slice(6)) ?? '');
  }
  let value: unknown = data.values;
  for (const part of key.split('.')) {
    value = typeof value === 'object' && value !== null ? lower(value as Record<string, unknown>, part) : undefined;
  }
  if (value === undefined || value === null) return undefined;
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/**
 * Resolves every `{expression}` in `template`; an unknown name is a FUNCTIONS_INVALID_BINDING error.
 * `{{` and `}}` are a literal `{` and `}`, as in the WebJobs SDK's binding templates (so
 * `$UserId:{{{customerId}}}` is `$UserId:{` + the value + `}`). `check`, when given, sees each value
 * before it goes in (and may refuse it by throwing).
 */
export function resolveExpressions(
  template: string,
  data: ExpressionData,
  env: ExpressionEnv,
  check?: (value: string, expression: string) => void,
): string {
  return template.replace(/\{\{|\}\}|\{([^{}]+)\}/g, (whole, expr: string | undefined) => {
    if (expr === undefined) return whole[0]!;
    const value = lookup(expr, data, env);
    if (value === undefined) {
      throw new FunctionsError(
        'FUNCTIONS_INVALID_BINDING',
        `Function "${env.functionName}", binding "${env.binding}": no value for binding expression {${expr}}.`,
        { detail: { function: env.functionName, binding: env.binding, expression: expr } },
      );
    }
    check?.(value, expr);
    return value;
  });
}
