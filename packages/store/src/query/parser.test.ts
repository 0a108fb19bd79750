import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bindQuery, parameterMap } from './bind.ts';
import { evaluate } from './evaluate.ts';
import { parseQuery } from './parser.ts';

const where = (text: string, params: Record<string, unknown> = {}) => {
  const q = bindQuery(
    parseQuery(`SELECT * FROM c WHERE ${text}`),
    parameterMap(Object.entries(params).map(([name, value]) => ({ name, value }))),
  );
  return (doc: unknown) => evaluate(q.where!, doc as never);
};

describe('query parser', () => {
  it('parses the clauses', () => {
    const q = parseQuery(
      'select top 5 c.a, c.b.c as x from Orders c where c.a = 1 order by c.a desc, c.b offset 1 limit 2',
    );
    assert.equal(q.alias, 'c');
    assert.deepEqual(q.top, { kind: 'literal', value: 5 });
    assert.equal(q.select.kind, 'list');
    assert.deepEqual(q.select.kind === 'list' ? q.select.items.map((i) => i.name) : [], ['a', 'x']);
    assert.deepEqual(
      q.orderBy.map((o) => o.descending),
      [true, false],
    );
    assert.deepEqual(q.offset, { kind: 'literal', value: 1 });
  });

  it('names unaliased projections like Cosmos', () => {
    const q = parseQuery('SELECT c.id, c, IS_DEFINED(c.a), c.tags[0] FROM c');
    assert.deepEqual(q.select.kind === 'list' ? q.select.items.map((i) => i.name) : [], ['id', 'c', '$1', '$2']);
  });

  it('folds array and object literals and binds parameters', () => {
    const f = where('c.a IN (@x, 2) AND ARRAY_CONTAINS([1, {"k": @x}], c.b)', { '@x': 'v' });
    assert.equal(f({ a: 'v', b: { k: 'v' } }), true);
    assert.equal(f({ a: 2, b: 1 }), true);
    assert.equal(f({ a: 3, b: 1 }), false);
  });

  it('keeps Cosmos three-valued logic', () => {
    assert.equal(where('c.a > 1')({ a: 'x' }), undefined);
    assert.equal(where('NOT (c.a > 1)')({ a: 'x' }), undefined);
    assert.equal(where('c.a > 1 OR true')({}), true);
    assert.equal(where('c.a > 1 AND false')({}), false);
    assert.equal(where('c.a IN (1, c.missing)')({ a: 2 }), undefined);
    assert.equal(where('c.a = null')({ a: null }), true);
    assert.equal(where('c.a != null')({ a: 1 }), undefined);
  });

  it('compares strings by code point', () => {
    assert.equal(where("c.a < 'b'")({ a: 'B' }), true);
    assert.equal(where("c.a < '\uffff'")({ a: '😀' }), false, 'astral characters sort after the BMP');
  });

  it('reads keywords as property names after a dot', () => {
    assert.equal(where("c.value = 'x' AND c.order.by = 1")({ value: 'x', order: { by: 1 } }), true);
  });

  it('accepts comments and both quote styles', () => {
    assert.equal(where(`c.a = "x" -- trailing comment\n AND c.b = 'it\\'s'`)({ a: 'x', b: "it's" }), true);
  });
});
