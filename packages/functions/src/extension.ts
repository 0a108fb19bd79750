/**
 * The extension model. Every trigger and binding the host knows comes from an extension: a folder
 * `src/extensions/<name>/` with the same file names as its siblings — `index.ts` (the
 * {@link Extension}), `bindings.ts` (its binding types), and where it has them `trigger.ts` (its
 * {@link Trigger}) and `port.ts` (the interface it reaches the world through, which the
 * composition root implements). Extensions are registered in the list of `src/extensions/index.ts`;
 * the host has no code for any one of them. This module is also the door for writing one
 * (`@hubbub/functions/extension`).
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TypedEmitter } from '@hubbub/kernel';
import type { BindingServices, BindingType, FunctionEntry } from './bindings.ts';
import type { RpcInvocationResponse } from './core-types.ts';
import type { FunctionsHostEvents } from './events.ts';
import type { ExecuteRequest } from './executor.ts';
import type { FunctionKeys } from './keys.ts';

export interface Extension {
  /** Its key in host.json `extensions` (`http`, `serviceBus`, …). */
  readonly name: string;
  /** Called once when the host starts, after settings are read and before the app loads. */
  setup(context: ExtensionContext): ExtensionSetup;
}

export interface ExtensionContext extends BindingServices {
  /** host.json `extensions.<name>`, `{}` when absent; the extension validates it. */
  readonly config: Readonly<Record<string, unknown>>;
  /** The function keys in force (auth levels of HTTP triggers). */
  readonly keys: FunctionKeys;
  readonly events: TypedEmitter<FunctionsHostEvents>;
  /** Aborts when the host starts closing. */
  readonly signal: AbortSignal;
}

export interface ExtensionSetup {
  /** Input and output binding types. */
  readonly bindings?: readonly BindingType[];
  readonly trigger?: Trigger;
}

/** Runs one invocation; the host counts it in flight until it settles (close() drains them). */
export type Invoke = (entry: FunctionEntry, request: ExecuteRequest) => Promise<RpcInvocationResponse>;

export interface Trigger {
  /** Its binding type (`direction: 'trigger'`). */
  readonly binding: BindingType;
  /**
   * Starts the functions this trigger drives (possibly none); rejects when one of them cannot run
   * (its connection is missing), which fails the host's start.
   */
  start(functions: readonly FunctionEntry[], invoke: Invoke): TriggerListener | Promise<TriggerListener>;
}

export interface TriggerListener {
  /** Stops taking work; resolves once the work it took has settled (the host bounds the wait). */
  close(): Promise<void>;
  /**
   * Optional, with `handleRequest`: whether a request is addressed to its functions (under its route
   * prefix). The host asks before serving, and after close, to answer those FUNCTIONS_CLOSED.
   * @default every request
   */
  addresses?(req: IncomingMessage): boolean;
  /** Optional: serves an HTTP request addressed to the functions (it answers every one it gets). */
  handleRequest?(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Optional: what `host.functions` says about one of its functions beyond name and trigger. */
  describe?(name: string): Readonly<Record<string, unknown>> | undefined;
  /** Optional: when one of its functions runs next (ms since epoch). */
  nextRun?(name: string): number | undefined;
}

export type {
  BindingScope,
  BindingServices,
  BindingType,
  BoundBinding,
  FunctionEntry,
  InvocationData,
} from './bindings.ts';
export { requireString } from './bindings.ts';
export type { PortSource, ResolvePort } from './connections.ts';
export { portResolver } from './connections.ts';
export type { RpcBindingInfo, RpcInvocationResponse, RpcTypedData } from './core-types.ts';
export type { ExecuteRequest } from './executor.ts';
