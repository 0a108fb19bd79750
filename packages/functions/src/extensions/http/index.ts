/**
 * The HTTP extension: the `httpTrigger` (served through the host's `handleRequest`) and the `http`
 * output.
 * @module
 */

import { FunctionsError } from '../../errors.ts';
import type { Extension } from '../../extension.ts';
import { nonNegativeInteger } from '../../settings.ts';
import { httpOutputBinding } from './bindings.ts';
import { httpTrigger } from './trigger.ts';

export interface HttpExtensionOptions {
  /** Largest accepted request body in bytes. @default 104_857_600 (100 MB, as Azure) */
  readonly maxRequestBodyBytes?: number | undefined;
  /**
   * Check function and admin keys. Core Tools' local host does not (`func start --enforce-keys`
   * turns it on); Azure always does. @default true
   */
  readonly enforceKeys?: boolean | undefined;
}

export function httpExtension(options: HttpExtensionOptions = {}): Extension {
  nonNegativeInteger(options.maxRequestBodyBytes, 'maxRequestBodyBytes');
  const maxRequestBodyBytes = options.maxRequestBodyBytes ?? 104_857_600;
  return {
    name: 'http',
    setup(context) {
      const prefix = context.config.routePrefix;
      if (prefix !== undefined && typeof prefix !== 'string') {
        throw new FunctionsError(
          'FUNCTIONS_INVALID_SETTING',
          'host.json extensions.http.routePrefix must be a string.',
          {
            detail: { field: 'extensions.http.routePrefix' },
          },
        );
      }
      const routePrefix = (prefix ?? 'api').replace(/^\/+|\/+$/g, '');
      const enforceKeys = options.enforceKeys !== false;
      return {
        bindings: [httpOutputBinding],
        trigger: httpTrigger(context, { routePrefix, maxRequestBodyBytes, enforceKeys }),
      };
    },
  };
}
