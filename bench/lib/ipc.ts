/**
 * Request/response over the `fork()` IPC channel, typed by an API interface shared by the
 * orchestrator and its child processes (servers under test and the load generator).
 * @module
 */
import type { ChildProcess } from 'node:child_process';

/** Every method takes one structured-clonable argument and returns (a promise of) one. */
export type Api = Record<string, (args: never) => unknown>;

interface Request {
  id: number;
  method: string;
  args: unknown;
}

interface Response {
  id: number;
  result?: unknown;
  error?: string;
}

/** Child side: answers requests from the parent with `handlers`. */
export function serveIpc<A extends Api>(handlers: A): void {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error("This script is started by a benchmark's run.ts (it needs an IPC channel).");
  process.on('message', (raw: unknown) => {
    const { id, method, args } = raw as Request;
    const handler = handlers[method];
    Promise.resolve()
      .then(() => {
        if (handler === undefined) throw new Error(`unknown method ${method}`);
        return handler(args as never);
      })
      .then(
        (result) => send({ id, result } satisfies Response),
        (err: unknown) => send({ id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
  });
  // The parent going away ends the child, whatever it is doing.
  process.on('disconnect', () => process.exit(0));
  send({ id: -1, result: 'serving' } satisfies Response);
}

/** Parent side: calls the methods a child serves. */
export class Peer<A extends Api> {
  readonly child: ChildProcess;
  /** Resolves once the child serves requests (messages sent earlier would be lost). */
  readonly serving: Promise<void>;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 0;

  constructor(child: ChildProcess, name: string) {
    this.child = child;
    let serving!: () => void;
    this.serving = new Promise((resolve) => {
      serving = resolve;
    });
    child.on('message', (raw: unknown) => {
      const { id, result, error } = raw as Response;
      if (id === -1) return serving();
      const pending = this.#pending.get(id);
      if (pending === undefined) return;
      this.#pending.delete(id);
      if (error === undefined) pending.resolve(result);
      else pending.reject(new Error(`${name}: ${error}`));
    });
    child.on('exit', (code, signal) => {
      for (const { reject } of this.#pending.values()) reject(new Error(`${name} exited (${code ?? signal})`));
      serving();
      this.#pending.clear();
    });
  }

  call<M extends keyof A & string>(
    method: M,
    args: Parameters<A[M]>[0],
    timeoutMs = 60_000,
  ): Promise<Awaited<ReturnType<A[M]>>> {
    const id = this.#next++;
    if (!this.child.connected) return Promise.reject(new Error(`${method}: the child process is gone`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${method} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as Awaited<ReturnType<A[M]>>);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ id, method, args } satisfies Request);
    });
  }
}
