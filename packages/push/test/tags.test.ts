import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTagExpression, validateTag, validateTags } from '../src/tags.ts';

function code(fn: () => unknown): { code: string; detail: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    return err as { code: string; detail: Record<string, unknown> };
  }
  assert.fail('expected a throw');
}

describe('tags', () => {
  it('accepts 1–120 characters of A-Za-z0-9_@#.:-', () => {
    assert.equal(validateTag('follows_RedSox@x.y:#-1'), 'follows_RedSox@x.y:#-1');
    assert.equal(validateTag('t'.repeat(120)).length, 120);
  });

  it('refuses empty, over-long, wrong characters and non-strings with PUSH_INVALID_TAG', () => {
    for (const [tag, reason] of [
      ['', 'empty'],
      ['t'.repeat(121), 'length'],
      ['city Boston', 'charset'],
      ['a&b', 'charset'],
      ['$UserId:{x}', 'charset'],
      ['ümlaut', 'charset'],
    ] as const) {
      const err = code(() => validateTag(tag));
      assert.equal(err.code, 'PUSH_INVALID_TAG', tag);
      assert.equal(err.detail.reason, reason, tag);
    }
    assert.equal(code(() => validateTag(42)).code, 'PUSH_INVALID_TAG');
  });

  it('deduplicates and allows at most 60 per installation', () => {
    assert.deepEqual(validateTags(['a', 'b', 'a']), ['a', 'b']);
    const sixty = Array.from({ length: 60 }, (_, i) => `t${i}`);
    assert.equal(validateTags(sixty).length, 60);
    const err = code(() => validateTags([...sixty, 'one-more']));
    assert.equal(err.code, 'PUSH_INVALID_TAG');
    assert.equal(err.detail.reason, 'count');
    assert.equal(code(() => validateTags('a,b')).code, 'PUSH_INVALID_TAG');
  });
});

describe('tag expressions', () => {
  const set = (...tags: string[]) => new Set(tags);

  it('evaluates &&, ||, ! and parentheses with ! over && over ||', () => {
    const e = parseTagExpression('(follows_RedSox || follows_Cardinals) && location_Boston');
    assert.equal(e.matches(set('follows_RedSox', 'location_Boston')), true);
    assert.equal(e.matches(set('follows_Cardinals')), false);
    assert.equal(e.matches(set('location_Boston')), false);

    const p = parseTagExpression('a || b && c');
    assert.equal(p.matches(set('a')), true, 'a || (b && c)');
    assert.equal(p.matches(set('b')), false);
    assert.equal(p.matches(set('b', 'c')), true);

    const n = parseTagExpression('!a && b');
    assert.equal(n.matches(set('b')), true);
    assert.equal(n.matches(set('a', 'b')), false);
    assert.equal(parseTagExpression('!!a').matches(set('a')), true);
    assert.equal(parseTagExpression('!(a || b)').matches(set()), true);
    assert.equal(parseTagExpression('a||b').matches(set('b')), true, 'createTagExpression writes no spaces');
  });

  it('reads $InstallationId and $UserId tags, with or without braces', () => {
    const e = parseTagExpression('$InstallationId:{dev-1} || $UserId:alice');
    assert.deepEqual(e.tags, ['$InstallationId:{dev-1}', '$UserId:{alice}']);
    assert.equal(e.matches(set('$UserId:{alice}')), true);
  });

  it('names the position of what does not parse', () => {
    const cases: Array<[string, number]> = [
      ['a &&', 4],
      ['a & b', 2],
      ['a | b', 2],
      ['(a || b', 7],
      ['a || b)', 6],
      ['a b', 2],
      ['', 0],
      ['a || ()', 6],
      ['tag with space', 4],
      ['a && %b', 5],
      ['$Other:x', 0],
      ['$UserId:{x', 8],
      [`${'t'.repeat(121)} || b`, 0],
    ];
    for (const [source, position] of cases) {
      const err = code(() => parseTagExpression(source));
      assert.equal(err.code, 'PUSH_TAG_EXPRESSION_INVALID', source);
      assert.equal(err.detail.position, position, source);
    }
    assert.equal(code(() => parseTagExpression(undefined)).code, 'PUSH_TAG_EXPRESSION_INVALID');
  });

  it('allows 20 tags with only || and 6 otherwise', () => {
    const tags = (n: number) => Array.from({ length: n }, (_, i) => `t${i}`);
    assert.equal(parseTagExpression(tags(20).join(' || ')).tags.length, 20);
    const over = code(() => parseTagExpression(tags(21).join(' || ')));
    assert.equal(over.code, 'PUSH_TAG_EXPRESSION_TOO_COMPLEX');
    assert.deepEqual([over.detail.tags, over.detail.limit], [21, 20]);

    assert.equal(parseTagExpression(tags(6).join(' && ')).tags.length, 6);
    const mixed = code(() => parseTagExpression(`(${tags(6).join(' || ')}) && x`));
    assert.equal(mixed.code, 'PUSH_TAG_EXPRESSION_TOO_COMPLEX');
    assert.deepEqual([mixed.detail.tags, mixed.detail.limit], [7, 6]);
    assert.equal(code(() => parseTagExpression(`!${tags(7).join(' || ')}`)).code, 'PUSH_TAG_EXPRESSION_TOO_COMPLEX');
    assert.equal(parseTagExpression('a || a || a').tags.length, 1, 'a tag named twice counts once');
  });

  it('says which tags a match must carry one of, or that only a scan finds every match', () => {
    assert.deepEqual(parseTagExpression('a || b || c').indexTags, ['a', 'b', 'c']);
    assert.deepEqual(parseTagExpression('(a || b) && c').indexTags, ['c']);
    assert.deepEqual(parseTagExpression('a && !b').indexTags, ['a']);
    assert.equal(parseTagExpression('!a').indexTags, undefined);
    assert.equal(parseTagExpression('a || !b').indexTags, undefined);
    assert.equal(parseTagExpression('a || b').orOnly, true);
    assert.equal(parseTagExpression('a && b').orOnly, false);
  });
});
