/**
 * The child processes of a benchmark run (servers under test, load generators): started with
 * `fork()` under tsx and an IPC {@link Peer}, stopped politely or killed, and all killed when the
 * orchestrator gives up.
 * @module
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { type Api, Peer } from './ipc.ts';

export interface StopOptions {
  /** Ask the child to exit through its `exit` IPC method (so it can write a profile) instead of SIGTERM. */
  askToExit: boolean;
  /** How long to wait before the child is killed. */
  timeoutMs: number;
}

export class Children {
  readonly #dir: string;
  readonly #execArgv: readonly string[];
  readonly #live = new Set<Peer<Api>>();

  /** `dir` holds the child scripts; `execArgv` is given to every child before its own flags. */
  constructor(dir: string, execArgv: readonly string[] = []) {
    this.#dir = dir;
    this.#execArgv = execArgv;
  }

  start<A extends Api>(script: string, name: string, execArgv: readonly string[] = []): Peer<A> {
    const child = fork(join(this.#dir, script), [], {
      execArgv: [...this.#execArgv, '--import', 'tsx', ...execArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const peer = new Peer<A>(child, name);
    const entry = peer as unknown as Peer<Api>;
    this.#live.add(entry);
    child.on('exit', () => this.#live.delete(entry));
    return peer;
  }

  async stop(peer: Peer<Api>, options: StopOptions): Promise<void> {
    const child = peer.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      if (options.askToExit) {
        (peer as unknown as Peer<{ exit(args: null): void }>)
          .call('exit', null, options.timeoutMs)
          .catch(() => child.kill('SIGTERM'));
      } else {
        child.kill('SIGTERM');
      }
      setTimeout(() => child.kill('SIGKILL'), options.timeoutMs * 1.5).unref();
    });
  }

  killAll(): void {
    for (const peer of this.#live) peer.child.kill('SIGKILL');
  }
}

/** Rejects with "<what> timed out" when `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
