/**
 * What the process owner does with an error nobody caught — a throw in a timer callback or an
 * event handler, a rejection nobody awaited — from the app's functions (with `workerThreads: 0` they
 * share this thread with the bus, hub and store) or from anywhere else. The library installs nothing
 * on import: the process belongs to whoever starts it, here {@link runUntilSignal}.
 *
 * - `unhandledRejection`: logged as an error, and the process keeps running. The promise's owner
 *   has already moved on; nothing was left half-done on the stack.
 * - `uncaughtException`: logged as fatal, and the process stops gracefully with exit code 1 — the
 *   triggers stop, running invocations drain and settle their messages — as Node's own default
 *   exits (without draining). A throw unwound a stack in the middle of some work, and whether that
 *   work was the app's or the bus's, the hub's or the store's is not knowable from here: running on
 *   with state nobody can vouch for is worse than a restart by the supervisor (systemd, Docker,
 *   Kubernetes). An app that must not take the process down runs its functions on worker threads
 *   (`workerThreads`), where an uncaught exception replaces that worker only, as Azure restarts its
 *   language worker.
 * @module
 */
import type { Logger } from '@hubbub/kernel';

/**
 * Installs the two handlers; `fatal` is called once, on the first uncaught exception (a second one
 * while it stops exits at once with code 1). Returns a function that removes them.
 */
export function watchStrayErrors(logger: Logger, fatal: (err: unknown) => void): () => void {
  let stopping = false;
  const onRejection = (reason: unknown): void => {
    logger.error({ err: reason }, 'Unhandled promise rejection (the process keeps running).');
  };
  const onException = (err: unknown): void => {
    if (stopping) {
      logger.error({ err }, 'Uncaught exception while stopping: exiting now.');
      process.exit(1);
    }
    stopping = true;
    logger.error({ err, fatal: true }, 'Uncaught exception: stopping (draining), exit code 1.');
    fatal(err);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
