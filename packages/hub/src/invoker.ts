/**
 * Runs what clients invoke: hub methods (with results), streaming methods (server-to-client
 * streams with cancellation), client-to-server upload streams, and the completions clients send
 * back for server-to-client invocations.
 * @module
 */
import {
  type CompletionMessage,
  type HubMessage,
  type InvocationMessage,
  MessageType,
  type StreamInvocationMessage,
} from '@hubbub/hub-protocol';
import type { HubConnection } from './connection.ts';
import { HubError, HubErrorCode } from './errors.ts';
import { OutboundFrame } from './transport.ts';

/** Thrown by a hub method to send its message to the caller (like ASP.NET Core's HubException). */
export class HubMethodError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HubMethodError';
  }
}

export type MethodHandler<C> = (context: C, ...args: never[]) => unknown;
export type StreamHandler<C> = (
  context: C,
  ...args: never[]
) => AsyncIterable<unknown> | Promise<AsyncIterable<unknown>>;

export interface MethodOptions {
  /** Number of arguments the method takes (upload streams included). @default handler.length - 1 */
  args?: number;
}

interface Registered<C> {
  name: string;
  handler: (context: C, ...args: unknown[]) => unknown;
  args: number;
  streaming: boolean;
}

/** A client-to-server stream, consumed by the hub method as an async iterable. */
class UploadStream implements AsyncIterable<unknown> {
  #items: unknown[] = [];
  #waiting: ((result: IteratorResult<unknown>) => void) | undefined;
  #failWaiting: ((error: Error) => void) | undefined;
  #done = false;
  #error: Error | undefined;

  readonly maxBufferedItems: number;

  constructor(maxBufferedItems: number) {
    this.maxBufferedItems = maxBufferedItems;
  }

  /** Returns false when the consumer fell more than `maxBufferedItems` behind. */
  push(item: unknown): boolean {
    if (this.#done) return true;
    if (this.#waiting !== undefined) {
      const resolve = this.#waiting;
      this.#waiting = this.#failWaiting = undefined;
      resolve({ value: item, done: false });
      return true;
    }
    this.#items.push(item);
    return this.#items.length <= this.maxBufferedItems;
  }

  end(error?: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    if (this.#waiting !== undefined) {
      if (error !== undefined) this.#failWaiting?.(error);
      else this.#waiting({ value: undefined, done: true });
      this.#waiting = this.#failWaiting = undefined;
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    return {
      next: () => {
        if (this.#items.length > 0) return Promise.resolve({ value: this.#items.shift(), done: false });
        if (this.#done) {
          return this.#error === undefined
            ? Promise.resolve({ value: undefined, done: true })
            : Promise.reject(this.#error);
        }
        return new Promise((resolve, reject) => {
          this.#waiting = resolve;
          this.#failWaiting = reject;
        });
      },
      return: () => {
        this.#done = true;
        this.#items = [];
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/** Per-connection invocation state, created on first use; each map only when first needed. */
class InvocationState {
  #uploads: Map<string, UploadStream> | undefined;
  #streams: Map<string, AbortController> | undefined;
  #pendingResults: Map<string, { resolve(value: unknown): void; reject(error: Error): void }> | undefined;
  nextInvocationId = 0;

  get uploads(): Map<string, UploadStream> {
    this.#uploads ??= new Map();
    return this.#uploads;
  }
  get streams(): Map<string, AbortController> {
    this.#streams ??= new Map();
    return this.#streams;
  }
  get pendingResults(): Map<string, { resolve(value: unknown): void; reject(error: Error): void }> {
    this.#pendingResults ??= new Map();
    return this.#pendingResults;
  }
  /** The maps that exist, for cleanup without creating the others. */
  existing() {
    return { uploads: this.#uploads, streams: this.#streams, pendingResults: this.#pendingResults };
  }
}

/**
 * Handles invocations of methods the hub does not define, e.g. by forwarding them to an upstream
 * webhook (serverless mode). Resolve with the reply as framed hub-protocol bytes in the caller's
 * protocol (forwarded verbatim), or `undefined` for a void completion; reject to send the caller
 * a Completion with the error's message.
 */
export type InvocationFallback = (
  connection: HubConnection,
  message: InvocationMessage | StreamInvocationMessage,
) => Promise<Uint8Array | undefined>;

export interface InvokerOptions {
  /** Send exception messages of unexpected errors to clients. @default false */
  detailedErrors: boolean;
  /** Items an upload stream may buffer before the connection is closed. @default 1000 */
  maxUploadBufferItems: number;
  onError(error: Error, connection: HubConnection, target: string): void;
}

export class Invoker<C> {
  readonly #methods = new Map<string, Registered<C>>();
  readonly #state = new WeakMap<HubConnection, InvocationState>();
  readonly #options: InvokerOptions;
  /** Where invocations of unknown methods go; unset means "Unknown hub method". */
  fallback: InvocationFallback | undefined;

  constructor(options: InvokerOptions) {
    this.#options = options;
  }

  register(
    name: string,
    handler: (context: C, ...args: never[]) => unknown,
    streaming: boolean,
    options: MethodOptions,
  ) {
    const key = name.toLowerCase();
    if (this.#methods.has(key)) throw new HubError(HubErrorCode.BadRequest, `Hub method '${name}' is already defined.`);
    const args = options.args ?? Math.max(0, handler.length - 1);
    this.#methods.set(key, { name, handler: handler as Registered<C>['handler'], args, streaming });
  }

  /** Handles one inbound message that is not connection-level (Ping/Close/Ack/Sequence are). */
  dispatch(connection: HubConnection, message: HubMessage, context: (signal?: AbortSignal) => C): void {
    switch (message.type) {
      case MessageType.Invocation:
      case MessageType.StreamInvocation:
        this.#invoke(connection, message, context);
        return;
      case MessageType.StreamItem: {
        const upload = this.#state.get(connection)?.existing().uploads?.get(message.invocationId);
        if (upload !== undefined && !upload.push(message.item)) {
          connection.close('Connection closed with an error. Stream buffer exceeded.');
        }
        return;
      }
      case MessageType.Completion:
        this.#complete(connection, message);
        return;
      case MessageType.CancelInvocation:
        this.#state.get(connection)?.existing().streams?.get(message.invocationId)?.abort();
        return;
      default:
        return;
    }
  }

  /** Sends an Invocation with an id to one connection and resolves with the client's result. */
  invokeClient(connection: HubConnection, target: string, args: readonly unknown[], signal?: AbortSignal) {
    const state = this.#stateOf(connection);
    const invocationId = `s${state.nextInvocationId++}`;
    return new Promise<unknown>((resolve, reject) => {
      const onAbort = () => {
        state.pendingResults.delete(invocationId);
        reject(new HubError(HubErrorCode.InvocationFailed, 'The invocation was canceled.', { cause: signal?.reason }));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      state.pendingResults.set(invocationId, {
        resolve: (v) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(v);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      connection.send({ type: MessageType.Invocation, invocationId, target, arguments: args });
    });
  }

  /** The connection ended: cancel its streams, end its uploads, fail its pending client results. */
  connectionClosed(connection: HubConnection): void {
    const state = this.#state.get(connection);
    if (state === undefined) return;
    const { uploads, streams, pendingResults } = state.existing();
    for (const controller of streams?.values() ?? []) controller.abort();
    for (const upload of uploads?.values() ?? []) upload.end(new HubError(HubErrorCode.Closed, 'Connection closed.'));
    const closed = new HubError(HubErrorCode.InvocationFailed, 'Connection disconnected before a result arrived.');
    for (const pending of pendingResults?.values() ?? []) pending.reject(closed);
    this.#state.delete(connection);
  }

  #stateOf(connection: HubConnection): InvocationState {
    let state = this.#state.get(connection);
    if (state === undefined) {
      state = new InvocationState();
      this.#state.set(connection, state);
    }
    return state;
  }

  #complete(connection: HubConnection, message: CompletionMessage): void {
    const state = this.#stateOf(connection);
    const upload = state.uploads.get(message.invocationId);
    if (upload !== undefined) {
      state.uploads.delete(message.invocationId);
      upload.end(message.error === undefined ? undefined : new HubMethodError(message.error));
      return;
    }
    const pending = state.pendingResults.get(message.invocationId);
    if (pending === undefined) return;
    state.pendingResults.delete(message.invocationId);
    if (message.error !== undefined) pending.reject(new HubError(HubErrorCode.InvocationFailed, message.error));
    else pending.resolve(message.result);
  }

  #invoke(
    connection: HubConnection,
    message: InvocationMessage | StreamInvocationMessage,
    context: (signal?: AbortSignal) => C,
  ): void {
    const { invocationId, target } = message;
    const fail = (error: string) => {
      if (invocationId !== undefined) connection.send({ type: MessageType.Completion, invocationId, error });
    };
    const method = this.#methods.get(target.toLowerCase());
    if (method === undefined) {
      if (this.fallback === undefined) return fail(`Unknown hub method '${target}'`);
      return this.#forward(connection, message, this.fallback);
    }
    const streaming = message.type === MessageType.StreamInvocation;
    if (method.streaming !== streaming) {
      return fail(
        streaming
          ? `The client attempted to invoke the non-streaming '${method.name}' method with a streaming invocation.`
          : `The client attempted to invoke the streaming '${method.name}' method with a non-streaming invocation.`,
      );
    }
    const streamIds = message.streamIds ?? [];
    const given = message.arguments.length + streamIds.length;
    if (given !== method.args) {
      return fail(
        `Failed to invoke '${method.name}' due to an error on the server. InvalidDataException: Invocation provides ${given} argument(s) but target expects ${method.args}.`,
      );
    }
    // Per-connection state only for uploads and streams: a plain invocation leaves none behind.
    const state = streaming || streamIds.length > 0 ? this.#stateOf(connection) : undefined;
    const uploads = streamIds.map((id) => {
      const upload = new UploadStream(this.#options.maxUploadBufferItems);
      state!.uploads.set(id, upload);
      return upload;
    });
    const args = uploads.length === 0 ? message.arguments : [...message.arguments, ...uploads];
    if (streaming) {
      this.#runStream(connection, method, message.invocationId!, args, context, state!);
      return;
    }
    let result: unknown;
    try {
      result = method.handler(context(), ...args);
    } catch (err) {
      return fail(this.#describe(err, connection, method.name));
    }
    if (invocationId === undefined) {
      if (isPromise(result)) result.catch((err: unknown) => this.#describe(err, connection, method.name));
      return;
    }
    const completeWith = (value: unknown) =>
      connection.send(
        value === undefined
          ? { type: MessageType.Completion, invocationId }
          : { type: MessageType.Completion, invocationId, result: value },
      );
    if (isPromise(result)) {
      result.then(completeWith, (err: unknown) => fail(this.#describe(err, connection, method.name)));
    } else {
      completeWith(result);
    }
  }

  #forward(
    connection: HubConnection,
    message: InvocationMessage | StreamInvocationMessage,
    fallback: InvocationFallback,
  ) {
    const { invocationId } = message;
    fallback(connection, message).then(
      (reply) => {
        if (invocationId === undefined) return;
        if (reply === undefined || reply.byteLength === 0) {
          connection.send({ type: MessageType.Completion, invocationId });
        } else {
          connection.sendFrame(new OutboundFrame(reply, connection.protocol?.transferFormat === 'Binary'), true);
        }
      },
      (err: unknown) => {
        if (invocationId === undefined) return;
        const error = err instanceof Error ? err.message : String(err);
        connection.send({ type: MessageType.Completion, invocationId, error });
      },
    );
  }

  async #runStream(
    connection: HubConnection,
    method: Registered<C>,
    invocationId: string,
    args: readonly unknown[],
    context: (signal?: AbortSignal) => C,
    state: InvocationState,
  ): Promise<void> {
    const controller = new AbortController();
    state.streams.set(invocationId, controller);
    try {
      const source = await method.handler(context(controller.signal), ...args);
      if (source === null || typeof source !== 'object' || !(Symbol.asyncIterator in source)) {
        throw new HubMethodError(
          `The value returned by the streaming method '${method.name}' is not an AsyncIterable.`,
        );
      }
      const iterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      const stop = () => void iterator.return?.();
      controller.signal.addEventListener('abort', stop, { once: true });
      for (;;) {
        const next = await iterator.next();
        if (next.done || controller.signal.aborted) break;
        connection.send({ type: MessageType.StreamItem, invocationId, item: next.value });
      }
      controller.signal.removeEventListener('abort', stop);
      connection.send({ type: MessageType.Completion, invocationId });
    } catch (err) {
      if (!controller.signal.aborted) {
        connection.send({
          type: MessageType.Completion,
          invocationId,
          error: this.#describe(err, connection, method.name),
        });
      }
    } finally {
      state.streams.delete(invocationId);
    }
  }

  #describe(err: unknown, connection: HubConnection, name: string): string {
    if (err instanceof HubMethodError)
      return `An unexpected error occurred invoking '${name}' on the server. HubException: ${err.message}`;
    const error = err instanceof Error ? err : new Error(String(err));
    this.#options.onError(error, connection, name);
    return this.#options.detailedErrors
      ? `An unexpected error occurred invoking '${name}' on the server. ${error.name}: ${error.message}`
      : `An unexpected error occurred invoking '${name}' on the server.`;
  }
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as Promise<unknown> | undefined)?.then === 'function';
}
