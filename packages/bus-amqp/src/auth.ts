/**
 * Claims-based security as Service Bus does it over AMQP: a client puts a SAS token for an
 * audience (`sb://host/queue`, `sb://host/queue/$management`) on the `$cbs` node, then attaches
 * links the token covers. Tokens are verified with the bus's own SAS code against the bus's keys;
 * each link remembers when its token expires, and the connection closes a link whose token ran
 * out unless the client put a fresh one (the SDK renews every 45 minutes).
 * @module
 */
import { type SasKey, type SasRight, verifySasToken } from '@hubbub/bus';
import { InvalidOptionError } from '@hubbub/kernel';

export interface KeyRing {
  readonly keys: ReadonlyMap<string, string>;
  readonly rights: ReadonlyMap<string, ReadonlySet<SasRight>>;
}

const validRights = new Set<unknown>(['Send', 'Listen', 'Manage']);

/** Validates the keys option (at least one key: the front never runs without authentication). */
export function keyRing(keys: readonly SasKey[] | undefined): KeyRing {
  if (!Array.isArray(keys) || keys.length === 0)
    throw new InvalidOptionError('keys', 'at least one SAS key is required');
  const ring = new Map<string, string>();
  const rights = new Map<string, ReadonlySet<SasRight>>();
  for (const k of keys) {
    if (typeof k?.name !== 'string' || k.name === '' || typeof k.key !== 'string' || k.key === '') {
      throw new InvalidOptionError('keys', 'each key needs a non-empty name and key');
    }
    const granted = k.rights ?? ['Manage'];
    if (!Array.isArray(granted) || granted.length === 0 || granted.some((r) => !validRights.has(r))) {
      throw new InvalidOptionError('keys', "rights must list 'Send', 'Listen' and/or 'Manage'");
    }
    ring.set(k.name, k.key);
    rights.set(k.name, new Set(granted.includes('Manage') ? ['Send', 'Listen', 'Manage'] : granted));
  }
  return { keys: ring, rights };
}

/** The entity path of an audience: `sb://host/queue/$management` → `queue/$management`. */
export function audiencePath(audience: string): string {
  return audience.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '').replace(/^\/+|\/+$/g, '');
}

export type Grant = { ok: true; keyName: string; expiresAtMs: number } | { ok: false; reason: string };

/** The tokens one connection has put, newest per audience, at most `max`. */
export class TokenStore {
  readonly #ring: KeyRing;
  readonly #max: number;
  readonly #tokens = new Map<string, string>();

  constructor(ring: KeyRing, max: number) {
    this.#ring = ring;
    this.#max = max;
  }

  /** Verifies and keeps a token for `audience`. */
  put(audience: string, token: string, nowMs: number): Grant {
    const path = audiencePath(audience);
    const verdict = verifySasToken(token, this.#ring.keys, path, nowMs);
    if (!verdict.ok) return verdict;
    this.#tokens.delete(path);
    if (this.#tokens.size >= this.#max) this.#tokens.delete(this.#tokens.keys().next().value as string);
    this.#tokens.set(path, token);
    return verdict;
  }

  get size(): number {
    return this.#tokens.size;
  }

  /** The longest-lived grant a kept token gives for `path` with `right`. */
  authorize(path: string, right: SasRight | undefined, nowMs: number): Grant {
    let best: Grant = { ok: false, reason: `no token covers '${path}': put one on $cbs first` };
    for (const token of this.#tokens.values()) {
      const v = verifySasToken(token, this.#ring.keys, path, nowMs);
      if (!v.ok) continue;
      if (right !== undefined && !this.#ring.rights.get(v.keyName)?.has(right)) {
        if (!best.ok) best = { ok: false, reason: `key '${v.keyName}' lacks the ${right} right` };
        continue;
      }
      if (!best.ok || v.expiresAtMs > best.expiresAtMs) best = v;
    }
    return best;
  }

  /** Whether the key that signed a grant has `right`. */
  has(keyName: string, right: SasRight): boolean {
    return this.#ring.rights.get(keyName)?.has(right) === true;
  }
}
