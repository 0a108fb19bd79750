/**
 * The serverless hub across nodes: each node advertises its public URL in the backplane's
 * {@link ClusterPresence}, and a negotiate that arrives at a node not named by the client's token
 * is answered with a redirect (`{url, accessToken}`, as Azure SignalR's negotiate answers) to the
 * live node with the fewest connections. The official client follows it and negotiates there; a
 * token made for one node exactly is served by that node, so a redirect is followed at most once.
 * When the presence cannot be read (Redis down), the node serves the client itself.
 * @module
 */
import type { Clock } from '@hubbub/kernel';
import type { ClusterNode, ClusterPresence } from '../backplane.ts';
import type { NegotiateRedirect } from '../options.ts';
import { type AccessKey, clientUrl, resignClientToken } from './tokens.ts';

export interface ClusterOptions {
  /** This node's origin as clients reach it, advertised to the cluster. @default the service's endpoint */
  url?: string;
  /** Spread negotiates across the cluster's nodes. @default true */
  spread?: boolean;
  /**
   * Take client connections: advertise this node to the cluster's negotiates. An application node
   * whose hub only sends (its functions' outputs) and hands out tokens says false. @default true
   */
  advertise?: boolean;
}

/** The origin of the live node a new client should go to, or undefined when the cluster cannot say. */
export async function chooseNode(presence: ClusterPresence): Promise<ClusterNode | undefined> {
  return pickNode(await presence.nodes());
}

/** The live node with the fewest connections; ties broken at random, so a burst of clients spreads. */
export function pickNode(nodes: readonly ClusterNode[], random: () => number = Math.random): ClusterNode | undefined {
  let best: ClusterNode[] = [];
  for (const node of nodes) {
    if (best.length === 0 || node.connections < best[0]!.connections) best = [node];
    else if (node.connections === best[0]!.connections) best.push(node);
  }
  return best[Math.floor(random() * best.length)];
}

export interface ClusterRedirectOptions {
  presence: ClusterPresence;
  /** This node's advertised origin, once known. */
  self: () => string | undefined;
  key: AccessKey;
  clock: Clock;
  /** Told when the presence could not be read (the client was served here). */
  onError: (error: Error) => void;
}

export function createClusterRedirect(options: ClusterRedirectOptions): NegotiateRedirect {
  const { presence } = options;
  return async (hub, principal) => {
    const self = options.self();
    if (self === undefined || namesNode(principal.claims.aud, self)) return undefined;
    let nodes: ClusterNode[];
    try {
      nodes = await presence.nodes();
    } catch (err) {
      options.onError(err instanceof Error ? err : new Error(String(err)));
      return undefined;
    }
    const target = pickNode(nodes);
    if (target === undefined || target.id === presence.nodeId) return undefined;
    const url = clientUrl(target.url, hub);
    return { url, accessToken: await resignClientToken(principal.claims, url, options.key, options.clock) };
  };
}

/** Whether the token's `aud` names the node at origin `self` (same host and port). */
function namesNode(aud: unknown, self: string): boolean {
  const host = hostOf(self);
  const list = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  return list.some((a) => typeof a === 'string' && hostOf(a) === host);
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return undefined;
  }
}
