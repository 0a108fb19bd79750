/**
 * `--worker-heap OLD,SEMI`: the invocation threads' initial old space and largest semi-space, MB
 * (0: the process's), as the functions host's `workerHeap`; undefined when the flag is not given.
 * @module
 */
import type { WorkerHeap } from '@hubbub/functions';

export function workerHeapFlag(value: string | undefined): WorkerHeap | undefined {
  if (value === undefined) return undefined;
  const [old, semi, ...rest] = value.split(',').map(Number);
  const ok = (n: number | undefined) => n !== undefined && Number.isInteger(n) && n >= 0;
  if (!ok(old) || !ok(semi) || rest.length > 0) {
    throw new Error(`--worker-heap: '${value}' is not OLD,SEMI (two whole numbers of MB, 0 for the process's)`);
  }
  return { initialOldSpaceMb: old!, maxSemiSpaceMb: semi! };
}
