/**
 * The in-process engine: state lives in memory only. It is the reference every other engine is
 * compared with; reopening the same instance after `close()` returns the state it held (that is
 * how the conformance suite exercises restarts on it).
 * @module
 */

import { closedError } from '../../errors.ts';
import { LiveState } from '../live-state.ts';
import type { BusEngine, EngineOp, EngineState } from '../port.ts';

export class MemoryEngine implements BusEngine {
  readonly kind = 'memory';
  #state = new LiveState();
  #open = false;

  async open(): Promise<EngineState> {
    this.#open = true;
    return this.#state.snapshot();
  }

  write(ops: readonly EngineOp[]): Promise<void> {
    if (!this.#open) return Promise.reject(closedError('engine'));
    for (const op of ops) this.#state.apply(op);
    return Promise.resolve();
  }

  async compact(): Promise<void> {}

  async close(): Promise<void> {
    this.#open = false;
  }
}

export function createMemoryEngine(): BusEngine {
  return new MemoryEngine();
}
