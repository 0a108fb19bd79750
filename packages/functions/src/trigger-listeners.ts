/**
 * The running triggers of the host: each extension's trigger started with the functions whose
 * trigger binding is its own (matched by the binding type object, never by a name), and what they
 * answer for — HTTP requests, descriptions of their functions, timers' next runs.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BindingType, FunctionEntry } from './bindings.ts';
import type { Invoke, Trigger, TriggerListener } from './extension.ts';

/** What the host says about a loaded function. */
export interface FunctionInfo {
  readonly name: string;
  readonly trigger: string;
  /** HTTP triggers: the full route including the prefix, e.g. `api/orders/{id}`. */
  readonly route?: string;
  readonly methods?: readonly string[];
  readonly authLevel?: string;
}

export class TriggerListeners {
  #listeners: TriggerListener[] = [];
  /** The triggers that take requests, in start order (kept after close). */
  readonly #requests: TriggerListener[] = [];
  #closed = false;

  /** Starts every trigger, in order; the first that rejects fails the start (close() stops the others). */
  async start(triggers: readonly Trigger[], entries: readonly FunctionEntry[], invoke: Invoke): Promise<void> {
    const byBinding = new Map<BindingType, FunctionEntry[]>();
    for (const entry of entries) {
      const list = byBinding.get(entry.trigger.kind);
      if (list === undefined) byBinding.set(entry.trigger.kind, [entry]);
      else list.push(entry);
    }
    for (const trigger of triggers) {
      const listener = await trigger.start(byBinding.get(trigger.binding) ?? [], invoke);
      this.#listeners.push(listener);
      if (listener.handleRequest !== undefined) this.#requests.push(listener);
    }
  }

  /** The first trigger that takes requests and says this one is addressed to it. */
  #addressee(req: IncomingMessage): TriggerListener | undefined {
    return this.#requests.find((listener) => listener.addresses?.(req) ?? true);
  }

  /** Whether a trigger that takes requests (kept after close) says this one is addressed to it. */
  addresses(req: IncomingMessage): boolean {
    return this.#addressee(req) !== undefined;
  }

  /** Serves a request through the trigger it is addressed to; undefined when none is or after close. */
  handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> | undefined {
    return this.#closed ? undefined : this.#addressee(req)?.handleRequest?.(req, res);
  }

  describe(entry: FunctionEntry): FunctionInfo {
    let more: Readonly<Record<string, unknown>> | undefined;
    for (const listener of this.#listeners) more ??= listener.describe?.(entry.name);
    return { name: entry.name, trigger: String(entry.trigger.info.type), ...more };
  }

  nextRun(name: string): number | undefined {
    for (const listener of this.#listeners) {
      const at = listener.nextRun?.(name);
      if (at !== undefined) return at;
    }
    return undefined;
  }

  /** Stops every trigger; the promises settle once each one's work has. */
  close(): Promise<void>[] {
    const listeners = this.#listeners;
    this.#listeners = [];
    this.#closed = true;
    return listeners.map((l) => l.close());
  }
}
