/**
 * Conformance: the query language, table-driven over one fixture, plus paging and errors. Every
 * driver must return exactly these rows in exactly this order (the default order is partition key,
 * then id).
 * @module
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { Container } from '../client/container.ts';
import type { QuerySpec } from '../query/bind.ts';
import { type Ctx, rejectsWith, type TestFn } from './context.ts';

export const fixture = [
  {
    id: 'a1',
    customerId: 'alice',
    status: 'open',
    total: 30,
    tags: ['rush', 'gift'],
    address: { city: 'Oslo', zip: '0150' },
    lines: [
      { sku: 'x', qty: 1 },
      { sku: 'y', qty: 2 },
    ],
    name: 'Apple pie',
  },
  {
    id: 'a2',
    customerId: 'alice',
    status: 'paid',
    total: 12.5,
    tags: [],
    address: { city: 'Bergen' },
    name: 'banana bread',
  },
  { id: 'a3', customerId: 'alice', status: 'closed', total: 100, flag: true, name: 'Cherry' },
  { id: 'b1', customerId: 'bob', status: 'open', total: 7, tags: ['gift'], address: { city: 'Oslo' }, name: 'apricot' },
  { id: 'b2', customerId: 'bob', status: 'paid', total: '7', flag: false, note: null, name: 'Äpfel' },
  { id: 'b3', customerId: 'bob', total: 55, tags: 'gift', name: 'zucchini' },
  {
    id: 'c1',
    customerId: 'carol',
    status: 'open',
    total: -3,
    tags: ['rush'],
    lines: [{ sku: 'x', qty: 5 }],
    name: 'CHERRY tart',
  },
  { id: 'c2', customerId: 'carol', status: 'paid', total: 0, address: null, name: 'date' },
];

/** WHERE clauses and the ids they select. */
const filters: Array<[string, string[], Record<string, unknown>?]> = [
  ["c.status = 'open'", ['a1', 'b1', 'c1']],
  ['c.total > 10', ['a1', 'a2', 'a3', 'b3']],
  ['c.total >= 0 AND c.total < 30', ['a2', 'b1', 'c2']],
  ["c.status != 'open'", ['a2', 'a3', 'b2', 'c2']],
  ["c.status <> 'open'", ['a2', 'a3', 'b2', 'c2']],
  ["NOT (c.status = 'open')", ['a2', 'a3', 'b2', 'c2']],
  ['NOT (c.total > 10)', ['b1', 'c1', 'c2']],
  ["c.status = 'open' OR c.total > 50", ['a1', 'a3', 'b1', 'b3', 'c1']],
  ["c.status IN ('paid', 'closed')", ['a2', 'a3', 'b2', 'c2']],
  ["c.status NOT IN ('paid', 'closed')", ['a1', 'b1', 'c1']],
  ['c.total BETWEEN 0 AND 30', ['a1', 'a2', 'b1', 'c2']],
  ['c.total NOT BETWEEN 0 AND 30', ['a3', 'b3', 'c1']],
  ['IS_DEFINED(c.tags)', ['a1', 'a2', 'b1', 'b3', 'c1']],
  ['NOT IS_DEFINED(c.status)', ['b3']],
  ["ARRAY_CONTAINS(c.tags, 'gift')", ['a1', 'b1']],
  ["NOT ARRAY_CONTAINS(c.tags, 'gift')", ['a2', 'a3', 'b2', 'b3', 'c1', 'c2']],
  ['ARRAY_CONTAINS(c.lines, {"sku": "x"}, true)', ['a1', 'c1']],
  ['ARRAY_CONTAINS(c.lines, {"sku": "x"})', []],
  ['ARRAY_CONTAINS(c.lines, {"sku": "x", "qty": 5})', ['c1']],
  ["ARRAY_CONTAINS(['open', 'closed'], c.status)", ['a1', 'a3', 'b1', 'c1']],
  ["STARTSWITH(c.name, 'ap')", ['b1']],
  ["STARTSWITH(c.name, 'ap', true)", ['a1', 'b1']],
  ["CONTAINS(c.name, 'err')", ['a3']],
  ["CONTAINS(c.name, 'ERR', true)", ['a3', 'c1']],
  ["ENDSWITH(c.name, 'bread')", ['a2']],
  ["c.address.city = 'Oslo'", ['a1', 'b1']],
  ['c.address = null', ['c2']],
  ['IS_NULL(c.note)', ['b2']],
  ['IS_STRING(c.total)', ['b2']],
  ['IS_NUMBER(c.total) AND IS_ARRAY(c.tags) AND IS_OBJECT(c.address)', ['a1', 'a2', 'b1']],
  ['IS_BOOL(c.flag)', ['a3', 'b2']],
  ['c.flag', ['a3']],
  ['NOT c.flag', ['b2']],
  ['c.flag = true OR c.flag = false', ['a3', 'b2']],
  ['c.lines[0].qty > 1', ['c1']],
  ['c.lines[1].sku = "y"', ['a1']],
  ["c['status'] = 'paid'", ['a2', 'b2', 'c2']],
  ['c.total = 7', ['b1']],
  ["c.total = '7'", ['b2']],
  ["LOWER(c.status) = 'open'", ['a1', 'b1', 'c1']],
  ["UPPER(c.name) = 'CHERRY'", ['a3']],
  ['ARRAY_LENGTH(c.tags) > 1', ['a1']],
  ['ARRAY_LENGTH(c.tags) = 0', ['a2']],
  ["c.total > 'a'", []],
  ["c.name > 'b'", ['a2', 'b2', 'b3', 'c2']],
  ["c.name >= 'Cherry' AND c.name <= 'apricot'", ['a3', 'b1']],
  ['c.missing = undefined', []],
  ['c.total = c.total', ['a1', 'a2', 'a3', 'b1', 'b2', 'b3', 'c1', 'c2']],
  ['c.total > c.missing', []],
  ['c.address = {"city": "Oslo"}', ['b1']],
  ["c.tags = ['rush']", ['c1']],
  ['c.customerId = @who AND c.total > @min', ['a1', 'a3'], { '@who': 'alice', '@min': 20 }],
  ['c.status IN (@a, @b)', ['a3', 'b1', 'a1', 'c1'].sort(), { '@a': 'open', '@b': 'closed' }],
  ['c.address.city = @city', [], { '@city': 'Paris' }],
  ['c.tags = @tags', ['a1'], { '@tags': ['rush', 'gift'] }],
  ['ARRAY_CONTAINS(@set, c.id)', ['a2', 'c2'], { '@set': ['a2', 'c2', 'zz'] }],
  ['c.status = "open" AND (c.total > 20 OR c.customerId = "carol")', ['a1', 'c1']],
];

/** Whole queries and their exact results. */
const results: Array<[QuerySpec, unknown[], { partitionKey?: string }?]> = [
  [
    "SELECT c.id, c.address.city FROM c WHERE c.customerId = 'alice'",
    [{ id: 'a1', city: 'Oslo' }, { id: 'a2', city: 'Bergen' }, { id: 'a3' }],
  ],
  [
    "SELECT c.id, c.address.city AS town, c.tags[0] AS first FROM c WHERE c.customerId = 'bob'",
    [{ id: 'b1', town: 'Oslo', first: 'gift' }, { id: 'b2' }, { id: 'b3' }],
  ],
  ['SELECT VALUE c.address.city FROM c', ['Oslo', 'Bergen', 'Oslo']],
  ["SELECT VALUE c.status = 'open' FROM c WHERE c.customerId = 'carol'", [true, false]],
  [
    "SELECT c.id, c.status = 'paid' AS paid FROM c WHERE c.customerId = 'bob'",
    [{ id: 'b1', paid: false }, { id: 'b2', paid: true }, { id: 'b3' }],
  ],
  ["SELECT c.id, c.lines FROM orders c WHERE c.id = 'c1'", [{ id: 'c1', lines: [{ sku: 'x', qty: 5 }] }]],
  ["SELECT o.id FROM orders AS o WHERE o.id = 'c2'", [{ id: 'c2' }]],
  [
    "SELECT c.id, LOWER(c.name) AS n, ARRAY_LENGTH(c.tags) AS t FROM c WHERE c.id = 'a1'",
    [{ id: 'a1', n: 'apple pie', t: 2 }],
  ],
  ['SELECT VALUE COUNT(1) FROM c', [8]],
  ["SELECT VALUE COUNT(1) FROM c WHERE c.status = 'open'", [3]],
  ['SELECT COUNT(c.tags) AS n FROM c', [{ n: 5 }]],
  ['SELECT VALUE COUNT(1) FROM c', [3], { partitionKey: 'bob' }],
  ['SELECT VALUE COUNT(1) FROM c WHERE c.nope = 1', [0]],
  ['SELECT TOP 2 VALUE c.id FROM c', ['a1', 'a2']],
  ['SELECT VALUE c.id FROM c OFFSET 2 LIMIT 3', ['a3', 'b1', 'b2']],
  ['SELECT VALUE c.id FROM c OFFSET 7 LIMIT 3', ['c2']],
  ['SELECT VALUE c.id FROM c OFFSET 0 LIMIT 0', []],
  ['SELECT VALUE c.id FROM c', ['b1', 'b2', 'b3'], { partitionKey: 'bob' }],
  ['SELECT VALUE c.id FROM c ORDER BY c.total', ['c1', 'c2', 'b1', 'a2', 'a1', 'b3', 'a3', 'b2']],
  ['SELECT VALUE c.id FROM c ORDER BY c.total DESC', ['b2', 'a3', 'b3', 'a1', 'a2', 'b1', 'c2', 'c1']],
  ['SELECT VALUE c.id FROM c ORDER BY c.status, c.id DESC', ['b3', 'a3', 'c1', 'b1', 'a1', 'c2', 'b2', 'a2']],
  ['SELECT VALUE c.id FROM c ORDER BY c.name', ['a1', 'c1', 'a3', 'b1', 'a2', 'c2', 'b3', 'b2']],
  ['SELECT VALUE c.id FROM c ORDER BY c.flag DESC', ['a3', 'b2', 'a1', 'a2', 'b1', 'b3', 'c1', 'c2']],
  ['SELECT VALUE c.id FROM c ORDER BY c.address.city', ['a3', 'b2', 'b3', 'c1', 'c2', 'a2', 'a1', 'b1']],
  ['SELECT VALUE c.id FROM c ORDER BY c.total DESC OFFSET 1 LIMIT 2', ['a3', 'b3']],
  ['SELECT TOP 3 VALUE c.total FROM c ORDER BY c.total', [-3, 0, 7]],
  [
    { query: 'SELECT TOP @n VALUE c.id FROM c ORDER BY c.id DESC', parameters: [{ name: '@n', value: 2 }] },
    ['c2', 'c1'],
  ],
  [
    {
      query: 'SELECT VALUE c.id FROM c WHERE c.total > @min OFFSET @skip LIMIT @take',
      parameters: [
        { name: '@min', value: 0 },
        { name: '@skip', value: 1 },
        { name: '@take', value: 2 },
      ],
    },
    ['a2', 'a3'],
  ],
];

/** Bad queries: the 1-based position each error names. */
const errors: Array<[string, number]> = [
  ['SELECT * FROM c WHERE', 22],
  ["SELECT * FROM c WHERE c.a = 'x", 29],
  ['SELECT * FROM c WHERE d.a = 1', 23],
  ['SELECT * FROM c JOIN t IN c.tags', 17],
  ['SELECT * FROM c WHERE FOO(c.a)', 23],
  ['SELECT * FROM c WHERE c.a = @p', 29],
  ['SELECT * FROM c WHERE c.a + 1 = 2', 27],
  ['SELECT SUM(c.a) FROM c', 8],
  ['SELECT TOP -1 * FROM c', 12],
  ['SELECT * FROM c ORDER BY c.a OFFSET 1', 38],
  ['SELECT VALUE COUNT(1) FROM c ORDER BY c.a', 1],
  ['SELECT DISTINCT c.a FROM c', 8],
  ['SELECT c.a, c.a FROM c', 13],
  ['SELECT * FROM c WHERE STARTSWITH(c.a)', 23],
  ["SELECT * FROM c WHERE STARTSWITH(c.a, 'x', c.b)", 44],
  ['SELECT * FROM c WHERE c.a = [c.b]', 30],
  ['SELECT * FORM c', 10],
  ['SELECT * FROM c WHERE c.a = "\\q"', 30],
  [`SELECT * FROM c WHERE ${'('.repeat(100)}1${')'.repeat(100)}`, 87],
];

async function load(orders: Container): Promise<void> {
  for (const item of fixture) await orders.items.create(item);
}

const ids = (rows: unknown[]): string[] => rows.map((r) => (r as { id: string }).id);

export function queryTests(test: TestFn): void {
  describe('queries', () => {
    test('filters: comparisons, logic, IN, BETWEEN and functions', async ({ orders }) => {
      await load(orders);
      for (const [where, expected, params = {}] of filters) {
        const parameters = Object.entries(params).map(([name, value]) => ({ name, value }));
        const { resources } = await orders.items
          .query({ query: `SELECT * FROM c WHERE ${where}`, parameters })
          .fetchAll();
        assert.deepEqual(ids(resources), expected, where);
      }
    });

    test('projections, aggregates, TOP, OFFSET … LIMIT and ORDER BY', async ({ orders }) => {
      await load(orders);
      for (const [spec, expected, options = {}] of results) {
        const { resources } = await orders.items.query(spec, options).fetchAll();
        assert.deepEqual(resources, expected, typeof spec === 'string' ? spec : spec.query);
      }
      const [whole] = (await orders.items.query("SELECT c FROM c WHERE c.id = 'a3'").fetchAll()).resources as Array<{
        c: unknown;
      }>;
      assert.deepEqual(whole?.c, (await orders.item('a3', 'alice').read()).resource);
      const star = (await orders.items.query("SELECT * FROM c WHERE c.id = 'b2'").fetchAll()).resources;
      assert.deepEqual(star, [(await orders.item('b2', 'bob').read()).resource]);
    });

    test('pages resume from continuation tokens and agree with one fetch', async ({ orders }) => {
      await load(orders);
      const queries = [
        'SELECT * FROM c',
        'SELECT VALUE c.id FROM c ORDER BY c.total DESC',
        'SELECT c.id, c.name FROM c ORDER BY c.name',
        'SELECT VALUE c.id FROM c ORDER BY c.status, c.id DESC',
        'SELECT VALUE c.id FROM c OFFSET 1 LIMIT 5',
        'SELECT TOP 5 VALUE c.id FROM c ORDER BY c.total',
        'SELECT VALUE c.address.city FROM c',
      ];
      for (const query of queries) {
        const all = (await orders.items.query(query, { maxItemCount: 100 }).fetchAll()).resources;
        for (const size of [1, 2, 3]) {
          const pages: unknown[] = [];
          let token: string | undefined;
          let rounds = 0;
          do {
            const page = await orders.items
              .query(query, { maxItemCount: size, ...(token === undefined ? {} : { continuationToken: token }) })
              .fetchNext();
            assert.ok(page.resources.length <= size);
            pages.push(...page.resources);
            token = page.continuationToken;
            assert.ok(++rounds <= 10, 'too many pages');
          } while (token !== undefined);
          assert.deepEqual(pages, all, `${query} by ${size}`);
        }
      }
    });

    test('a page after a concurrent insert neither repeats nor skips', async ({ orders }) => {
      await load(orders);
      const first = await orders.items.query('SELECT VALUE c.id FROM c', { maxItemCount: 3 }).fetchNext();
      assert.deepEqual(first.resources, ['a1', 'a2', 'a3']);
      await orders.items.create({ id: 'a0', customerId: 'alice' });
      await orders.items.create({ id: 'b0', customerId: 'bob' });
      const rest = await orders.items
        .query('SELECT VALUE c.id FROM c', { maxItemCount: 100, continuationToken: first.continuationToken! })
        .fetchAll();
      assert.deepEqual(rest.resources, ['b0', 'b1', 'b2', 'b3', 'c1', 'c2']);
    });

    test('iterates pages with for await', async ({ orders }) => {
      await load(orders);
      const sizes: number[] = [];
      for await (const page of orders.items.query('SELECT * FROM c', { maxItemCount: 3 }))
        sizes.push(page.resources.length);
      assert.deepEqual(sizes, [3, 3, 2]);
    });

    test('bad queries are refused with the position of the error', async ({ orders }) => {
      for (const [query, position] of errors) {
        const err = await rejectsWith(orders.items.query(query).fetchNext(), 'STORE_INVALID_QUERY');
        assert.equal(err.status, 400);
        assert.equal(err.detail?.position, position, query.slice(0, 60));
      }
      await rejectsWith(orders.items.query(42 as never).fetchNext(), 'STORE_INVALID_QUERY');
      await rejectsWith(
        orders.items.query({ query: 'SELECT * FROM c', parameters: [{ name: 'x', value: 1 }] }).fetchNext(),
        'STORE_INVALID_QUERY',
      );
      await rejectsWith(
        orders.items
          .query({ query: 'SELECT * FROM c WHERE c.a = @x', parameters: [{ name: '@x', value: 'a\u0000b' }] })
          .fetchNext(),
        'STORE_INVALID_QUERY',
      );
      await rejectsWith(
        orders.items.query({ query: 'SELECT TOP @n * FROM c', parameters: [{ name: '@n', value: 1.5 }] }).fetchNext(),
        'STORE_INVALID_QUERY',
      );
      await rejectsWith(orders.items.query('x'.repeat(70_000)).fetchNext(), 'STORE_INVALID_QUERY');
    });

    test('bad paging input is refused', async (ctx: Ctx) => {
      const { orders } = ctx;
      await load(orders);
      const page = await orders.items.query('SELECT * FROM c', { maxItemCount: 2 }).fetchNext();
      await rejectsWith(
        orders.items
          .query('SELECT * FROM c WHERE c.total > 0', { continuationToken: page.continuationToken! })
          .fetchNext(),
        'STORE_INVALID_CONTINUATION',
      );
      await rejectsWith(
        orders.items
          .query('SELECT * FROM c', { continuationToken: page.continuationToken!, partitionKey: 'bob' })
          .fetchNext(),
        'STORE_INVALID_CONTINUATION',
      );
      for (const token of [
        'garbage',
        '',
        Buffer.from('{"v":1,"f":"x","k":[]}').toString('base64url'),
        'x'.repeat(20_000),
      ]) {
        await rejectsWith(
          orders.items.query('SELECT * FROM c', { continuationToken: token }).fetchNext(),
          'STORE_INVALID_CONTINUATION',
        );
      }
      const forged = JSON.parse(Buffer.from(page.continuationToken!, 'base64url').toString());
      forged.k = [1, 2, 3];
      await rejectsWith(
        orders.items
          .query('SELECT * FROM c', { continuationToken: Buffer.from(JSON.stringify(forged)).toString('base64url') })
          .fetchNext(),
        'STORE_INVALID_CONTINUATION',
      );
      for (const maxItemCount of [0, 1.5, 100_000]) {
        await rejectsWith(orders.items.query('SELECT * FROM c', { maxItemCount }).fetchNext(), 'STORE_INVALID_REQUEST');
      }
      await rejectsWith(
        orders.items.query('SELECT * FROM c', { partitionKey: {} as never }).fetchNext(),
        'STORE_INVALID_REQUEST',
      );
    });
  });
}
