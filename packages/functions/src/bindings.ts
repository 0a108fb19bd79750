/**
 * The binding registry: every binding type the host understands, keyed by lower-cased `type`.
 * Each type validates its binding once at load time and, for inputs and outputs, reads or writes a
 * value per invocation. An unknown type fails the load with FUNCTIONS_UNKNOWN_BINDING.
 * @module
 */
import type { Clock, IdSource, Logger } from '@hubbub/kernel';
import type { ExpressionData } from './binding-expressions.ts';
import type { RegisteredFunction } from './core-module.ts';
import type { RpcBindingInfo } from './core-types.ts';
import { FunctionsError } from './errors.ts';
import type { Settings } from './settings.ts';

export interface BindingScope {
  readonly functionName: string;
  readonly binding: string;
}

/** What bindings may use: the resolved settings, time, ids and the logger. */
export interface BindingServices {
  readonly settings: Settings;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly logger: Logger;
}

export interface InvocationData {
  readonly expressions: ExpressionData;
  readonly invocationId: string;
}

export interface BindingType {
  /** As written in function metadata (`serviceBusTrigger`, `signalR`, …). */
  readonly type: string;
  readonly direction: 'trigger' | 'in' | 'out';
  /** Throws a FunctionsError when the binding cannot work (missing property, bad setting). */
  validate?(binding: Readonly<RpcBindingInfo>, scope: BindingScope): void;
  read?(binding: Readonly<RpcBindingInfo>, scope: BindingScope, data: InvocationData): Promise<unknown>;
  write?(binding: Readonly<RpcBindingInfo>, scope: BindingScope, value: unknown, data: InvocationData): Promise<void>;
}

/** Lower-cased type → its binding types (an input and an output may share a type, as `cosmosDB` does). */
export type BindingRegistry = ReadonlyMap<string, readonly BindingType[]>;

export function createBindingRegistry(types: readonly BindingType[]): BindingRegistry {
  const registry = new Map<string, BindingType[]>();
  for (const t of types) {
    const key = t.type.toLowerCase();
    registry.set(key, [...(registry.get(key) ?? []), t]);
  }
  return registry;
}

const directionOf = (kind: BindingType): 'in' | 'out' => (kind.direction === 'trigger' ? 'in' : kind.direction);

export interface BoundBinding {
  readonly name: string;
  readonly info: Readonly<RpcBindingInfo>;
  readonly kind: BindingType;
}

/** A registered function with its bindings checked against the registry. */
export interface FunctionEntry {
  readonly name: string;
  readonly registered: RegisteredFunction;
  readonly trigger: BoundBinding;
  readonly inputs: readonly BoundBinding[];
  readonly outputs: readonly BoundBinding[];
}

export function requireString(binding: Readonly<RpcBindingInfo>, scope: BindingScope, property: string): string {
  const value = binding[property];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new FunctionsError(
      'FUNCTIONS_INVALID_BINDING',
      `Function "${scope.functionName}", binding "${scope.binding}" (${binding.type}) needs a "${property}".`,
      { detail: { function: scope.functionName, binding: scope.binding, property } },
    );
  }
  return value;
}

/** Checks every binding of `fn` against `registry`; the first problem fails the load. */
export function bindFunction(fn: RegisteredFunction, registry: BindingRegistry): FunctionEntry {
  const name = fn.metadata.name;
  let trigger: BoundBinding | undefined;
  const inputs: BoundBinding[] = [];
  const outputs: BoundBinding[] = [];
  for (const [bindingName, info] of Object.entries(fn.metadata.bindings)) {
    const type = String(info.type ?? '');
    const kinds = registry.get(type.toLowerCase());
    const scope = { functionName: name, binding: bindingName };
    if (kinds === undefined) {
      throw new FunctionsError(
        'FUNCTIONS_UNKNOWN_BINDING',
        `Function "${name}" uses binding type "${type}" (binding "${bindingName}"), which Hubbub does not support. ` +
          `Supported: ${[...new Set([...registry.values()].flatMap((ts) => ts.map((t) => t.type)))].join(', ')}.`,
        { detail: { function: name, binding: bindingName, type } },
      );
    }
    const kind = kinds.find((k) => directionOf(k) === info.direction);
    if (kind === undefined) {
      throw new FunctionsError(
        'FUNCTIONS_INVALID_BINDING',
        `Function "${name}", binding "${bindingName}": type "${type}" is ${directionOf(kinds[0]!) === 'out' ? 'an output' : 'an input'} binding, not "${info.direction}".`,
        { detail: { function: name, binding: bindingName, type } },
      );
    }
    kind.validate?.(info, scope);
    const bound = { name: bindingName, info, kind };
    if (kind.direction === 'trigger') trigger = bound;
    else if (kind.direction === 'in') inputs.push(bound);
    else outputs.push(bound);
  }
  if (trigger === undefined) {
    throw new FunctionsError('FUNCTIONS_INVALID_BINDING', `Function "${name}" has no trigger binding.`, {
      detail: { function: name },
    });
  }
  return { name, registered: fn, trigger, inputs, outputs };
}
