/**
 * Database and container ids: 1 to 255 characters, none of `/ \ ? #`, no control characters, no
 * trailing space (the Cosmos DB rules).
 * @module
 */
import { StoreError } from '../errors.ts';
import { unstorableJson } from '../query/bind.ts';

export function checkName(value: unknown, what: 'database' | 'container'): string {
  const ok =
    typeof value === 'string' &&
    value.length >= 1 &&
    value.length <= 255 &&
    !/[/\\?#\u0000-\u001f\u007f]/.test(value) &&
    !value.endsWith(' ') &&
    !unstorableJson.test(JSON.stringify(value));
  if (!ok) {
    throw new StoreError(
      'STORE_INVALID_NAME',
      `A ${what} id is 1 to 255 characters without / \\ ? # or control characters.`,
      {
        detail: { [what]: typeof value === 'string' ? value.slice(0, 64) : String(value) },
      },
    );
  }
  return value;
}
