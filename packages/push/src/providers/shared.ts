/**
 * Small pieces every provider uses: reading a delivery header case-insensitively, validating
 * numeric options once, and the outcome of an exchange that never got an HTTP answer.
 * @module
 */
import { InvalidOptionError } from '@hubbub/kernel';
import { isLoopbackHost } from './http-exchange.ts';
import type { DeliveryOutcome } from './provider.ts';

/** The value of header `name` (lower-case) in the delivery's headers, whatever its case there. */
export function header(headers: Readonly<Record<string, string>> | undefined, name: string): string | undefined {
  if (headers === undefined) return undefined;
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name) return headers[key];
  return undefined;
}

export function positiveInteger(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new InvalidOptionError(option, 'must be a whole number > 0.');
  return value;
}

/** A request that got no answer (timeout, abort, refused or reset connection) is worth retrying. */
export function transportOutcome(failure: {
  reason: 'timeout' | 'aborted' | 'network';
  error?: Error;
}): DeliveryOutcome {
  const code = (failure.error as { code?: unknown } | undefined)?.code;
  return { kind: 'retry', reason: typeof code === 'string' ? `${failure.reason}: ${code}` : failure.reason };
}

/** An https URL, or http on a loopback host (a local test server); KERNEL_INVALID_OPTION otherwise. */
export function platformUrl(option: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidOptionError(option, 'must be a URL.');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new InvalidOptionError(option, 'must be https (plain http only for a loopback host).');
  }
  return url;
}
