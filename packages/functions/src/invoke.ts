/**
 * One invocation, driven through the library's own invocation model exactly as the Azure Functions
 * Node worker drives it: `getInvocationModel` → `getArguments` → preInvocation hooks →
 * `invokeFunction` → postInvocation hooks → `getResponse`. User code therefore sees the library's
 * real `HttpRequest`, `InvocationContext`, `extraInputs`/`extraOutputs` and return conversion.
 * @module
 */
import type { Logger, LogLevel } from '@hubbub/kernel';
import type { RegisteredFunction, Registry } from './core-module.ts';
import type {
  CoreInvocationContext,
  FunctionCallback,
  RpcInvocationRequest,
  RpcInvocationResponse,
  RpcLogCategory,
  RpcLogLevel,
} from './core-types.ts';

export interface InvocationScope {
  readonly registry: Registry;
  /** Shared by every hook of the app (`appHookData`). */
  readonly appHookData: Record<string, unknown>;
  readonly logger: Logger;
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

const levelOf: Record<string, LogLevel | undefined> = {
  trace: 'debug',
  debug: 'debug',
  information: 'info',
  warning: 'warn',
  error: 'error',
  critical: 'error',
  none: undefined,
};

/** Writes one library log line, after any `log` hooks had their say. */
export function writeLog(
  scope: InvocationScope,
  level: string,
  category: string,
  message: string,
  fields: Record<string, unknown>,
  invocationContext?: unknown,
): void {
  const hooks = scope.registry.hooks.get('log');
  if (hooks !== undefined && hooks.length > 0) {
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
  const method = levelOf[level] ?? 'info';
  if (levelOf[level] === undefined && level === 'none') return;
  scope.logger[method]({ ...fields, category }, message);
}

/** Invokes `fn` once with RPC-shaped `request`; rejects with whatever the function (or a hook) threw. */
export async function invokeFunction(
  fn: RegisteredFunction,
  request: RpcInvocationRequest & { invocationId: string },
  scope: InvocationScope,
): Promise<InvocationResult> {
  const name = fn.metadata.name;
  let userContext: unknown;
  const coreCtx: CoreInvocationContext = {
    invocationId: request.invocationId,
    request: { ...request, functionId: fn.metadata.functionId || name },
    metadata: fn.metadata,
    state: undefined,
    log(level: RpcLogLevel, category: RpcLogCategory, message: string) {
      writeLog(scope, level, category, message, { function: name, invocationId: request.invocationId }, userContext);
    },
  };
  const model = await fn.programmingModel.getInvocationModel(coreCtx);
  const args = await model.getArguments();
  const { context } = args;
  userContext = context;
  const hookData: Record<string, unknown> = {};
  // Hook contexts are built only for apps that register hooks: most invocations have none.
  const runInvocationHooks = async (name: 'preInvocation' | 'postInvocation', fields: Record<string, unknown>) => {
    const ctx = hookContext(hookData, scope, fields);
    Object.defineProperty(ctx, 'invocationContext', { get: () => context, set: readOnly('invocationContext') });
    coreCtx.state = `${name}Hooks`;
    try {
      await runHooks(scope, name, ctx);
    } finally {
      coreCtx.state = undefined;
    }
    return ctx;
  };

  let inputs = args.inputs as unknown[];
  let callback = fn.callback;
  if (scope.registry.hooksOf('preInvocation').length > 0) {
    const pre = await runInvocationHooks('preInvocation', { functionCallback: callback, inputs });
    inputs = pre.inputs as unknown[];
    callback = pre.functionCallback as FunctionCallback;
  }

  let result: unknown = null;
  let error: unknown = null;
  coreCtx.state = 'invocation';
  try {
    result = await model.invokeFunction(context, inputs, callback);
  } catch (err) {
    error = err;
  } finally {
    coreCtx.state = undefined;
  }
  if (scope.registry.hooksOf('postInvocation').length > 0) {
    const post = await runInvocationHooks('postInvocation', { inputs, result, error });
    result = post.result;
    error = post.error;
  }
  if (error !== null && error !== undefined) throw error;
  return { response: await model.getResponse(context, result), context };
}
