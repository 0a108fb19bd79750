/**
 * How long an order may stay in each active status before the operations board calls it stuck:
 * the defaults, their check, and the `--stuck-after` flag's form. Kernel only, so `npm start`
 * reads the flag before the order system's code loads.
 * @module
 */
import { InvalidOptionError } from '@hubbub/kernel';

/** The statuses of an order still under way. */
export const ACTIVE_STATUSES = ['placed', 'accepted', 'preparing', 'ready', 'picked_up'] as const;
export type ActiveStatus = (typeof ACTIVE_STATUSES)[number];

/** How long an order may stay in each status before the operations board calls it stuck, in seconds. */
export const DEFAULT_STUCK_AFTER_SECONDS: Readonly<Record<ActiveStatus, number>> = {
  placed: 5 * 60,
  accepted: 10 * 60,
  preparing: 30 * 60,
  ready: 10 * 60,
  picked_up: 45 * 60,
};

/** The thresholds with the defaults filled in; InvalidOptionError for an unknown status or a non-positive number. */
export function stuckThresholds(given: Partial<Record<string, number>> = {}): Record<ActiveStatus, number> {
  const out = { ...DEFAULT_STUCK_AFTER_SECONDS };
  for (const [status, seconds] of Object.entries(given)) {
    if (!(ACTIVE_STATUSES as readonly string[]).includes(status)) {
      throw new InvalidOptionError(`stuckAfterSeconds.${status}`, `must be one of ${ACTIVE_STATUSES.join(', ')}`);
    }
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
      throw new InvalidOptionError(`stuckAfterSeconds.${status}`, 'must be a positive number of seconds');
    }
    out[status as ActiveStatus] = seconds;
  }
  return out;
}

/**
 * Thresholds from `placed=300,ready=600` (the `--stuck-after` flag): checked as
 * {@link stuckThresholds} checks them; KERNEL_INVALID_OPTION (option `stuck-after`) for a pair
 * that is not `status=seconds`.
 */
export function parseStuckAfter(text: string): Record<ActiveStatus, number> {
  const given: Record<string, number> = {};
  for (const pair of text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const match = /^([a-z_]+)=(\d+(?:\.\d+)?)$/.exec(pair);
    if (match === null) throw new InvalidOptionError('stuck-after', `'${pair.slice(0, 40)}' is not status=seconds`);
    given[match[1]!] = Number(match[2]);
  }
  return stuckThresholds(given);
}
