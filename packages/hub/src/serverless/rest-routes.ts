/**
 * The route table of Azure SignalR's data-plane REST API: version 2022-06-01 (`/api/hubs/{hub}/…`,
 * `?api-version=` required) and the older v1 paths (`/api/v1/hubs/{hub}/…`), each mapped to one
 * operation and the status Azure answers with when it succeeds.
 * @module
 */

export type Operation =
  | 'broadcast'
  | 'sendToUser'
  | 'sendToConnection'
  | 'sendToGroup'
  | 'closeAll'
  | 'closeGroup'
  | 'closeUser'
  | 'closeConnection'
  | 'connectionExists'
  | 'groupExists'
  | 'userExists'
  | 'userInGroup'
  | 'addConnectionToGroup'
  | 'removeConnectionFromGroup'
  | 'removeConnectionFromAllGroups'
  | 'addUserToGroup'
  | 'removeUserFromGroup'
  | 'removeUserFromAllGroups'
  | 'generateToken';

interface Route {
  readonly methods: readonly string[];
  /** Segments after `{hub}`; `{name}` captures one segment. */
  readonly pattern: readonly string[];
  readonly operation: Operation;
  readonly status: number;
}

const exists = ['HEAD', 'GET'];

function route(methods: readonly string[], pattern: string, operation: Operation, status: number): Route {
  return { methods, pattern: pattern === '' ? [] : pattern.split('/'), operation, status };
}

/** api-version 2022-06-01 (and later versions, which keep these paths; `:generateToken` is 2022-11-01's). */
export const routes2022: readonly Route[] = [
  route(['POST'], ':generateToken', 'generateToken', 200),
  route(['POST'], ':send', 'broadcast', 202),
  route(['POST'], 'users/{user}/:send', 'sendToUser', 202),
  route(['POST'], 'connections/{connectionId}/:send', 'sendToConnection', 202),
  route(['POST'], 'groups/{group}/:send', 'sendToGroup', 202),
  route(['POST'], ':closeConnections', 'closeAll', 204),
  route(['POST'], 'groups/{group}/:closeConnections', 'closeGroup', 204),
  route(['POST'], 'users/{user}/:closeConnections', 'closeUser', 204),
  route(['DELETE'], 'connections/{connectionId}', 'closeConnection', 200),
  route(exists, 'connections/{connectionId}', 'connectionExists', 200),
  route(exists, 'groups/{group}', 'groupExists', 200),
  route(exists, 'users/{user}', 'userExists', 200),
  route(exists, 'users/{user}/groups/{group}', 'userInGroup', 200),
  route(['PUT'], 'groups/{group}/connections/{connectionId}', 'addConnectionToGroup', 200),
  route(['DELETE'], 'groups/{group}/connections/{connectionId}', 'removeConnectionFromGroup', 200),
  route(['DELETE'], 'connections/{connectionId}/groups', 'removeConnectionFromAllGroups', 200),
  route(['PUT'], 'users/{user}/groups/{group}', 'addUserToGroup', 200),
  route(['DELETE'], 'users/{user}/groups/{group}', 'removeUserFromGroup', 204),
  route(['DELETE'], 'users/{user}/groups', 'removeUserFromAllGroups', 204),
];

/** The v1 paths: sends and group changes answer 202, existence checks 200/404. */
export const routesV1: readonly Route[] = [
  route(['POST'], '', 'broadcast', 202),
  route(['POST'], 'users/{user}', 'sendToUser', 202),
  route(['POST'], 'connections/{connectionId}', 'sendToConnection', 202),
  route(['POST'], 'groups/{group}', 'sendToGroup', 202),
  route(['DELETE'], 'connections/{connectionId}', 'closeConnection', 202),
  route(exists, 'connections/{connectionId}', 'connectionExists', 200),
  route(exists, 'groups/{group}', 'groupExists', 200),
  route(exists, 'users/{user}', 'userExists', 200),
  route(exists, 'users/{user}/groups/{group}', 'userInGroup', 200),
  route(exists, 'groups/{group}/users/{user}', 'userInGroup', 200),
  route(['PUT'], 'users/{user}/groups/{group}', 'addUserToGroup', 202),
  route(['PUT'], 'groups/{group}/users/{user}', 'addUserToGroup', 202),
  route(['DELETE'], 'users/{user}/groups/{group}', 'removeUserFromGroup', 202),
  route(['DELETE'], 'groups/{group}/users/{user}', 'removeUserFromGroup', 202),
  route(['DELETE'], 'users/{user}/groups', 'removeUserFromAllGroups', 202),
  route(['PUT'], 'groups/{group}/connections/{connectionId}', 'addConnectionToGroup', 202),
  route(['DELETE'], 'groups/{group}/connections/{connectionId}', 'removeConnectionFromGroup', 202),
  route(['DELETE'], 'connections/{connectionId}/groups', 'removeConnectionFromAllGroups', 202),
];

export type RouteMatch =
  | { readonly kind: 'found'; readonly route: Route; readonly params: Readonly<Record<string, string>> }
  | { readonly kind: 'method-not-allowed'; readonly allow: readonly string[] }
  | { readonly kind: 'not-found' };

/** Matches decoded path segments (after the hub) and a method against a table. */
export function matchRoute(table: readonly Route[], method: string, segments: readonly string[]): RouteMatch {
  const allow = new Set<string>();
  for (const r of table) {
    if (r.pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < segments.length && ok; i++) {
      const p = r.pattern[i]!;
      const s = segments[i]!;
      if (p.startsWith('{')) params[p.slice(1, -1)] = s;
      else ok = p.toLowerCase() === s.toLowerCase();
    }
    if (!ok) continue;
    if (r.methods.includes(method)) return { kind: 'found', route: r, params };
    for (const m of r.methods) allow.add(m);
  }
  return allow.size === 0 ? { kind: 'not-found' } : { kind: 'method-not-allowed', allow: [...allow] };
}
