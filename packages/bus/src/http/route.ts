/**
 * Maps a request path (below the mount point) to a Service Bus REST route. Entity paths may
 * contain `/`, so routes are recognised by their trailing segments.
 * @module
 */

export type Route =
  /** `/{entity}/messages` */
  | { kind: 'messages'; entity: string }
  /** `/{entity}/messages/head` */
  | { kind: 'head'; entity: string }
  /** `/{entity}/messages/{messageId|sequenceNumber}/{lockToken}` */
  | { kind: 'locked'; entity: string; messageId: string; lockToken: string }
  /** `/{topic}/subscriptions` */
  | { kind: 'subscriptions'; topic: string }
  /** `/{topic}/subscriptions/{subscription}` */
  | { kind: 'subscription'; topic: string; subscription: string }
  /** `/{topic}/subscriptions/{subscription}/rules` */
  | { kind: 'rules'; topic: string; subscription: string }
  /** `/{topic}/subscriptions/{subscription}/rules/{rule}` */
  | { kind: 'rule'; topic: string; subscription: string; rule: string }
  /** `/$Resources/Queues`, `/$Resources/Topics` */
  | { kind: 'resources'; what: 'queues' | 'topics' }
  /** `/` (the base path itself): every entity with its counts */
  | { kind: 'overview' }
  /** `/{entity}` (queue or topic) */
  | { kind: 'entity'; entity: string };

const eq = (a: string | undefined, b: string): boolean => a !== undefined && a.toLowerCase() === b;

/** Parses `pathname` (already stripped of the mount prefix); undefined when no route matches. */
export function parseRoute(pathname: string): Route | undefined {
  let segments: string[];
  try {
    segments = pathname
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
  const n = segments.length;
  if (n === 0) return { kind: 'overview' };
  const join = (end: number): string => segments.slice(0, end).join('/');
  const at = (i: number): string | undefined => segments[n + i];

  if (n === 2 && eq(at(-2), '$resources')) {
    if (eq(at(-1), 'queues')) return { kind: 'resources', what: 'queues' };
    if (eq(at(-1), 'topics')) return { kind: 'resources', what: 'topics' };
    return undefined;
  }
  if (n >= 2 && eq(at(-1), 'messages')) return { kind: 'messages', entity: join(n - 1) };
  if (n >= 3 && eq(at(-2), 'messages') && eq(at(-1), 'head')) return { kind: 'head', entity: join(n - 2) };
  if (n >= 4 && eq(at(-3), 'messages')) {
    return { kind: 'locked', entity: join(n - 3), messageId: at(-2)!, lockToken: at(-1)! };
  }
  if (n >= 5 && eq(at(-4), 'subscriptions') && eq(at(-2), 'rules')) {
    return { kind: 'rule', topic: join(n - 4), subscription: at(-3)!, rule: at(-1)! };
  }
  if (n >= 4 && eq(at(-3), 'subscriptions') && eq(at(-1), 'rules')) {
    return { kind: 'rules', topic: join(n - 3), subscription: at(-2)! };
  }
  if (n >= 3 && eq(at(-2), 'subscriptions')) return { kind: 'subscription', topic: join(n - 2), subscription: at(-1)! };
  if (n >= 2 && eq(at(-1), 'subscriptions')) return { kind: 'subscriptions', topic: join(n - 1) };
  return { kind: 'entity', entity: join(n) };
}

/** The entity a route addresses, for SAS resource checks. */
export function routeEntity(route: Route): string {
  switch (route.kind) {
    case 'messages':
    case 'head':
    case 'locked':
    case 'entity':
      return route.entity;
    case 'subscriptions':
      return route.topic;
    case 'subscription':
    case 'rules':
    case 'rule':
      return `${route.topic}/subscriptions/${route.subscription}`;
    case 'resources':
    case 'overview':
      return '';
  }
}
