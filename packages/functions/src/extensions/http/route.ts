/**
 * HTTP route templates as Azure Functions (ASP.NET Core routing) writes them: literal segments,
 * `{param}`, `{param?}`, `{param:int}` constraints, `{*rest}` catch-all, and complex segments
 * such as `{name}.{ext}`. Matching is case-insensitive on literals; precedence is literal before
 * constrained before plain before optional before catch-all, segment by segment.
 * @module
 */

const constraints: Record<string, string> = {
  int: '-?\\d+',
  long: '-?\\d+',
  alpha: '[A-Za-z]+',
  bool: '(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])',
  guid: '[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}',
  double: '-?\\d+(?:\\.\\d+)?',
  float: '-?\\d+(?:\\.\\d+)?',
  decimal: '-?\\d+(?:\\.\\d+)?',
  datetime: '[0-9T:.+Z-]+',
};

export interface CompiledRoute {
  readonly template: string;
  readonly params: readonly string[];
  /** Lower is more specific. */
  readonly rank: readonly number[];
  match(path: string): Record<string, string> | undefined;
}

export class RouteError extends Error {}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Compiles a route template (without the route prefix); throws RouteError on a malformed one. */
export function compileRoute(template: string): CompiledRoute {
  const trimmed = template.replace(/^\/+|\/+$/g, '');
  const segments = trimmed === '' ? [] : trimmed.split('/');
  const params: string[] = [];
  const rank: number[] = [];
  let source = '^';
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    if (segment === '') throw new RouteError(`Route "${template}" has an empty segment.`);
    const parts = segment.split(/(\{[^}]*\})/).filter((p) => p !== '');
    const single = parts.length === 1 && parts[0]!.startsWith('{');
    let seg = '';
    let segRank = 1;
    for (const part of parts) {
      if (!part.startsWith('{')) {
        if (part.includes('{') || part.includes('}'))
          throw new RouteError(`Route "${template}" has an unbalanced brace.`);
        seg += escapeRegex(part);
        continue;
      }
      const m = /^\{(\*{1,2})?([A-Za-z_][\w-]*)((?::[a-z]+(?:\([^)]*\))?)*)(\?)?(?:=[^}]*)?\}$/.exec(part);
      if (m === null) throw new RouteError(`Route "${template}" has a malformed parameter "${part}".`);
      const star = m[1];
      const name = m[2]!;
      const constraintText = m[3] ?? '';
      const optional = m[4];
      if (params.includes(name)) throw new RouteError(`Route "${template}" repeats parameter "${name}".`);
      params.push(name);
      let pattern = '[^/]+';
      for (const c of constraintText.split(':').filter(Boolean)) {
        const bare = c.replace(/\(.*$/, '');
        const p = constraints[bare];
        if (p === undefined) throw new RouteError(`Route "${template}" uses unknown constraint "${c}".`);
        pattern = p;
      }
      const group = `(?<p${params.length - 1}>${star ? '.*' : pattern})`;
      if (star) {
        if (!last || !single) throw new RouteError(`Catch-all "${part}" must be the whole last segment.`);
        segRank = 5;
      } else if (optional) {
        if (!last || !single) throw new RouteError(`Optional "${part}" must be the whole last segment.`);
        segRank = 4;
      } else segRank = Math.max(segRank, constraintText ? 2 : 3);
      seg += star || optional ? `${group}?` : group;
    }
    rank.push(segRank);
    source += single && segRank >= 4 ? `(?:/${seg})?` : `/${seg}`;
  });
  source += '/?$';
  const regex = new RegExp(source, 'i');
  return {
    template,
    params,
    rank,
    match(path) {
      const m = regex.exec(path === '' ? '/' : path);
      if (m === null) return undefined;
      const out: Record<string, string> = {};
      params.forEach((name, i) => {
        const v = m.groups?.[`p${i}`];
        if (v !== undefined) out[name] = safeDecode(v);
      });
      return out;
    },
  };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Orders routes most specific first. */
export function compareRoutes(a: CompiledRoute, b: CompiledRoute): number {
  const n = Math.max(a.rank.length, b.rank.length);
  for (let i = 0; i < n; i++) {
    const x = a.rank[i] ?? 0;
    const y = b.rank[i] ?? 0;
    if (x !== y) return x - y;
  }
  return b.rank.length - a.rank.length;
}
