/**
 * Turns what a caller passes into what a driver writes: the item checked (a JSON object, a valid
 * id, its partition key, no system properties), stamped (`_etag`, `_ts`), sized and given its
 * expiry; patch operations and conditions checked.
 * @module
 */
import type { ContainerDefinition, ItemVersion, PartitionRef, Stamp, WriteOp } from '../driver.ts';
import { invalidItem, StoreError } from '../errors.ts';
import {
  checkId,
  encodePartitionKey,
  expiryOf,
  feedRange,
  type PartitionKey,
  partitionKeyOf,
  stampItem,
  systemProperties,
} from '../item.ts';
import { isObject, type Json, type JsonObject, splitPath } from '../json.ts';
import { checkPatch } from '../patch.ts';
import type { Query } from '../query/ast.ts';
import { bindQuery } from '../query/bind.ts';
import { queryError } from '../query/lexer.ts';
import { parseQuery } from '../query/parser.ts';
import type { CoreSettings } from './core.ts';
import type { PatchRequest } from './types.ts';

export interface Prepared {
  readonly id: string;
  readonly partition: PartitionRef;
  readonly item: ItemVersion;
}

export function partitionOf(def: ContainerDefinition, key: string): PartitionRef {
  return { key, range: feedRange(key, def.feedRanges) };
}

/** The encoded key of a partition key given as an option. */
export function partitionFromOption(def: ContainerDefinition, value: unknown): PartitionRef {
  return partitionOf(def, encodePartitionKey(value));
}

export function freshStamp(settings: CoreSettings): Stamp {
  return { etag: `"${settings.ids.uuid()}"`, ts: Math.floor(settings.clock.now() / 1000) };
}

/**
 * Checks and stamps a body for create / upsert / replace. `expected` names the partition key and
 * id the operation addresses, when it names them.
 */
export function prepareItem(
  settings: CoreSettings,
  def: ContainerDefinition,
  body: unknown,
  expected: { partitionKey?: PartitionKey | undefined; id?: string } = {},
): Prepared {
  if (!isObject(body as Json)) throw invalidItem('', 'An item must be a JSON object.');
  let doc = body as JsonObject;
  for (const name of systemProperties) {
    if (!Object.hasOwn(doc, name)) continue;
    if (settings.systemProperties === 'reject') {
      throw new StoreError('STORE_RESERVED_PROPERTY', `${name} is a system property; the store sets it.`, {
        detail: { property: name },
      });
    }
    doc = Object.fromEntries(Object.entries(doc).filter(([k]) => k !== name)) as JsonObject;
  }
  const id = checkId(doc.id);
  if (expected.id !== undefined && id !== expected.id) {
    throw invalidItem('id', `The item's id '${id}' differs from the id addressed, '${expected.id}'.`);
  }
  const key = partitionKeyOf(doc, splitPath(def.partitionKeyPath), def.partitionKeyPath);
  if (expected.partitionKey !== undefined && encodePartitionKey(expected.partitionKey) !== key) {
    throw new StoreError(
      'STORE_PARTITION_KEY_MISMATCH',
      `The item's partition key ${key} differs from the partition key given, ${JSON.stringify(expected.partitionKey)}.`,
      { detail: { partitionKeyPath: def.partitionKeyPath } },
    );
  }
  const now = settings.clock.now();
  const stamp = freshStamp(settings);
  const json = stampItem(doc, stamp.etag, stamp.ts, settings.maxItemBytes);
  return {
    id,
    partition: partitionOf(def, key),
    item: { json, etag: stamp.etag, expiresAt: expiryOf(doc, def.defaultTtl, now) },
  };
}

/** A patch write operation: operations checked, condition parsed. */
export function preparePatch(
  settings: CoreSettings,
  def: ContainerDefinition,
  id: string,
  request: PatchRequest,
  ifMatch: string | undefined,
): WriteOp {
  const body = request as { operations?: unknown; condition?: unknown } | null;
  const operations = checkPatch(Array.isArray(request) ? request : body?.operations, splitPath(def.partitionKeyPath));
  const condition = Array.isArray(request) ? undefined : body?.condition;
  return {
    op: 'patch',
    id,
    operations,
    stamp: freshStamp(settings),
    ...(condition === undefined ? {} : { condition: parseCondition(condition) }),
    ...(ifMatch === undefined ? {} : { ifMatch }),
  };
}

/** A patch condition, `FROM c WHERE …` (Cosmos's form), as a query. Positions refer to the condition text. */
export function parseCondition(text: unknown): Query {
  if (typeof text !== 'string') throw queryError('A patch condition must be a string such as "FROM c WHERE c.open"', 1);
  const prefix = 'SELECT * ';
  try {
    return bindQuery(parseQuery(prefix + text), new Map());
  } catch (err) {
    const position = (err as StoreError).detail?.position;
    if (typeof position !== 'number') throw err;
    const at = Math.max(1, position - prefix.length);
    throw queryError((err as Error).message.replace(/ \(at position \d+\)$/, ''), at);
  }
}
