import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sequentialIds, silentLogger, systemClock } from '@hubbub/kernel';
import { isFunctionsError } from '../../errors.ts';
import { cosmosDBBindings, cosmosDBTriggerBinding, triggerOptionsOf } from './bindings.ts';
import { parameterize } from './query.ts';

const scope = { functionName: 'fn', binding: 'b' };
const settings = { CosmosDBConnection: 'memory://', AzureWebJobsCosmosDB: 'memory://' };
const services = { settings, clock: systemClock, ids: sequentialIds(), logger: silentLogger };
const noStore = async () => {
  throw new Error('not reached');
};
const [input, output] = cosmosDBBindings(services, noStore);
const trigger = cosmosDBTriggerBinding(settings);
const base = { connection: 'CosmosDBConnection', databaseName: 'shop', containerName: 'orders' };

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return isFunctionsError(err) ? `${err.code}:${String(err.detail?.property ?? err.detail?.setting)}` : String(err);
  }
  return undefined;
};

describe('cosmosDB binding validation', () => {
  const cases: [string, () => unknown, string | undefined][] = [
    ['a valid input', () => input!.validate!({ ...base, type: 'cosmosDB', id: '{id}' }, scope), undefined],
    [
      'no container',
      () => input!.validate!({ ...base, containerName: undefined, type: 'cosmosDB' }, scope),
      'FUNCTIONS_INVALID_BINDING:containerName',
    ],
    [
      'v3 collectionName',
      () => input!.validate!({ ...base, containerName: undefined, collectionName: 'o' }, scope),
      undefined,
    ],
    [
      'no database',
      () => output!.validate!({ ...base, databaseName: '' }, scope),
      'FUNCTIONS_INVALID_BINDING:databaseName',
    ],
    [
      'id and sqlQuery',
      () => input!.validate!({ ...base, id: '1', sqlQuery: 'SELECT * FROM c' }, scope),
      'FUNCTIONS_INVALID_BINDING:id',
    ],
    [
      'an unset connection',
      () => input!.validate!({ ...base, connection: 'Nope' }, scope),
      'FUNCTIONS_INVALID_SETTING:Nope',
    ],
    [
      'the default connection (CosmosDB, then AzureWebJobsCosmosDB)',
      () => input!.validate!({ ...base, connection: undefined }, scope),
      undefined,
    ],
    [
      'a bad partition key path',
      () => output!.validate!({ ...base, partitionKey: 'id' }, scope),
      'FUNCTIONS_INVALID_BINDING:partitionKey',
    ],
    [
      'createIfNotExists not a boolean',
      () => output!.validate!({ ...base, createIfNotExists: 'yes' }, scope),
      'FUNCTIONS_INVALID_BINDING:createIfNotExists',
    ],
    ['a valid trigger', () => trigger.validate!({ ...base, leaseConnection: 'CosmosDBConnection' }, scope), undefined],
    [
      'an unset lease connection',
      () => trigger.validate!({ ...base, leaseConnection: 'Leases' }, scope),
      'FUNCTIONS_INVALID_SETTING:Leases',
    ],
    [
      'maxItemsPerInvocation 0',
      () => trigger.validate!({ ...base, maxItemsPerInvocation: 0 }, scope),
      'FUNCTIONS_INVALID_BINDING:maxItemsPerInvocation',
    ],
    [
      'feedPollDelay text',
      () => trigger.validate!({ ...base, feedPollDelay: 'soon' }, scope),
      'FUNCTIONS_INVALID_BINDING:feedPollDelay',
    ],
    [
      'startFromTime not a time',
      () => trigger.validate!({ ...base, startFromTime: 'yesterday' }, scope),
      'FUNCTIONS_INVALID_BINDING:startFromTime',
    ],
    [
      'startFromTime with startFromBeginning',
      () => trigger.validate!({ ...base, startFromTime: '2026-01-01T00:00:00Z', startFromBeginning: true }, scope),
      'FUNCTIONS_INVALID_BINDING:startFromTime',
    ],
    [
      'AllVersionsAndDeletes',
      () => trigger.validate!({ ...base, changeFeedMode: 'AllVersionsAndDeletes' }, scope),
      'FUNCTIONS_UNSUPPORTED:changeFeedMode',
    ],
  ];
  for (const [name, run, expected] of cases) it(name, () => assert.equal(codeOf(run), expected));

  it('reads the trigger options with their defaults, and settings-resolved text values', () => {
    assert.deepEqual(
      triggerOptionsOf({ ...base, startFromTime: '2026-01-02T03:04:05Z', maxItemsPerInvocation: '5' }, scope),
      {
        target: { database: 'shop', container: 'orders' },
        setting: 'CosmosDBConnection',
        leaseSetting: 'CosmosDBConnection',
        leaseDatabase: 'shop',
        leaseContainer: 'leases',
        createLeaseContainer: false,
        leasePrefix: '',
        startFrom: { time: Date.parse('2026-01-02T03:04:05Z') },
        maxItems: 5,
        pollDelayMs: 5_000,
        leaseExpirationMs: undefined,
        leaseRenewIntervalMs: undefined,
        leaseAcquireIntervalMs: undefined,
      },
    );
  });
});

describe('parameterize', () => {
  const env = { functionName: 'fn', binding: 'b', now: () => 0, ids: sequentialIds() };
  it('makes each expression one parameter, the same expression once, names that cannot clash', () => {
    const data = { query: { a: "x' OR 1=1 --" }, values: { 'a-b': 'v', a_b: 'w' } };
    assert.deepEqual(
      parameterize('SELECT * FROM c WHERE c.a = {Query.a} OR c.b = {query.a} OR c.c = {a-b} OR c.d = {a_b}', data, env),
      {
        query: 'SELECT * FROM c WHERE c.a = @Query_a OR c.b = @Query_a OR c.c = @a_b OR c.d = @a_b_2',
        parameters: [
          { name: '@Query_a', value: "x' OR 1=1 --" },
          { name: '@a_b', value: 'v' },
          { name: '@a_b_2', value: 'w' },
        ],
      },
    );
  });
  it("a batch's metadata array is the parameter's value, an array (any case of its name); an object stays text", () => {
    const data = { values: { CorrelationIdArray: ['o-1', null, "o'2"], Props: { a: 1 } } };
    assert.deepEqual(
      parameterize('SELECT * FROM c WHERE ARRAY_CONTAINS({correlationIdArray}, c.id) AND c.p = {Props}', data, env),
      {
        query: 'SELECT * FROM c WHERE ARRAY_CONTAINS(@correlationIdArray, c.id) AND c.p = @Props',
        parameters: [
          { name: '@correlationIdArray', value: ['o-1', null, "o'2"] },
          { name: '@Props', value: '{"a":1}' },
        ],
      },
    );
  });
  it('an unknown expression fails with FUNCTIONS_INVALID_BINDING', () => {
    assert.throws(() => parameterize('SELECT * FROM c WHERE c.a = {nope}', {}, env), {
      code: 'FUNCTIONS_INVALID_BINDING',
    });
  });
});
