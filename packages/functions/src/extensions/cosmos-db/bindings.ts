/**
 * The `cosmosDB` binding types of `@azure/functions` — the input (a document by `id` and
 * `partitionKey`, the results of a `sqlQuery`, or the whole container), the output (one document or
 * an array, `createIfNotExists`) and the `cosmosDBTrigger` — with the v4 option names
 * (`connection`, `containerName`, `leaseContainerName`, …) and the v3 ones
 * (`connectionStringSetting`, `collectionName`, `leaseCollectionName`, …).
 * @module
 */
import { resolveExpressions } from '../../binding-expressions.ts';
import type { BindingScope, BindingServices, BindingType, InvocationData } from '../../bindings.ts';
import { requireString } from '../../bindings.ts';
import type { ResolvePort } from '../../connections.ts';
import type { RpcBindingInfo } from '../../core-types.ts';
import { FunctionsError } from '../../errors.ts';
import { connectionValue, type Settings } from '../../settings.ts';
import type { StoreDocument, StorePort, StoreTarget } from './port.ts';
import { parameterize } from './query.ts';

/** The connection setting when a binding names none (the extension's `CosmosDB`, then `AzureWebJobsCosmosDB`). */
export const DEFAULT_COSMOS_SETTING = 'CosmosDB';

type Info = Readonly<RpcBindingInfo>;

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

export function invalid(scope: BindingScope, property: string, why: string): FunctionsError {
  return new FunctionsError(
    'FUNCTIONS_INVALID_BINDING',
    `Function "${scope.functionName}", binding "${scope.binding}": ${property} ${why}`,
    { detail: { function: scope.functionName, binding: scope.binding, property } },
  );
}

/**
 * Hubbub's own app setting `CosmosDBCachedReads`: `database/container` names, comma-separated,
 * whose point reads by input bindings the store may serve from memory it keeps coherent through
 * the container's change feed (reference data read on every invocation; see the system's bridge
 * for the bounds). Azure has no such setting and ignores it.
 */
export const CACHED_READS_SETTING = 'CosmosDBCachedReads';

const cachedBySettings = new WeakMap<Settings, ReadonlySet<string>>();

export function cachedReads(settings: Settings): ReadonlySet<string> {
  let set = cachedBySettings.get(settings);
  if (set === undefined) {
    const value = settings[CACHED_READS_SETTING] ?? '';
    set = new Set(
      value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    );
    cachedBySettings.set(settings, set);
  }
  return set;
}

/** The setting naming the store: `connection` (v4), `connectionStringSetting` (v3), or the default. */
export function settingOf(binding: Info): string {
  return text(binding.connection) ?? text(binding.connectionStringSetting) ?? DEFAULT_COSMOS_SETTING;
}

/** The setting naming the lease store: `leaseConnection` (v4), `leaseConnectionStringSetting` (v3), or the watched one. */
export function leaseSettingOf(binding: Info): string {
  return text(binding.leaseConnection) ?? text(binding.leaseConnectionStringSetting) ?? settingOf(binding);
}

/** `databaseName` and `containerName` (or v3 `collectionName`). */
export function targetOf(binding: Info, scope: BindingScope): StoreTarget {
  const database = requireString(binding, scope, 'databaseName');
  const container = text(binding.containerName) ?? text(binding.collectionName);
  if (container === undefined) throw invalid(scope, 'containerName', '(or collectionName) is required.');
  return { database, container };
}

/** A boolean option (a `%Setting%` may have made it the text `true`/`false`). */
export function flag(binding: Info, scope: BindingScope, ...names: string[]): boolean {
  for (const name of names) {
    const v = binding[name];
    if (v === undefined || v === null) continue;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
    throw invalid(scope, name, 'must be true or false.');
  }
  return false;
}

export function cosmosDBBindings(services: BindingServices, store: ResolvePort<StorePort>): BindingType[] {
  const env = (scope: BindingScope) => ({ ...scope, now: () => services.clock.now(), ids: services.ids });
  const resolve = (template: string, scope: BindingScope, data: InvocationData) =>
    template.includes('{') ? resolveExpressions(template, data.expressions, env(scope)) : template;

  const input: BindingType = {
    type: 'cosmosDB',
    direction: 'in',
    validate(binding, scope) {
      targetOf(binding, scope);
      connectionValue(services.settings, settingOf(binding), scope);
      if (text(binding.id) !== undefined && text(binding.sqlQuery) !== undefined)
        throw invalid(scope, 'id', 'and sqlQuery cannot both be set.');
    },
    async read(binding, scope, data) {
      const target = targetOf(binding, scope);
      const rawKey = text(binding.partitionKey);
      const partitionKey = rawKey === undefined ? undefined : resolve(rawKey, scope, data);
      const port = await store(settingOf(binding), scope);
      const id = text(binding.id);
      if (id !== undefined) {
        // A missing document binds null, as on Azure (the function sees undefined or null, never a throw).
        const options = cachedReads(services.settings).has(`${target.database}/${target.container}`)
          ? { cached: true }
          : {};
        return (await port.read(target, resolve(id, scope, data), partitionKey, options)) ?? null;
      }
      const sql = text(binding.sqlQuery) ?? 'SELECT * FROM c';
      const query = parameterize(sql, data.expressions, env(scope));
      return port.query(target, query, partitionKey === undefined ? {} : { partitionKey });
    },
  };

  const output: BindingType = {
    type: 'cosmosDB',
    direction: 'out',
    validate(binding, scope) {
      targetOf(binding, scope);
      connectionValue(services.settings, settingOf(binding), scope);
      flag(binding, scope, 'createIfNotExists');
      const path = text(binding.partitionKey);
      if (path !== undefined && !path.includes('{') && !/^(\/[^/]+)+$/.test(path))
        throw invalid(scope, 'partitionKey', `must be a path such as /customerId, got '${path}'.`);
    },
    async write(binding, scope, value, data) {
      const target = targetOf(binding, scope);
      const items = Array.isArray(value) ? value : [value];
      const documents = items.map((item, i): StoreDocument => {
        const doc = typeof item === 'string' ? parseJson(item) : item;
        if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || Buffer.isBuffer(doc)) {
          throw invalid(scope, Array.isArray(value) ? `value[${i}]` : 'value', 'must be a JSON object (a document).');
        }
        const d = doc as StoreDocument;
        // Like the Azure extension: a document without an id gets a new one.
        return d.id === undefined ? { ...d, id: services.ids.uuid() } : d;
      });
      if (documents.length === 0) return;
      const create = flag(binding, scope, 'createIfNotExists');
      const path = resolve(text(binding.partitionKey) ?? '/id', scope, data);
      const port = await store(settingOf(binding), scope);
      await port.upsert(target, documents, create ? { createIfNotExists: { partitionKeyPath: path } } : {});
    },
  };
  return [input, output];
}

function parseJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

/** What a `cosmosDBTrigger` binding asks for, validated. */
export interface TriggerOptions {
  readonly target: StoreTarget;
  readonly setting: string;
  readonly leaseSetting: string;
  readonly leaseDatabase: string;
  readonly leaseContainer: string;
  readonly createLeaseContainer: boolean;
  readonly leasePrefix: string;
  readonly startFrom: 'beginning' | 'now' | { readonly time: number };
  readonly maxItems: number;
  readonly pollDelayMs: number;
  readonly leaseExpirationMs: number | undefined;
  readonly leaseRenewIntervalMs: number | undefined;
  readonly leaseAcquireIntervalMs: number | undefined;
}

/** A positive integer option (numbers, or digits a `%Setting%` resolved to). */
function positive(binding: Info, scope: BindingScope, name: string): number | undefined {
  const v = binding[name];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1)
    throw invalid(scope, name, 'must be a positive integer.');
  return n;
}

export function triggerOptionsOf(binding: Info, scope: BindingScope): TriggerOptions {
  const target = targetOf(binding, scope);
  if (text(binding.changeFeedMode) !== undefined && binding.changeFeedMode !== 'LatestVersion') {
    throw new FunctionsError(
      'FUNCTIONS_UNSUPPORTED',
      `Function "${scope.functionName}": changeFeedMode "${String(binding.changeFeedMode)}" is not supported; the change feed has the latest version of each document.`,
      { detail: { function: scope.functionName, binding: scope.binding, property: 'changeFeedMode' } },
    );
  }
  const fromBeginning = flag(binding, scope, 'startFromBeginning');
  const fromTime = text(binding.startFromTime);
  let startFrom: TriggerOptions['startFrom'] = fromBeginning ? 'beginning' : 'now';
  if (fromTime !== undefined) {
    const time = Date.parse(fromTime);
    if (Number.isNaN(time)) throw invalid(scope, 'startFromTime', `must be an ISO 8601 time, got '${fromTime}'.`);
    if (fromBeginning) throw invalid(scope, 'startFromTime', 'and startFromBeginning cannot both be set.');
    startFrom = { time };
  }
  const prefix = binding.leaseContainerPrefix ?? binding.leaseCollectionPrefix ?? '';
  if (typeof prefix !== 'string') throw invalid(scope, 'leaseContainerPrefix', 'must be a string.');
  return {
    target,
    setting: settingOf(binding),
    leaseSetting: leaseSettingOf(binding),
    leaseDatabase: text(binding.leaseDatabaseName) ?? target.database,
    leaseContainer: text(binding.leaseContainerName) ?? text(binding.leaseCollectionName) ?? 'leases',
    createLeaseContainer: flag(binding, scope, 'createLeaseContainerIfNotExists', 'createLeaseCollectionIfNotExists'),
    leasePrefix: prefix,
    startFrom,
    maxItems: positive(binding, scope, 'maxItemsPerInvocation') ?? 100,
    pollDelayMs: positive(binding, scope, 'feedPollDelay') ?? 5_000,
    leaseExpirationMs: positive(binding, scope, 'leaseExpirationInterval'),
    leaseRenewIntervalMs: positive(binding, scope, 'leaseRenewInterval'),
    leaseAcquireIntervalMs: positive(binding, scope, 'leaseAcquireInterval'),
  };
}

export function cosmosDBTriggerBinding(settings: Settings): BindingType {
  return {
    type: 'cosmosDBTrigger',
    direction: 'trigger',
    validate(binding, scope) {
      const options = triggerOptionsOf(binding, scope);
      connectionValue(settings, options.setting, scope);
      connectionValue(settings, options.leaseSetting, scope);
    },
  };
}
