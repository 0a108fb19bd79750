/**
 * `GET /hubbub/status`: what the running system serves, for `hubbub ls` — the hubs with their
 * connections and groups, and the function app's functions with their triggers. It needs the bus
 * key (a `SharedAccessSignature`, as the bus API does): the names it lists are not public.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type SasKey, verifySasToken } from '@hubbub/bus';
import type { FunctionsHost } from '@hubbub/functions';
import type { HubServer } from '@hubbub/hub';
import { HttpError, type Mount, requestTarget, sendError, sendJson } from '@hubbub/kernel';

export const STATUS_PATH = '/hubbub/status';

export interface SystemStatus {
  readonly hubs: readonly { readonly name: string; readonly connections: number; readonly groups: number }[];
  readonly functions: readonly { readonly name: string; readonly trigger: string; readonly route?: string }[];
}

export interface StatusSources {
  readonly key: SasKey;
  /** The hub servers of the system (self-hosted and serverless). */
  readonly hubServers: () => readonly HubServer[];
  readonly functions: () => FunctionsHost | undefined;
}

export function systemStatus(sources: StatusSources): SystemStatus {
  const hubs = sources
    .hubServers()
    .flatMap((server) => [...server.hubs()])
    .map((hub) => ({ name: hub.name, connections: hub.connectionCount, groups: hub.groupCount }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const functions = (sources.functions()?.functions ?? []).map((f) => ({
    name: f.name,
    trigger: f.trigger,
    ...(f.route === undefined ? {} : { route: f.route }),
  }));
  return { hubs, functions };
}

export function createStatusRoute(sources: StatusSources): Mount {
  const keys = new Map([[sources.key.name, sources.key.key]]);
  return {
    handleRequest(request: IncomingMessage, response: ServerResponse): boolean {
      const path = requestTarget(request).pathname;
      if (path !== STATUS_PATH) return false;
      if (request.method !== 'GET') {
        response.setHeader('allow', 'GET');
        sendError(response, new HttpError('SYSTEM_METHOD_NOT_ALLOWED', 405, `${request.method} is not allowed here.`));
        return true;
      }
      const verdict = verifySasToken(request.headers.authorization, keys, '', Date.now(), STATUS_PATH);
      if (!verdict.ok) {
        sendError(response, new HttpError('SYSTEM_UNAUTHORIZED', 401, `Unauthorized: ${verdict.reason}.`));
        return true;
      }
      sendJson(response, 200, systemStatus(sources));
      return true;
    },
  };
}
