/**
 * What one connection is allowed: the tokens it put on `$cbs` (the `put-token` request and its
 * reply), and for each link the expiry of the token that admitted it. One timer per connection
 * fires at the earliest expiry; a link whose token ran out is handed to `expired` unless a token
 * put since covers it for longer.
 * @module
 */
import type { SasRight } from '@hubbub/bus';
import type { Clock, TimerHandle } from '@hubbub/kernel';
import { type Grant, type KeyRing, TokenStore } from './auth.ts';
import { Condition } from './conditions.ts';
import { type AmqpMessage, types } from './rhea.ts';

interface Claim {
  expiresAt: number;
  path: string;
  right: SasRight | undefined;
}

export class Claims<L> {
  readonly #tokens: TokenStore;
  readonly #clock: Clock;
  readonly #expired: (link: L) => void;
  readonly #claims = new Map<L, Claim>();
  #timer: TimerHandle | undefined;
  #disposed = false;
  /** Called on the first accepted token. */
  onFirstToken: (() => void) | undefined;

  constructor(ring: KeyRing, maxTokens: number, clock: Clock, expired: (link: L) => void) {
    this.#tokens = new TokenStore(ring, maxTokens);
    this.#clock = clock;
    this.#expired = expired;
  }

  get hasTokens(): boolean {
    return this.#tokens.size > 0;
  }

  /** The best grant a kept token gives for `path` with `right` (any right when undefined). */
  authorize(path: string, right: SasRight | undefined): Grant {
    return this.#tokens.authorize(path, right, this.#clock.now());
  }

  /** Whether the key behind a grant has `right`. */
  has(keyName: string, right: SasRight): boolean {
    return this.#tokens.has(keyName, right);
  }

  /** Remembers that `link` was admitted by `grant` for `path`, until the grant's expiry. */
  track(link: L, grant: Grant & { ok: true }, path: string, right: SasRight | undefined): void {
    this.#claims.set(link, { expiresAt: grant.expiresAtMs, path, right });
    this.#schedule();
  }

  forget(link: L): void {
    this.#claims.delete(link);
  }

  dispose(): void {
    this.#disposed = true;
    this.#timer?.cancel();
    this.#claims.clear();
  }

  /** Handles a `put-token` request; returns the reply (status in `status-code`, as CBS spells it). */
  putToken(request: AmqpMessage): AmqpMessage {
    const props = request.application_properties ?? {};
    const audience = props.name;
    const token = request.body;
    let status = 202;
    let description = 'Accepted';
    let condition: string | undefined;
    if (props.operation !== 'put-token' || typeof audience !== 'string' || typeof token !== 'string') {
      status = 400;
      condition = Condition.ArgumentError;
      description = 'A put-token request needs operation, name (the audience) and a token string.';
    } else if (props.type !== undefined && props.type !== 'servicebus.windows.net:sastoken') {
      status = 401;
      condition = Condition.Unauthorized;
      description = `Token type '${String(props.type)}' is not supported: use a shared access signature.`;
    } else {
      const grant = this.#tokens.put(audience, token, this.#clock.now());
      if (grant.ok) {
        this.onFirstToken?.();
        this.onFirstToken = undefined;
        this.#extend();
      } else {
        status = 401;
        condition = Condition.Unauthorized;
        description = `Unauthorized: ${grant.reason}.`;
      }
    }
    const application_properties: Record<string, unknown> = {
      'status-code': types.wrap_int(status),
      'status-description': description,
    };
    if (condition !== undefined) application_properties['error-condition'] = condition;
    return { correlation_id: request.message_id, application_properties };
  }

  /** A token was put: links it covers for longer keep going longer. */
  #extend(): void {
    for (const claim of this.#claims.values()) {
      const grant = this.authorize(claim.path, claim.right);
      if (grant.ok && grant.expiresAtMs > claim.expiresAt) claim.expiresAt = grant.expiresAtMs;
    }
    this.#schedule();
  }

  #schedule(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    if (this.#disposed) return;
    let next = Number.POSITIVE_INFINITY;
    for (const c of this.#claims.values()) next = Math.min(next, c.expiresAt);
    if (next === Number.POSITIVE_INFINITY) return;
    const delay = Math.max(0, Math.min(next - this.#clock.now(), 2_147_483_647));
    this.#timer = this.#clock.setTimeout(() => this.#expire(), delay);
  }

  #expire(): void {
    const now = this.#clock.now();
    for (const [link, claim] of [...this.#claims]) {
      if (claim.expiresAt > now) continue;
      const grant = this.authorize(claim.path, claim.right);
      if (grant.ok) {
        claim.expiresAt = grant.expiresAtMs;
        continue;
      }
      this.#claims.delete(link);
      this.#expired(link);
    }
    this.#schedule();
  }
}
