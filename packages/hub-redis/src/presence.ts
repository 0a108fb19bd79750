/**
 * Cluster presence in Redis (the keys are listed in scripts.ts). Each node records its own
 * connections and their groups, and keeps a copy of what it recorded: when it finds that its
 * records were lost (Redis restarted, or other nodes took it for dead after a long outage) it
 * writes them again. Every node renews its heartbeat; any node that finds another's run out
 * removes that node's connections, so a node killed with -9 leaves no connection behind for
 * longer than `nodeTtlMs` plus a heartbeat.
 * @module
 */
import type { ClusterNode, ClusterPresence, PresenceChange, PresenceQuery } from '@hubbub/hub';
import type { Clock } from '@hubbub/kernel';
import type { ScriptName } from './scripts.ts';

/** What presence needs from the connection the backplane owns. */
export interface PresenceLink {
  readonly prefix: string;
  readonly nodeId: string;
  readonly clock: Clock;
  /** Whether the connection is up now (writes made while it is down are redone on reconnect). */
  ready(): boolean;
  run(script: ScriptName, args: readonly (string | number)[]): Promise<unknown>;
  command(args: readonly string[]): Promise<unknown>;
  failed(error: unknown): void;
}

interface Recorded {
  readonly hub: string;
  readonly connectionId: string;
  readonly userId: string;
  readonly groups: Set<string>;
}

/** Connections per cleanup step: a dead node's records go in steps that keep Redis responsive. */
const CLEANUP_BATCH = 500;

export class RedisPresence implements ClusterPresence {
  readonly #link: PresenceLink;
  readonly #p: string;
  /** This node's connections as recorded, by `hub\nconnectionId`. */
  readonly #mine = new Map<string, Recorded>();
  #url = '';
  /** A write failed or was skipped while Redis was down: rewrite everything on the next heartbeat. */
  #stale = false;
  #beats = 0;

  constructor(link: PresenceLink) {
    this.#link = link;
    this.#p = link.prefix;
  }

  get nodeId(): string {
    return this.#link.nodeId;
  }

  record(change: PresenceChange): void {
    const key = `${change.hub}\n${change.connectionId}`;
    let args: (string | number)[];
    let script: ScriptName;
    if (change.kind === 'connected') {
      const userId = change.userId ?? '';
      this.#mine.set(key, { hub: change.hub, connectionId: change.connectionId, userId, groups: new Set() });
      script = 'connected';
      args = [this.#p, this.nodeId, change.hub, change.connectionId, userId];
    } else if (change.kind === 'disconnected') {
      this.#mine.delete(key);
      script = 'disconnected';
      args = [
        this.#p,
        this.nodeId,
        change.hub,
        change.connectionId,
        change.userId ?? '',
        this.#link.clock.now(),
        change.grantTtlMs ?? '',
      ];
    } else {
      const recorded = this.#mine.get(key);
      if (recorded === undefined) return;
      if (change.kind === 'joined') recorded.groups.add(change.group);
      else recorded.groups.delete(change.group);
      script = 'membership';
      args = [this.#p, change.hub, change.connectionId, change.group, change.kind];
    }
    if (this.#stale || !this.#link.ready()) {
      this.#stale = true;
      return;
    }
    this.#link.run(script, args).catch((err: unknown) => {
      this.#stale = true;
      this.#link.failed(err);
    });
  }

  async exists(hub: string, query: PresenceQuery): Promise<boolean> {
    const p = this.#p;
    switch (query.kind) {
      case 'connection':
        return (await this.#link.command(['HEXISTS', `${p}c:${hub}`, query.id])) === 1;
      case 'user':
        return (await this.#link.command(['EXISTS', `${p}u:${hub}:${query.id}`])) === 1;
      case 'group':
        return (await this.#link.command(['EXISTS', `${p}g:${hub}:${query.name}`])) === 1;
      case 'user-in-group':
        return (await this.#link.run('userInGroup', [p, hub, query.userId, query.group, this.#link.clock.now()])) === 1;
    }
  }

  async grants(hub: string, userId: string): Promise<string[]> {
    const key = `${this.#p}gr:${hub}:${userId}`;
    return (await this.#link.command(['ZRANGE', key, `(${this.#link.clock.now()}`, '+inf', 'BYSCORE'])) as string[];
  }

  async grant(hub: string, userId: string, group: string, ttlMs: number): Promise<void> {
    await this.#link.run('grant', [this.#p, hub, userId, group, this.#link.clock.now(), ttlMs]);
  }

  async revoke(hub: string, userId: string, group?: string): Promise<void> {
    const key = `${this.#p}gr:${hub}:${userId}`;
    await this.#link.command(group === undefined ? ['DEL', key] : ['ZREM', key, group]);
  }

  async advertise(url: string): Promise<void> {
    this.#url = url;
    await this.#link.command(['HSET', `${this.#p}node:${this.nodeId}`, 'url', url]);
  }

  async nodes(): Promise<ClusterNode[]> {
    const p = this.#p;
    const ids = (await this.#link.command([
      'ZRANGE',
      `${p}nodes`,
      `(${this.#link.clock.now()}`,
      '+inf',
      'BYSCORE',
    ])) as string[];
    const nodes = await Promise.all(
      ids.map(async (id) => {
        const [url, connections] = (await this.#link.command(['HMGET', `${p}node:${id}`, 'url', 'connections'])) as [
          string | null,
          string | null,
        ];
        return url === null ? undefined : { id, url, connections: Number(connections ?? 0) };
      }),
    );
    return nodes.filter((n): n is ClusterNode => n !== undefined);
  }

  /**
   * Renews this node's heartbeat and removes the nodes whose heartbeat ran out; rewrites this
   * node's records when they were lost. Returns the ids of the nodes it removed.
   */
  async heartbeat(ttlMs: number): Promise<string[]> {
    const now = this.#link.clock.now();
    const [listed, ...dead] = (await this.#link.run('heartbeat', [this.#p, this.nodeId, now, ttlMs, this.#url])) as [
      number,
      ...string[],
    ];
    const first = this.#beats++ === 0;
    // Not listed after the first beat: taken for dead and cleaned. Listed at the first: a former
    // process with this node id left records behind, which go before this one's are written.
    if ((first ? listed === 1 : listed === 0) || this.#stale) await this.#rewrite(ttlMs);
    const removed: string[] = [];
    for (const node of dead) {
      if (node === this.nodeId) continue;
      if (await this.#cleanup(node, now)) removed.push(node);
    }
    return removed;
  }

  /** Removes this node's records at once (a node that stops on purpose). */
  async leave(): Promise<void> {
    await this.#link.run('leave', [this.#p, this.nodeId]);
    await this.#cleanup(this.nodeId, this.#link.clock.now());
  }

  async #cleanup(node: string, now: number): Promise<boolean> {
    for (;;) {
      const left = Number(await this.#link.run('cleanup', [this.#p, node, now, CLEANUP_BATCH]));
      if (left <= 0) return left === 0;
    }
  }

  /** Clears whatever Redis still holds of this node and writes its connections again. */
  async #rewrite(ttlMs: number): Promise<void> {
    this.#stale = false;
    await this.leave();
    await this.#link.run('heartbeat', [this.#p, this.nodeId, this.#link.clock.now(), ttlMs, this.#url]);
    const p = this.#p;
    const writes: Promise<unknown>[] = [];
    for (const r of this.#mine.values()) {
      writes.push(this.#link.run('connected', [p, this.nodeId, r.hub, r.connectionId, r.userId]));
      for (const g of r.groups) writes.push(this.#link.run('membership', [p, r.hub, r.connectionId, g, 'joined']));
    }
    try {
      await Promise.all(writes);
    } catch (err) {
      this.#stale = true;
      throw err;
    }
  }
}
