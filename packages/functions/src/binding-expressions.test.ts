import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sequentialIds } from '@hubbub/kernel';
import { resolveExpressions } from './binding-expressions.ts';

const env = { functionName: 'fn', binding: 'b', now: () => Date.parse('2026-01-02T03:04:05Z'), ids: sequentialIds() };
const data = {
  headers: { 'x-ms-client-principal-id': 'ada' },
  query: { tab: 'open' },
  values: { id: '7', order: { customer: { name: 'Lin' } }, MessageId: 'm-1', tags: ['a'] },
};

describe('resolveExpressions', () => {
  const cases: [string, string][] = [
    ['{headers.x-ms-client-principal-id}', 'ada'],
    ['{Headers.X-MS-Client-Principal-Id}', 'ada'],
    ['{headers.missing}', ''],
    ['{query.tab}/{query.none}', 'open/'],
    ['order-{id}', 'order-7'],
    ['{order.customer.name}', 'Lin'],
    ['{messageid}', 'm-1'],
    ['{tags}', '["a"]'],
    ['{DateTime}', '2026-01-02T03:04:05.000Z'],
    ['{sys.utcnow}', '2026-01-02T03:04:05.000Z'],
    ['{sys.methodname}', 'fn'],
    ['{rand-guid}', '00000000-0000-4000-8000-000000000001'],
    ['plain', 'plain'],
    // Doubled braces are literal braces, as in the WebJobs SDK's binding templates.
    ['{{id}}', '{id}'],
    ['$UserId:{{{id}}}', '$UserId:{7}'],
    ['a}}b{{', 'a}b{'],
  ];
  for (const [template, expected] of cases) {
    it(`${template} → ${expected}`, () => assert.equal(resolveExpressions(template, data, env), expected));
  }

  it('fails on an unknown name with FUNCTIONS_INVALID_BINDING', () => {
    assert.throws(() => resolveExpressions('{nope}', data, env), { code: 'FUNCTIONS_INVALID_BINDING' });
    assert.throws(() => resolveExpressions('{order.nope}', data, env), { code: 'FUNCTIONS_INVALID_BINDING' });
  });

  it('hands each value to check, which may refuse it', () => {
    const seen: string[] = [];
    assert.equal(
      resolveExpressions('{id}-{query.tab}', data, env, (v, e) => seen.push(`${e}=${v}`)),
      '7-open',
    );
    assert.deepEqual(seen, ['id=7', 'query.tab=open']);
    assert.throws(
      () =>
        resolveExpressions('{id}', data, env, () => {
          throw new Error('refused');
        }),
      /refused/,
    );
  });
});
