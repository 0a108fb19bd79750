/**
 * The composition root's close-stack: each part that started is pushed, and closing runs them in
 * reverse order — the last started is the first closed — whether the whole system stops or a later
 * part fails to start. A part whose close fails does not keep the others open.
 * @module
 */
import type { Logger } from '@hubbub/kernel';

export interface Closeable {
  close(): Promise<unknown>;
}

export class CloseStack {
  readonly #logger: Logger;
  readonly #entries: { readonly name: string; readonly close: () => Promise<unknown> }[] = [];
  #closing: Promise<void> | undefined;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Registers what just started: it closes before everything registered earlier. */
  defer(name: string, close: () => unknown): void {
    this.#entries.push({ name, close: async () => close() });
  }

  /** Opens something that arrives open (its `open` cleans up after itself when it fails) and registers its close. */
  async open<T extends Closeable>(name: string, open: () => Promise<T> | T): Promise<T> {
    const opened = await open();
    this.defer(name, () => opened.close());
    return opened;
  }

  /**
   * Starts a part made by a factory that starts nothing; registered once started. A part that fails
   * to start is closed at once (it may have started in part), and the error goes on.
   */
  async start<T extends Closeable & { start(): Promise<unknown> }>(name: string, part: T): Promise<T> {
    try {
      await part.start();
    } catch (err) {
      await part.close().catch((closeErr: unknown) => this.#failed(name, closeErr));
      throw err;
    }
    this.defer(name, () => part.close());
    return part;
  }

  /**
   * Closes every registered part, the last first, each even when one before it failed; rejects with
   * the first failure once all are closed (later ones are logged). Once: later calls wait for the first.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      let first: { error: unknown } | undefined;
      while (this.#entries.length > 0) {
        const entry = this.#entries.pop()!;
        try {
          await entry.close();
        } catch (err) {
          if (first === undefined) first = { error: err };
          else this.#failed(entry.name, err);
        }
      }
      if (first !== undefined) throw first.error;
    })();
    return this.#closing;
  }

  #failed(name: string, err: unknown): void {
    this.#logger.error({ err, part: name }, `${name} failed to close`);
  }
}
