/**
 * The HTTP binding types: the `httpTrigger` (methods, auth level and route, checked at load) and
 * the `http` output, whose value is the response the trigger writes.
 * @module
 */
import type { BindingScope, BindingType } from '../../bindings.ts';
import { FunctionsError } from '../../errors.ts';
import { compileRoute, RouteError } from './route.ts';

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT']);

function invalid(scope: BindingScope, message: string, property: string): FunctionsError {
  return new FunctionsError(
    'FUNCTIONS_INVALID_BINDING',
    `Function "${scope.functionName}", binding "${scope.binding}": ${message}`,
    {
      detail: { function: scope.functionName, binding: scope.binding, property },
    },
  );
}

export const httpTriggerBinding: BindingType = {
  type: 'httpTrigger',
  direction: 'trigger',
  validate(binding, scope) {
    const methods = binding.methods;
    if (
      methods !== undefined &&
      (!Array.isArray(methods) || methods.some((m) => !METHODS.has(String(m).toUpperCase())))
    ) {
      throw invalid(scope, `"methods" must list HTTP methods, got ${JSON.stringify(methods)}.`, 'methods');
    }
    const level = String(binding.authLevel ?? 'anonymous').toLowerCase();
    if (!['anonymous', 'function', 'admin'].includes(level)) {
      throw invalid(
        scope,
        `"authLevel" must be anonymous, function or admin, got "${binding.authLevel}".`,
        'authLevel',
      );
    }
    try {
      compileRoute(typeof binding.route === 'string' ? binding.route : scope.functionName);
    } catch (err) {
      if (err instanceof RouteError) throw invalid(scope, err.message, 'route');
      throw err;
    }
  },
};

/** The `http` output binding: its value is the HTTP response, written by the trigger. */
export const httpOutputBinding: BindingType = { type: 'http', direction: 'out' };
