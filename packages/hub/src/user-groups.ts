/**
 * Group memberships granted to users (`groups.addUser`), which follow the user's future
 * connections. Granting one costs nothing to the caller — a negotiate can do it for a user who
 * never connects — so each is kept for a TTL and their number is bounded, the oldest dropped
 * first. Connections that already joined the group keep it while they live; only the grant for
 * later connections ends.
 *
 * A membership lasts `ttlMs` from when it was granted (again), or from when the user's last
 * connection ended; while the user is connected it does not run out. The TTL is the same for all,
 * so insertion order is expiry order: expired grants are found at the front, in time proportional
 * to their number.
 * @module
 */
import type { Clock } from '@hubbub/kernel';

interface Grant {
  readonly userId: string;
  readonly group: string;
  expiresAt: number;
}

export interface UserGroupLimits {
  readonly ttlMs: number;
  readonly max: number;
  readonly clock: Clock;
  /** Whether the user has a live connection on this node (their grants do not expire meanwhile). */
  readonly isConnected: (userId: string) => boolean;
}

export class UserGroupMemberships {
  readonly #limits: UserGroupLimits;
  /** Every grant, oldest first (= soonest to expire). */
  readonly #order = new Set<Grant>();
  readonly #byUser = new Map<string, Map<string, Grant>>();

  constructor(limits: UserGroupLimits) {
    this.#limits = limits;
  }

  /** Grants kept now (expired ones are dropped first). */
  get size(): number {
    this.#expire();
    return this.#order.size;
  }

  /** Grants `group` to `userId`, or renews the grant. Returns how many old grants were dropped to make room. */
  add(userId: string, group: string): number {
    this.#expire();
    let groups = this.#byUser.get(userId);
    if (groups === undefined) {
      groups = new Map();
      this.#byUser.set(userId, groups);
    }
    const existing = groups.get(group);
    if (existing !== undefined) {
      this.#renew(existing);
      return 0;
    }
    const grant: Grant = { userId, group, expiresAt: this.#limits.clock.now() + this.#limits.ttlMs };
    groups.set(group, grant);
    this.#order.add(grant);
    let dropped = 0;
    while (this.#order.size > this.#limits.max) {
      this.#delete(this.#order.values().next().value!);
      dropped++;
    }
    return dropped;
  }

  remove(userId: string, group: string): void {
    const grant = this.#byUser.get(userId)?.get(group);
    if (grant !== undefined) this.#delete(grant);
  }

  removeAll(userId: string): void {
    for (const grant of [...(this.#byUser.get(userId)?.values() ?? [])]) this.#delete(grant);
  }

  has(userId: string, group: string): boolean {
    this.#expire();
    return this.#byUser.get(userId)?.has(group) ?? false;
  }

  /** The groups granted to `userId`. */
  groupsOf(userId: string): string[] {
    this.#expire();
    const groups = this.#byUser.get(userId);
    return groups === undefined ? [] : [...groups.keys()];
  }

  /** The user's last connection on this node ended: their grants' TTL runs from now. */
  disconnected(userId: string): void {
    for (const grant of [...(this.#byUser.get(userId)?.values() ?? [])]) this.#renew(grant);
  }

  #renew(grant: Grant): void {
    grant.expiresAt = this.#limits.clock.now() + this.#limits.ttlMs;
    this.#order.delete(grant);
    this.#order.add(grant);
  }

  #delete(grant: Grant): void {
    this.#order.delete(grant);
    const groups = this.#byUser.get(grant.userId);
    groups?.delete(grant.group);
    if (groups?.size === 0) this.#byUser.delete(grant.userId);
  }

  /** Drops the grants whose time is up, renewing those of connected users instead. */
  #expire(): void {
    const now = this.#limits.clock.now();
    for (const grant of this.#order) {
      if (grant.expiresAt > now) return;
      // A renewed grant moves to the end with a later expiry, so this loop still ends.
      if (this.#limits.isConnected(grant.userId)) this.#renew(grant);
      else this.#delete(grant);
    }
  }
}
