/**
 * The all-in-one server's front door: request budgets per client address, as token buckets, for
 * the routes an attacker can drive without a credential — negotiate (every `…/negotiate` and each
 * WebSocket upgrade), the SignalR REST API, the bus API — and a stricter budget of refused
 * requests (401/403): an address that keeps failing authentication is answered 429 for everything
 * until its budget refills. Over budget: 429 KERNEL_RATE_LIMITED with `Retry-After`.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRateLimiter, HttpError, type RateLimiter, type RateLimitOptions } from '@hubbub/kernel';

export type RateLimit = Pick<RateLimitOptions, 'ratePerSecond' | 'burst'>;

export interface SystemRateLimits {
  /** Negotiates and WebSocket upgrades per address. @default 50/s, burst 500 */
  negotiate: RateLimit;
  /** SignalR REST API calls (`/api/v1/…`, `/api/hubs/…`) per address. @default 500/s, burst 2,000 */
  rest: RateLimit;
  /** Bus API requests per address and per key. @default 1,000/s, burst 5,000 */
  bus: RateLimit;
  /** Requests refused with 401 or 403 per address. @default 10/s, burst 100 */
  failures: RateLimit;
}

export const defaultRateLimits: SystemRateLimits = {
  negotiate: { ratePerSecond: 50, burst: 500 },
  rest: { ratePerSecond: 500, burst: 2_000 },
  bus: { ratePerSecond: 1_000, burst: 5_000 },
  failures: { ratePerSecond: 10, burst: 100 },
};

export interface FrontDoor {
  /** Throws KERNEL_RATE_LIMITED when this request's address is over a budget; counts refusals. */
  admit(request: IncomingMessage, response: ServerResponse): void;
  admitUpgrade(request: IncomingMessage): void;
  /** The bus API's own budget (it knows the key as well as the address). */
  readonly busRateLimit: RateLimit | undefined;
}

export function createFrontDoor(limits: Partial<SystemRateLimits> | false | undefined): FrontDoor {
  if (limits === false) return { admit() {}, admitUpgrade() {}, busRateLimit: undefined };
  const budgets = { ...defaultRateLimits, ...limits };
  const negotiate = createRateLimiter(budgets.negotiate);
  const rest = createRateLimiter(budgets.rest);
  const failures = createRateLimiter(budgets.failures);
  const addressOf = (request: IncomingMessage) => request.socket.remoteAddress ?? 'unknown';

  const checkFailures = (address: string) => {
    if (failures.available(address) >= 1) return;
    throw new HttpError('KERNEL_RATE_LIMITED', 429, 'Too many refused requests from this address; slow down.', {
      detail: { retryAfterSeconds: Math.max(1, Math.ceil(1 / budgets.failures.ratePerSecond)) },
    });
  };
  const classOf = (request: IncomingMessage): RateLimiter | undefined => {
    const path = (request.url ?? '/').split('?', 1)[0]!.toLowerCase();
    if (path.endsWith('/negotiate') || path.endsWith('/negotiate/')) return negotiate;
    if (path.startsWith('/api/v1/') || path.startsWith('/api/hubs/')) return rest;
    return undefined;
  };

  return {
    admit(request, response) {
      const address = addressOf(request);
      checkFailures(address);
      classOf(request)?.check(address, 'requests of this kind from this address');
      response.once('finish', () => {
        if (response.statusCode === 401 || response.statusCode === 403) failures.take(address);
      });
    },
    admitUpgrade(request) {
      const address = addressOf(request);
      checkFailures(address);
      negotiate.check(address, 'connections from this address');
    },
    busRateLimit: budgets.bus,
  };
}
