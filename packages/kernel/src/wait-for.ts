/**
 * Polls a condition until it holds or a deadline passes: the bounded wait that tests use instead
 * of fixed sleeps.
 * @module
 */
import { HubbubError } from './errors.ts';

export interface WaitForOptions {
  /** Give up after this many ms. @default 5_000 */
  timeoutMs?: number;
  /** Poll interval in ms. @default 5 */
  intervalMs?: number;
  /** Named in the timeout error. @default 'condition' */
  what?: string;
}

/** Resolves with the first truthy value `probe` returns; rejects with `KERNEL_WAIT_TIMEOUT`. */
export async function waitFor<T>(probe: () => T | Promise<T>, options: WaitForOptions = {}): Promise<NonNullable<T>> {
  const { timeoutMs = 5_000, intervalMs = 5, what = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new HubbubError('KERNEL_WAIT_TIMEOUT', `Timed out after ${timeoutMs} ms waiting for ${what}.`, {
        cause: last,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
