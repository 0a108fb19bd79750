/**
 * What each conformance test gets: a started store over a fresh driver, a manual clock, helpers.
 * @module
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ManualClock, sequentialIds } from '@hubbub/kernel';
import type { DocumentDriver } from '../driver.ts';
import type { StoreErrorCode } from '../errors.ts';
import { type Container, createStore, type Store } from '../index.ts';

export interface DocumentDriverSuiteOptions<D extends DocumentDriver = DocumentDriver> {
  name: string;
  /** A fresh, empty driver per test. */
  create: () => D | Promise<D>;
  /** Cleans up after a test (the store has closed the driver already). */
  destroy?: (driver: D) => Promise<void>;
  /** A driver over the same storage as a closed one (restart). Omit when the driver cannot restart. */
  reopen?: (closed: D) => D | Promise<D>;
  /** Test names to skip, each with its reason. */
  skip?: Record<string, string>;
  /** Set when the driver cannot run here (its server is not reachable): every test skips with this reason. */
  unavailable?: string;
}

export interface Ctx {
  store: Store;
  clock: ManualClock;
  /** A container `shop/orders` partitioned by `/customerId`. */
  orders: Container;
  /** Closes the store and opens a new one over the same storage. */
  restart(): Promise<Store>;
}

/** The size limit the suite's stores run with, so that the size test stays cheap. */
export const SUITE_MAX_ITEM_BYTES = 16_384;

/** The suite's stores sweep every 10 minutes of manual-clock time. */
export const SUITE_SWEEP_INTERVAL_MS = 600_000;

export type TestFn = (title: string, body: (ctx: Ctx) => Promise<void>) => void;

export function makeTest<D extends DocumentDriver>(options: DocumentDriverSuiteOptions<D>): TestFn {
  const { create, destroy, reopen, skip = {}, unavailable } = options;
  return (title, body) => {
    const run = async (): Promise<void> => {
      const clock = new ManualClock(1_700_000_000_000);
      let driver = await create();
      const open = (d: D): Store =>
        createStore({
          driver: d,
          clock,
          ids: sequentialIds('e'),
          maxItemBytes: SUITE_MAX_ITEM_BYTES,
          sweepIntervalMs: SUITE_SWEEP_INTERVAL_MS,
        });
      const store = open(driver);
      await store.start();
      const db = (await store.databases.create({ id: 'shop' })).database;
      const { container: orders } = await db.containers.create({ id: 'orders', partitionKey: '/customerId' });
      const ctx: Ctx = {
        store,
        clock,
        orders,
        async restart() {
          if (reopen === undefined) throw new Error('this driver cannot reopen');
          await ctx.store.close();
          driver = await reopen(driver);
          ctx.store = open(driver);
          await ctx.store.start();
          ctx.orders = ctx.store.database('shop').container('orders');
          return ctx.store;
        },
      };
      try {
        await body(ctx);
      } finally {
        await ctx.store.close();
        await destroy?.(driver);
      }
    };
    const reason =
      unavailable ??
      skip[title] ??
      (title.includes('[restart]') && reopen === undefined ? 'the driver cannot reopen' : undefined);
    if (reason !== undefined) it(title, { skip: reason }, run);
    else it(title, run);
  };
}

/** Asserts that `work` rejects with a StoreError of `code`; returns it. */
export async function rejectsWith(
  work: Promise<unknown> | (() => unknown),
  code: StoreErrorCode,
): Promise<{ code: string; status?: number; detail?: Record<string, unknown> }> {
  let caught: unknown;
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected ${code}, but it succeeded`);
  assert.equal((caught as { code?: string }).code, code, `expected ${code}: ${(caught as Error).message}`);
  return caught as { code: string; detail?: Record<string, unknown> };
}
