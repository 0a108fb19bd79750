/**
 * Exponential back-off with full jitter, as a pure function of the attempt number.
 * @module
 */

export interface BackoffOptions {
  /** Delay before the first retry, in ms. @default 100 */
  initialMs?: number;
  /** Upper bound of any delay, in ms. @default 30_000 */
  maxMs?: number;
  /** Growth factor per attempt. @default 2 */
  factor?: number;
  /** Source of randomness in [0, 1); `() => 1` disables jitter. @default Math.random */
  random?: () => number;
}

/** Delay in ms before retry number `attempt` (1-based). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const { initialMs = 100, maxMs = 30_000, factor = 2, random = Math.random } = options;
  const ceiling = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt - 1));
  return Math.round(ceiling * random());
}
