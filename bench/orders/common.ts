/**
 * What bench/orders' processes share: the clock, quantiles, the benchmark's orders.
 * @module
 */

export type StoreKind = 'pglite' | 'postgres';

/** The system-wide monotonic clock (CLOCK_MONOTONIC), the same in every process of the run. */
export const now = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface Quantiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export const r3 = (x: number) => Math.round(x * 1000) / 1000;

export function quantiles(values: readonly number[]): Quantiles {
  if (values.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0 };
  const s = Float64Array.from(values).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return { p50: r3(at(0.5)), p90: r3(at(0.9)), p99: r3(at(0.99)), max: r3(s[s.length - 1]!) };
}

/** The restaurant every benchmark order goes to (its account accepts them). */
export const RESTAURANT = 'pike-street-pizza';

/** The body of the i-th order (the API's request; the baseline prices the same). */
export const orderRequest = (i: number) => ({
  restaurantId: RESTAURANT,
  items: [{ itemId: 'margherita', quantity: 1 + (i % 3) }],
  deliveryAddress: { lat: 47.62, lng: -122.315 },
});
