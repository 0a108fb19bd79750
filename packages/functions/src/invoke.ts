/**
 * One invocation, driven through the library's own invocation model exactly as the Azure Functions
 * Node worker drives it: `getInvocationModel` → `getArguments` → preInvocation hooks →
 * `invokeFunction` → postInvocation hooks → `getResponse`. User code therefore sees the library's
 * real `HttpRequest`, `InvocationContext`, `extraInputs`/`extraOutputs` and return conversion.
 * @module
 */
import { type Logger, type LogLevel, logsAt } from '@hubbub/kernel';
import type { RegisteredFunction, Registry } from './core-module.ts';
import type {
  CoreInvocationContext,
  FunctionCallback,
  RpcInvocationRequest,
  RpcInvocationResponse,
  RpcLogCategory,
  RpcLogLevel,
} from './core-types.ts';
import { type DeferredTriggerMetadata, expandTriggerMetadata } from './extensions/service-bus/messages.ts';
import { azureThreshold, type LogLevelTable, passes, type Threshold, thresholdOf } from './log-levels.ts';

/**
 * An invocation request as the host hands it to the thread that runs it: the RPC request, and
 * possibly its trigger metadata still unbuilt (`deferredMetadata`, built into `triggerMetadata`
 * there: the host's thread does not build or clone the RPC objects).
 */
export type InvocationRequest = RpcInvocationRequest & {
  invocationId: string;
  deferredMetadata?: DeferredTriggerMetadata | undefined;
};

export interface InvocationScope {
  readonly registry: Registry;
  /** Shared by every hook of the app (`appHookData`). */
  readonly appHookData: Record<string, unknown>;
  readonly logger: Logger;
  /** host.json `logging.logLevel`: a function's own lines are written from its categories' levels on. */
  readonly logLevels?: LogLevelTable | undefined;
}

export interface InvocationResult {
  readonly response: RpcInvocationResponse;
  /** The library's `InvocationContext` the function saw. */
  readonly context: unknown;
}

const readOnly = (name: string) => () => {
  throw new TypeError(`Cannot assign to read only property '${name}'`);
};

function hookContext(hookData: Record<string, unknown>, scope: InvocationScope, fields: Record<string, unknown>) {
  const ctx: Record<string, unknown> = { ...fields };
  Object.defineProperty(ctx, 'hookData', { get: () => hookData, set: readOnly('hookData'), enumerable: true });
  Object.defineProperty(ctx, 'appHookData', {
    get: () => scope.appHookData,
    set: readOnly('appHookData'),
    enumerable: true,
  });
  return ctx;
}

async function runHooks(scope: InvocationScope, name: string, ctx: Record<string, unknown>): Promise<void> {
  for (const hook of [...scope.registry.hooksOf(name)]) await hook(ctx);
}

/** Runs the app-level `appStart` / `appTerminate` hooks. */
export async function runAppHook(
  scope: InvocationScope,
  name: 'appStart' | 'appTerminate',
  hookData: Record<string, unknown>,
  fields: Record<string, unknown> = {},
): Promise<void> {
  await runHooks(scope, name, hookContext(hookData, scope, fields));
}

/** The logger's level of an RPC log level (`none`: no line); an unknown level is undefined. */
const levelOf = (level: string): LogLevel | undefined => {
  const threshold = azureThreshold(level);
  return threshold === 'none' ? undefined : threshold;
};

/** Writes one library log line, after any `log` hooks had their say. */
export function writeLog(
  scope: InvocationScope,
  level: string,
  category: string,
  message: string,
  fields: Record<string, unknown>,
  invocationContext?: unknown,
  threshold?: Threshold,
): void {
  const hooks = scope.registry.hooks.get('log');
  // Without log hooks a line the logger would drop costs nothing more (a context.debug per invocation).
  if (hooks === undefined || hooks.length === 0) {
    const method = levelOf(level) ?? 'info';
    if (!logsAt(scope.logger, method) || !passes(threshold, method)) return;
  } else {
    const ctx = hookContext({}, scope, { level, message, category, invocationContext });
    for (const hook of [...hooks]) {
      try {
        hook(ctx);
      } catch {
        /* a log hook never breaks logging */
      }
    }
    level = String(ctx.level);
    message = String(ctx.message);
  }
  const method = levelOf(level) ?? 'info';
  if (level === 'none') return;
  // A log hook may have changed the level: host.json's filter applies to the line as written.
  if (!passes(threshold, method)) return;
  scope.logger[method]({ ...fields, category }, message);
}

/**
 * The core context the library's invocation model gets: one object per invocation whose `log` is a
 * method (the library calls it as one), not an object and a closure.
 */
class CoreContext implements CoreInvocationContext {
  readonly invocationId: string;
  readonly request: RpcInvocationRequest;
  readonly metadata: RegisteredFunction['metadata'];
  state: CoreInvocationContext['state'] = undefined;
  /** The library's `InvocationContext`, for `log` hooks. */
  userContext: unknown;
  readonly #scope: InvocationScope;

  constructor(fn: RegisteredFunction, request: InvocationRequest, scope: InvocationScope) {
    this.invocationId = request.invocationId;
    // The request as the worker gets it over gRPC, naming its function (each attempt's is its own object).
    request.functionId = fn.metadata.functionId || fn.metadata.name;
    const deferred = request.deferredMetadata;
    if (deferred !== undefined) request.triggerMetadata = expandTriggerMetadata(deferred);
    this.request = request;
    this.metadata = fn.metadata;
    this.#scope = scope;
  }

  log(level: RpcLogLevel, category: RpcLogCategory, message: string): void {
    const scope = this.#scope;
    // Azure's categories: what the function's code logs is `Function.<name>.User`, the library's own lines `Function.<name>`.
    const threshold =
      scope.logLevels === undefined
        ? undefined
        : thresholdOf(scope.logLevels, `Function.${this.metadata.name}${category === 'user' ? '.User' : ''}`);
    // A line the logger drops and no log hook sees costs no fields (a context.debug per invocation).
    if ((scope.registry.hooks.get('log')?.length ?? 0) === 0) {
      const method = levelOf(level) ?? 'info';
      if (!logsAt(scope.logger, method) || !passes(threshold, method)) return;
    }
    const fields = { function: this.metadata.name, invocationId: this.invocationId };
    writeLog(scope, level, category, message, fields, this.userContext, threshold);
  }
}

/** Runs the pre- or postInvocation hooks with a context of their own. */
async function runInvocationHooks(
  scope: InvocationScope,
  coreCtx: CoreContext,
  hookData: Record<string, unknown>,
  name: 'preInvocation' | 'postInvocation',
  fields: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const ctx = hookContext(hookData, scope, fields);
  const context = coreCtx.userContext;
  Object.defineProperty(ctx, 'invocationContext', { get: () => context, set: readOnly('invocationContext') });
  coreCtx.state = `${name}Hooks`;
  try {
    await runHooks(scope, name, ctx);
  } finally {
    coreCtx.state = undefined;
  }
  return ctx;
}

/**
 * Invokes `fn` once with RPC-shaped `request` (it gets the function's id, as the worker's request
 * has it); rejects with whatever the function (or a hook) threw.
 */
export async function invokeFunction(
  fn: RegisteredFunction,
  request: InvocationRequest,
  scope: InvocationScope,
): Promise<InvocationResult> {
  const coreCtx = new CoreContext(fn, request, scope);
  const model = await fn.programmingModel.getInvocationModel(coreCtx);
  const args = await model.getArguments();
  const { context } = args;
  coreCtx.userContext = context;
  // Hook contexts (and their hookData) are built only for apps that register hooks: most invocations have none.
  let hookData: Record<string, unknown> | undefined;
  let inputs = args.inputs as unknown[];
  let callback = fn.callback;
  if ((scope.registry.hooks.get('preInvocation')?.length ?? 0) > 0) {
    hookData = {};
    const fields = { functionCallback: callback, inputs };
    const ctx = await runInvocationHooks(scope, coreCtx, hookData, 'preInvocation', fields);
    inputs = ctx.inputs as unknown[];
    callback = ctx.functionCallback as FunctionCallback;
  }

  let result: unknown = null;
  let error: unknown = null;
  // Whether the function failed: it may throw (or reject with) undefined or null, and that is a failure too.
  let threw = false;
  coreCtx.state = 'invocation';
  try {
    result = await model.invokeFunction(context, inputs, callback);
  } catch (err) {
    threw = true;
    error = err;
  } finally {
    coreCtx.state = undefined;
  }
  if ((scope.registry.hooks.get('postInvocation')?.length ?? 0) > 0) {
    hookData ??= {};
    const ctx = await runInvocationHooks(scope, coreCtx, hookData, 'postInvocation', { inputs, result, error });
    result = ctx.result;
    // A hook that sets the error decides: a nullish one clears the failure, another makes one.
    if (ctx.error !== error) threw = ctx.error !== null && ctx.error !== undefined;
    error = ctx.error;
  }
  if (threw) throw error ?? new Error(`The function threw ${String(error)}.`);
  return { response: await model.getResponse(context, result), context };
}
