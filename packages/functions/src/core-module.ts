/**
 * Supplies the `@azure/functions-core` module that `@azure/functions` v4 requires from its host.
 * It is not an npm package: like the official worker, we answer `require('@azure/functions-core')`
 * by wrapping `Module.prototype.require` (the library is a CommonJS bundle, so this also covers ESM
 * apps that `import` it). Registrations made while an app loads are collected into that app's
 * {@link Registry}; loads are serialised so two hosts in one process never mix their functions.
 * @module
 */
import Module from 'node:module';
import type { Disposable, FunctionCallback, FunctionMetadata, HookCallback, ProgrammingModel } from './core-types.ts';

export const CORE_MODULE_ID = '@azure/functions-core';

/** A function as the library registered it. */
export interface RegisteredFunction {
  readonly metadata: FunctionMetadata;
  readonly callback: FunctionCallback;
  readonly programmingModel: ProgrammingModel;
}

/** What one app registered while it loaded (and, for hooks, afterwards). */
export class Registry {
  readonly functions: RegisteredFunction[] = [];
  readonly hooks = new Map<string, HookCallback[]>();
  /** Set when the library announced HTTP streaming (`app.setup({ enableHttpStream: true })`) while the app loaded. */
  httpStream = false;

  readonly log: (level: string, category: string, message: string) => void;

  constructor(log: (level: string, category: string, message: string) => void) {
    this.log = log;
  }

  hooksOf(name: string): HookCallback[] {
    let list = this.hooks.get(name);
    if (list === undefined) {
      list = [];
      this.hooks.set(name, list);
    }
    return list;
  }
}

class CoreDisposable implements Disposable {
  #dispose: (() => unknown) | undefined;
  constructor(callOnDispose: () => unknown) {
    this.#dispose = callOnDispose;
  }
  static from(...likes: { dispose: () => unknown }[]): CoreDisposable {
    return new CoreDisposable(() => {
      for (const like of likes) like.dispose();
    });
  }
  dispose(): void {
    const dispose = this.#dispose;
    this.#dispose = undefined;
    dispose?.();
  }
}

let loading: Registry | undefined;
let lastLoaded: Registry | undefined;
let programmingModel: ProgrammingModel | undefined;

function target(): Registry | undefined {
  return loading ?? lastLoaded;
}

const coreApi = {
  version: '4.0.0-hubbub',
  hostVersion: '4.1000.0',
  Disposable: CoreDisposable,
  setProgrammingModel(model: ProgrammingModel): void {
    programmingModel = model;
  },
  getProgrammingModel(): ProgrammingModel | undefined {
    return programmingModel;
  },
  registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
    const registry = loading;
    if (registry === undefined) throw new Error('A function can only be registered during app startup.');
    if (programmingModel === undefined) throw new Error('No programming model was set before registerFunction.');
    const id = metadata.functionId || metadata.name;
    if (registry.functions.some((f) => (f.metadata.functionId || f.metadata.name) === id)) {
      throw new Error(`A function with id "${id}" has already been registered.`);
    }
    const fn: RegisteredFunction = { metadata, callback, programmingModel };
    registry.functions.push(fn);
    return new CoreDisposable(() => {
      const at = registry.functions.indexOf(fn);
      if (at >= 0 && loading === registry) registry.functions.splice(at, 1);
    });
  },
  registerHook(name: string, callback: HookCallback): Disposable {
    const registry = target();
    if (registry === undefined) throw new Error(`Cannot register a "${name}" hook outside an app.`);
    const list = registry.hooksOf(name);
    list.push(callback);
    return new CoreDisposable(() => {
      const at = list.indexOf(callback);
      if (at >= 0) list.splice(at, 1);
    });
  },
  log(level: string, category: string, message: string): void {
    const registry = target();
    if (registry === undefined) return;
    // The library announces streaming through a system log (before any function sets its programming model).
    if (loading === registry && message === 'HTTP streaming enabled.') registry.httpStream = true;
    registry.log(level, category, message);
  },
};

/**
 * Programming models (one per copy of the library) that run HTTP streaming. The library's switch is
 * process-wide and locked once the app started: every later app on the same copy streams too.
 */
const streaming = new WeakSet<ProgrammingModel>();

/** Records that the functions of `registry` (and so their library copy) stream HTTP. */
export function markHttpStream(registry: Registry): void {
  if (!registry.httpStream) return;
  for (const fn of registry.functions) streaming.add(fn.programmingModel);
}

/** Whether the library copy of `model` runs HTTP requests and responses through its HTTP proxy. */
export function streamsHttp(model: ProgrammingModel): boolean {
  return streaming.has(model);
}

let installed = false;

/** Makes `require('@azure/functions-core')` answer with this host's core API (idempotent). */
export function installCoreModule(): void {
  if (installed) return;
  installed = true;
  const proto = Module.prototype as unknown as { require: (id: string) => unknown };
  proto.require = new Proxy(proto.require, {
    apply(original, self, args: unknown[]) {
      if (args[0] === CORE_MODULE_ID) return coreApi;
      return Reflect.apply(original, self, args);
    },
  });
}

let queue: Promise<unknown> = Promise.resolve();

/** Runs `load` with `registry` receiving every registration; one load at a time per process. */
export function withRegistry<T>(registry: Registry, load: () => Promise<T>): Promise<T> {
  installCoreModule();
  const run = queue.then(async () => {
    loading = registry;
    try {
      return await load();
    } finally {
      loading = undefined;
      lastLoaded = registry;
    }
  });
  queue = run.catch(() => undefined);
  return run;
}
