/**
 * Runs a bound function: reads its input bindings, invokes it through the library, delivers its
 * output bindings, and retries the whole attempt under the function's `retry` options. An attempt
 * succeeds only when the function and every output binding succeeded.
 * @module
 */
import { AbortedError, type Clock, logsAt, type TypedEmitter } from '@hubbub/kernel';
import type { BindingScope, BindingServices, FunctionEntry, InvocationData } from './bindings.ts';
import type { RegisteredFunction } from './core-module.ts';
import type { RpcInvocationResponse, RpcRetryOptions, RpcTypedData } from './core-types.ts';
import { FunctionsError } from './errors.ts';
import type { FunctionsHostEvents } from './events.ts';
import type { DeferredTriggerMetadata } from './extensions/service-bus/messages.ts';
import { type InvocationRequest, type InvocationScope, invokeFunction } from './invoke.ts';
import { type LogLevelTable, passes, type Threshold, thresholdOf } from './log-levels.ts';
import { fromTypedData, toTypedData } from './typed-data.ts';

export interface ExecuteRequest {
  readonly invocationId: string;
  readonly triggerData: RpcTypedData;
  /** The RPC trigger metadata, or (`deferredMetadata`) what the thread that runs the invocation builds it from. */
  readonly triggerMetadata?: Record<string, RpcTypedData>;
  readonly deferredMetadata?: DeferredTriggerMetadata;
  readonly data: InvocationData;
  /** Apply the function's retry options (Azure ignores them for HTTP triggers). @default true */
  readonly retry?: boolean;
  readonly signal?: AbortSignal;
}

export interface RetryPolicy {
  readonly maxRetryCount: number;
  delayMs(retry: number): number;
}

const seconds = (d: { seconds?: number | null } | null | undefined) => (d?.seconds ?? 0) * 1000;

/** The retry policy `retryOptions` describe, or undefined for none. */
export function retryPolicy(options: RpcRetryOptions | null | undefined): RetryPolicy | undefined {
  if (!options?.retryStrategy) return undefined;
  const maxRetryCount = options.maxRetryCount ?? 0;
  if (options.retryStrategy === 'fixedDelay') {
    const delay = seconds(options.delayInterval);
    return { maxRetryCount, delayMs: () => delay };
  }
  const min = seconds(options.minimumInterval);
  const max = Math.max(min, seconds(options.maximumInterval));
  return { maxRetryCount, delayMs: (retry) => Math.min(max, min * 2 ** Math.max(0, retry - 1)) };
}

function sleep(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortedError('Retry abandoned: the host is closing.'));
    const onAbort = () => {
      timer.cancel();
      reject(new AbortedError('Retry abandoned: the host is closing.'));
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The data of output binding `name` in `response` (a loop: no closure per output). */
function outputOf(response: RpcInvocationResponse, name: string): RpcTypedData | null | undefined {
  const outputs = response.outputData;
  if (outputs == null) return undefined;
  for (const o of outputs) if (o.name === name) return o.data;
  return undefined;
}

function toRpcException(err: unknown) {
  const e = err instanceof Error ? err : new Error(String(err));
  return { message: e.message, source: e.name, stackTrace: e.stack ?? '' };
}

export interface Executor {
  execute(entry: FunctionEntry, request: ExecuteRequest): Promise<RpcInvocationResponse>;
  /** The attempts under the retry policy, without the invocation's log lines. */
  run(entry: FunctionEntry, request: ExecuteRequest): Promise<RpcInvocationResponse>;
}

/** Why an invocation runs, in the words of `func start`'s `Reason=`. */
export function invocationReason(entry: FunctionEntry): string {
  const info = entry.trigger.info as Readonly<Record<string, unknown>>;
  const named = (key: string) => (typeof info[key] === 'string' ? (info[key] as string) : undefined);
  switch (info.type) {
    case 'serviceBusTrigger': {
      const source =
        named('queueName') ?? `${named('topicName') ?? '?'}/subscriptions/${named('subscriptionName') ?? '?'}`;
      return `New ServiceBus message detected on '${source}'.`;
    }
    case 'httpTrigger':
      return 'This function was programmatically called via the host APIs.';
    case 'timerTrigger':
      return 'Timer fired.';
    case 'cosmosDBTrigger':
      return `New changes on container '${named('containerName') ?? named('collectionName') ?? '?'}'.`;
    default:
      return `${String(info.type)} fired.`;
  }
}

/** Runs one invocation request through the library, on this thread or a worker's. */
export type InvokeFunction = (fn: RegisteredFunction, request: InvocationRequest) => Promise<RpcInvocationResponse>;

/** The library's invocation model on this thread. */
export function invokeInThread(scope: InvocationScope): InvokeFunction {
  return async (fn, request) => (await invokeFunction(fn, request, scope)).response;
}

/** What an invocation of a function needs that does not change between invocations. */
interface Plan {
  /** `Functions.<name>`, as the log lines name it. */
  readonly logName: string;
  /** host.json `logging.logLevel` for category `Function.<name>`: the `Executing` / `Executed` lines. */
  readonly lines: Threshold | undefined;
  readonly reason: string;
  readonly policy: RetryPolicy | undefined;
  /** The binding scope of each input and output, by binding name. */
  readonly scopes: ReadonlyMap<string, BindingScope>;
}

export function createExecutor(
  invoke: InvokeFunction,
  services: BindingServices,
  events: TypedEmitter<FunctionsHostEvents>,
  logLevels?: LogLevelTable,
): Executor {
  const plans = new WeakMap<FunctionEntry, Plan>();
  const planOf = (entry: FunctionEntry): Plan => {
    let plan = plans.get(entry);
    if (plan === undefined) {
      plan = {
        logName: `Functions.${entry.name}`,
        lines: thresholdOf(logLevels, `Function.${entry.name}`),
        reason: invocationReason(entry),
        policy: retryPolicy(entry.registered.metadata.retryOptions),
        scopes: new Map(
          [...entry.inputs, ...entry.outputs].map((b) => [b.name, { functionName: entry.name, binding: b.name }]),
        ),
      };
      plans.set(entry, plan);
    }
    return plan;
  };

  async function attempt(entry: FunctionEntry, request: ExecuteRequest, retryContext: object | undefined) {
    const { scopes } = planOf(entry);
    const inputData = [{ name: entry.trigger.name, data: request.triggerData }];
    for (const input of entry.inputs) {
      const value = await input.kind.read?.(input.info, scopes.get(input.name)!, request.data);
      inputData.push({ name: input.name, data: toTypedData(value) });
    }
    const rpcRequest: InvocationRequest =
      request.deferredMetadata === undefined
        ? { invocationId: request.invocationId, inputData, triggerMetadata: request.triggerMetadata ?? null }
        : { invocationId: request.invocationId, inputData, deferredMetadata: request.deferredMetadata };
    if (retryContext !== undefined) rpcRequest.retryContext = retryContext;
    const response = await invoke(entry.registered, rpcRequest);
    for (const output of entry.outputs) {
      if (output.kind.write === undefined) continue;
      const data = output.name === '$return' ? response.returnValue : outputOf(response, output.name);
      const value = fromTypedData(data);
      if (value === undefined) continue;
      try {
        await output.kind.write(output.info, scopes.get(output.name)!, value, request.data);
      } catch (err) {
        throw new FunctionsError(
          'FUNCTIONS_OUTPUT_FAILED',
          `Function "${entry.name}": output binding "${output.name}" failed: ${(err as Error)?.message ?? String(err)}`,
          { cause: err, detail: { function: entry.name, binding: output.name } },
        );
      }
    }
    return response;
  }

  function run(entry: FunctionEntry, request: ExecuteRequest): Promise<RpcInvocationResponse> {
    const policy = request.retry === false ? undefined : planOf(entry).policy;
    // Without a retry policy the attempt is the run: no frame of its own around it.
    return policy === undefined ? attempt(entry, request, undefined) : retrying(entry, request, policy);
  }

  async function retrying(entry: FunctionEntry, request: ExecuteRequest, policy: RetryPolicy) {
    let retryCount = 0;
    let last: unknown;
    for (;;) {
      try {
        const retryContext = {
          retryCount,
          maxRetryCount: policy.maxRetryCount,
          ...(last === undefined ? {} : { exception: toRpcException(last) }),
        };
        return await attempt(entry, request, retryContext);
      } catch (err) {
        last = err;
        if (policy.maxRetryCount >= 0 && retryCount >= policy.maxRetryCount) throw err;
        retryCount++;
        events.emit('invocation:retrying', err, {
          function: entry.name,
          invocationId: request.invocationId,
          retryCount,
        });
        services.logger.warn(
          { function: entry.name, invocationId: request.invocationId, retryCount, err },
          'Function failed; retrying under its retry policy.',
        );
        await sleep(services.clock, policy.delayMs(retryCount), request.signal);
      }
    }
  }

  /** The `Executed … (Failed …)` line: a warning, as the trigger reports the error itself (its event first, then its error line). */
  function failedLine(entry: FunctionEntry, id: string, started: number, err: unknown): void {
    const plan = planOf(entry);
    if (!passes(plan.lines, 'warn')) return;
    const durationMs = services.clock.now() - started;
    services.logger.warn(
      { function: entry.name, invocationId: id, durationMs, error: (err as Error)?.message ?? String(err) },
      `Executed '${plan.logName}' (Failed, Id=${id}, Duration=${durationMs}ms)`,
    );
  }

  return {
    /** One `Executing` line before and one `Executed` line after, as `func start` prints them. */
    execute(entry, request) {
      const started = services.clock.now();
      // Without info lines (a silent or warn-level logger, or host.json's logLevel for the function)
      // the two lines cost nothing per invocation: the run's own promise, and a failure's line when it fails.
      if (!logsAt(services.logger, 'info') || !passes(planOf(entry).lines, 'info')) {
        return run(entry, request).catch((err: unknown) => {
          failedLine(entry, request.invocationId, started, err);
          throw err;
        });
      }
      return executeLogged(entry, request, started);
    },
    run,
  };

  /** `execute` with the `Executing` and `Executed` info lines. */
  async function executeLogged(entry: FunctionEntry, request: ExecuteRequest, started: number) {
    const id = request.invocationId;
    const { logName, reason } = planOf(entry);
    services.logger.info(
      { function: entry.name, invocationId: id },
      `Executing '${logName}' (Reason='${reason}', Id=${id})`,
    );
    try {
      const response = await run(entry, request);
      const durationMs = services.clock.now() - started;
      services.logger.info(
        { function: entry.name, invocationId: id, durationMs },
        `Executed '${logName}' (Succeeded, Id=${id}, Duration=${durationMs}ms)`,
      );
      return response;
    } catch (err) {
      failedLine(entry, id, started, err);
      throw err;
    }
  }
}
