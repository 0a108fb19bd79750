import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bindQuery, parameterMap } from '../../query/bind.ts';
import { parseQuery } from '../../query/parser.ts';
import { translateQuery } from './translate.ts';

const translate = (text: string, parameters: Array<{ name: string; value: unknown }> = [], after?: unknown[]) =>
  translateQuery(bindQuery(parseQuery(text), parameterMap(parameters)), {
    table: '"s"."items_1"',
    offset: 0,
    limit: 10,
    now: 1,
    partitionKey: '"p\'; DROP TABLE x; --"',
    ...(after === undefined ? {} : { after: after as never }),
  });

describe('query translation', () => {
  it('binds every value and every name; the SQL text holds none of them', () => {
    const hostile = ["it's", 'a"b', '\\', '$1', '-- x', "'); DROP TABLE t; --"];
    const { text, values } = translate(
      `SELECT c["we'ird"] AS x, VALUE_OF FROM c WHERE c["k'ey"] = @a AND c.b IN (@b, @c) AND STARTSWITH(c.s, @d) ORDER BY c["o'rder"]`.replace(
        ', VALUE_OF',
        '',
      ),
      [
        { name: '@a', value: hostile[0] },
        { name: '@b', value: hostile[1] },
        { name: '@c', value: hostile[2] },
        { name: '@d', value: hostile[5] },
      ],
      [5, '0', "x'y", 'pk', 'id'],
    );
    for (const h of [...hostile.filter((h) => h !== '$1'), "we'ird", "k'ey", "o'rder", 'DROP TABLE']) {
      assert.ok(!text.includes(h), `${h} leaked into ${text}`);
    }
    assert.ok(values.includes("we'ird") && values.includes("x'y"));
    const literals = text.match(/'[^']*'/g) ?? [];
    const structural = new Set([
      "'string'",
      "'number'",
      "'boolean'",
      "'array'",
      "'object'",
      "'null'",
      "'true'",
      "'{}'",
      "''",
    ]);
    assert.deepEqual(
      literals.filter((l) => !structural.has(l)),
      [],
      'only type names and empty values are quoted in the SQL text',
    );
  });

  it('uses containment for positive equality and ARRAY_CONTAINS, typed comparison under NOT', () => {
    const positive = translate("SELECT * FROM c WHERE c.a.b = 'x' AND ARRAY_CONTAINS(c.tags, 3)");
    assert.match(positive.text, /doc @> \$\d+::jsonb.*doc @> \$\d+::jsonb/);
    assert.ok(positive.values.includes(JSON.stringify({ a: { b: 'x' } })));
    assert.ok(positive.values.includes(JSON.stringify({ tags: [3] })));
    const negative = translate("SELECT * FROM c WHERE NOT (c.a = 'x')");
    assert.doesNotMatch(negative.text, /@>/);
    assert.match(negative.text, /jsonb_typeof/);
  });

  it('turns ARRAY_CONTAINS of a list of values and a property into a containment per value', () => {
    const ids = translate('SELECT * FROM c WHERE ARRAY_CONTAINS(@ids, c.id)', [{ name: '@ids', value: ['a', "b'"] }]);
    assert.match(ids.text, /\(doc @> \$\d+::jsonb OR doc @> \$\d+::jsonb\)/);
    assert.ok(ids.values.includes(JSON.stringify({ id: "b'" })));
    assert.match(
      translate('SELECT * FROM c WHERE ARRAY_CONTAINS(@ids, c.id)', [{ name: '@ids', value: [] }]).text,
      /FALSE/,
    );
    // Under NOT, or with a list holding an object, the general form: no containment.
    const negated = translate('SELECT * FROM c WHERE NOT ARRAY_CONTAINS(@ids, c.id)', [{ name: '@ids', value: ['a'] }]);
    assert.doesNotMatch(negated.text, /@>/);
    const objects = translate('SELECT * FROM c WHERE ARRAY_CONTAINS(@ids, c.id)', [
      { name: '@ids', value: [{ k: 1 }] },
    ]);
    assert.doesNotMatch(objects.text, /@>/);
  });

  it('folds constant subexpressions into one bound value', () => {
    const { text, values } = translate("SELECT * FROM c WHERE c.a IN ('x', 'y') AND (1 < 2)");
    assert.match(text, /= ANY\(\$\d+::jsonb\[\]\)/);
    assert.ok(values.some((v) => Array.isArray(v) && v.length === 2));
    assert.match(text, /AND TRUE/);
  });
});
