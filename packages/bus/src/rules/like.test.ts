import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBusError } from '../errors.ts';
import { compileSqlFilter, maxEvaluationSteps, type RoutableMessage } from './index.ts';
import { compileLike, EvaluationBudget } from './like.ts';

const withLabel = (subject: string, text = subject): RoutableMessage => ({
  body: null,
  subject,
  applicationProperties: { text },
});
const like = (pattern: string, text: string, escapeChar?: string): boolean =>
  compileSqlFilter(
    `text LIKE '${pattern.replaceAll("'", "''")}'${escapeChar === undefined ? '' : ` ESCAPE '${escapeChar}'`}`,
  )(withLabel('', text));

describe('LIKE', () => {
  const cases: Array<[pattern: string, text: string, expected: boolean, escapeChar?: string]> = [
    ['', '', true],
    ['', 'a', false],
    ['%', '', true],
    ['%%', '', true],
    ['_', '', false],
    ['%', 'anything at all', true],
    ['a%', 'abc', true],
    ['%c', 'abc', true],
    ['%b%', 'abc', true],
    ['a%c', 'ac', true],
    ['a%a', 'a', false],
    ['a%b%c', 'abxbyc', true],
    ['a%b%c', 'acb', false],
    ['_', 'a', true],
    ['__', 'a', false],
    ['a_c', 'abc', true],
    ['%_%_%', 'ab', true],
    ['%_%_%', 'a', false],
    ['ABC', 'abc', false],
    ['a.c', 'abc', false],
    ['a*', 'aaa', false],
    ['[ab]', 'a', false],
    ['[ab]', '[ab]', true],
    ['\\d', '\\d', true],
    ['(a|b)', '(a|b)', true],
    ['a\nb', 'a\nb', true],
    ['a_b', 'a\nb', true],
    ['%\n', 'line\n', true],
    // escape
    ['50!%', '50%', true, '!'],
    ['50!%', '500', false, '!'],
    ['!_', '_', true, '!'],
    ['!_', 'x', false, '!'],
    ['!!', '!', true, '!'],
    ['!a', 'a', true, '!'],
    ['%!%%', 'a%b', true, '!'],
    ['%!%%', 'ab', false, '!'],
    ['a%%', 'a%', true, '%'],
    ['a%%', 'ab', false, '%'],
    ['é%', '%', true, 'é'],
    ['éé_', 'éx', true, 'é'],
    // unicode: one character is one code point
    ['_', '😀', true],
    ['__', '😀', false],
    ['😀%', '😀x', true],
    ['%😀', 'x😀', true],
    ['%😀%', 'a😀b', true],
    ['a_b', 'a😀b', true],
    ['%_😀_%', '1😀😀😀2', true],
    ['_', 'é', true],
    ['_', 'e\u0301', false],
    ['__', 'e\u0301', true],
    ['日本%', '日本語', true],
    ['%語', '日本語', true],
    ['%\uDE00', '😀', false],
    ['\uD83D%', '😀', false],
    ['_', '\uD800', true],
    ['%\uDC00%', 'a\uDC00b', true],
    ['%\uDC00%', '\uD800\uDC00', false],
  ];
  for (const [pattern, text, expected, escapeChar] of cases) {
    it(`${JSON.stringify(text)} LIKE ${JSON.stringify(pattern)}${escapeChar ? ` ESCAPE '${escapeChar}'` : ''} → ${expected}`, () => {
      assert.equal(like(pattern, text, escapeChar), expected);
    });
  }

  it('is NOT LIKE the opposite, and unknown (never TRUE) on a non-string', () => {
    assert.equal(compileSqlFilter("text NOT LIKE 'a%'")(withLabel('', 'abc')), false);
    assert.equal(compileSqlFilter("text NOT LIKE 'b%'")(withLabel('', 'abc')), true);
    assert.equal(compileSqlFilter("n LIKE '1%'")({ body: null, applicationProperties: { n: 1 } }), false);
    assert.equal(compileSqlFilter("n NOT LIKE '1%'")({ body: null, applicationProperties: { n: 1 } }), false);
  });

  it('agrees with the anchored regular expression it replaces, on random short inputs', () => {
    const oracle = (pattern: string, escapeChar: string | undefined): RegExp => {
      const quote = (c: string): string => c.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
      let source = '^';
      const chars = [...pattern];
      for (let i = 0; i < chars.length; i++) {
        const c = chars[i]!;
        if (escapeChar !== undefined && c === escapeChar) source += quote(chars[++i]!);
        else source += c === '%' ? '.*' : c === '_' ? '.' : quote(c);
      }
      return new RegExp(`${source}$`, 'su');
    };
    const alphabet = ['a', 'b', '%', '_', '!', '😀', '\uD800', '\uDC00', '\n'];
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const word = (max: number): string => Array.from({ length: rand(max) }, () => alphabet[rand(9)]).join('');
    const budget = new EvaluationBudget();
    for (let n = 0; n < 20_000; n++) {
      const pattern = word(7);
      const escapeChar = rand(3) === 0 ? '!' : undefined;
      if (escapeChar !== undefined && /^(?:[^!]|!.)*!$/su.test(pattern)) continue; // a dangling escapeChar
      const text = word(9);
      budget.reset();
      const got = compileLike(pattern, escapeChar, () => new Error('dangling')).test(text, budget, 1);
      assert.equal(
        got,
        oracle(pattern, escapeChar).test(text),
        `${JSON.stringify(text)} LIKE ${JSON.stringify(pattern)}`,
      );
    }
  });
});

describe('LIKE cost', () => {
  const label = 'a'.repeat(100_000);

  it('evaluates the patterns that used to backtrack exponentially on a 100 k-character label', () => {
    const filter = compileSqlFilter("sys.Label LIKE '%a%a%a%a%b'");
    assert.equal(filter(withLabel(label)), false);
    assert.equal(filter(withLabel(`${label}b`)), true);
    assert.equal(filter(withLabel(`${label}ba`)), false);
    const longer = compileSqlFilter(`sys.Label LIKE '${'%a'.repeat(40)}%b' OR sys.Label LIKE '%b%a%'`);
    assert.equal(longer(withLabel(label)), false);
    assert.equal(longer(withLabel(`${label.slice(0, 39)}b`)), false);
    assert.equal(longer(withLabel(`${label.slice(0, 40)}b`)), true);
    assert.equal(longer(withLabel(`b${label}`)), true);
  });

  it('counts its comparisons: O(pattern × text) at worst, usually far fewer', () => {
    const budget = new EvaluationBudget(Number.MAX_SAFE_INTEGER);
    const spent = (pattern: string, text: string): number => {
      budget.reset();
      compileLike(pattern, undefined, () => new Error('dangling')).test(text, budget, 1);
      return budget.spent;
    };
    assert.ok(spent('%a%a%a%a%b', label) <= 10);
    assert.ok(spent('%a%a%a%a%b', `${label}b`) <= 20);
    const worst = `%${'a'.repeat(40)}b%`;
    assert.ok(spent(worst, label) <= worst.length * label.length);
  });

  it('fails with BUS_FILTER_BUDGET_EXCEEDED past maxEvaluationSteps, per message, on every LIKE together', () => {
    const heavy = `%${'a'.repeat(40)}b%`;
    const expression = `color = 'red' AND text LIKE '${heavy}'`;
    const filter = compileSqlFilter(expression);
    const rejected = (m: RoutableMessage): boolean => {
      try {
        filter(m);
        return false;
      } catch (err) {
        assert.ok(isBusError(err, 'BUS_FILTER_BUDGET_EXCEEDED'));
        assert.equal(err.detail?.position, expression.indexOf('LIKE') + 1);
        assert.equal(err.detail?.steps, maxEvaluationSteps);
        return true;
      }
    };
    const red = (text: string): RoutableMessage => ({ body: null, applicationProperties: { color: 'red', text } });
    assert.equal(rejected(red(label)), true);
    assert.equal(rejected({ body: null, applicationProperties: { color: 'blue', text: label } }), false);
    // Under budget alone, over it twice in one evaluation; each message starts afresh.
    const half = 'a'.repeat(Math.floor(maxEvaluationSteps / 41 / 2 + 2_000));
    assert.equal(rejected(red(half)), false);
    assert.equal(rejected(red(half)), false);
    const twice = compileSqlFilter(`text LIKE '${heavy}' OR text LIKE '${heavy.replace('b', 'c')}'`);
    assert.throws(() => twice(red(half)), { code: 'BUS_FILTER_BUDGET_EXCEEDED' });
  });
});
