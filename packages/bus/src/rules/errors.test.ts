import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBusError } from '../errors.ts';
import { compileRule, compileSqlFilter, type RuleDescription } from './index.ts';

function rejects(run: () => unknown, code: string, position?: number, expression?: string): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(isBusError(err), `expected a BusError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.status, 400);
    if (position !== undefined) {
      assert.equal(err.detail?.position, position, err.message);
      assert.match(err.message, new RegExp(`at position ${position}$`));
    }
    if (expression !== undefined) assert.equal(err.detail?.expression, expression);
    return true;
  });
}

describe('SQL filter syntax errors', () => {
  const cases: Array<[string, number]> = [
    ['', 1],
    ['   ', 4],
    ["color = 'red", 9],
    ['(size = 1', 10],
    ['size = 1)', 9],
    ['size = ', 8],
    ['size =', 7],
    ['= 1', 1],
    ['size == 1', 7],
    ['size = 1 AND', 13],
    ['size = 1 OR OR size = 2', 13],
    ['AND size = 1', 1],
    ['NOT', 4],
    ['color LIKE 5', 12],
    ["color LIKE 'a' ESCAPE", 22],
    ["color LIKE 'a' ESCAPE 'ab'", 23],
    ["color LIKE 'a' ESCAPE ''", 23],
    ["color LIKE 'a!' ESCAPE '!'", 12],
    ['size IN 1, 2', 9],
    ['size IN (1, 2', 14],
    ['size IN ()', 10],
    ['size IN (1,)', 12],
    ['size IS 1', 9],
    ['size IS NOT 1', 13],
    ['EXISTS color', 8],
    ['EXISTS(color', 13],
    ['EXISTS(1)', 8],
    ['sys.Nope = 1', 1],
    ['sys. = 1', 6],
    ['size = 1 ^ 2', 10],
    ['size = 1e', 9],
    ['size = 12abc', 8],
    ['size = 99999999999999999999', 8],
    ['[unterminated = 1', 1],
    ['[] = 1', 1],
    ['"open = 1', 1],
    ['unknownfn(1) = 1', 1],
    ['newid(1) = 1', 7],
    ["property(color) = 'red'", 10],
    ["property('sys.Nope') = 'red'", 10],
    ['1 + 2', 3],
    ["'text'", 1],
    ['5', 1],
    ['-size', 1],
    ['size = 1 AND 5', 14],
    ['NOT 5', 5],
    ['size = 1 size = 2', 10],
    ['size = (1', 10],
    ['LIKE = 1', 1],
    ['size = 1;', 9],
    ['5.x = 1', 2],
  ];
  for (const [expression, position] of cases) {
    it(`${JSON.stringify(expression)} → BUS_INVALID_FILTER at ${position}`, () => {
      rejects(() => compileSqlFilter(expression), 'BUS_INVALID_FILTER', position, expression);
      rejects(() => compileRule({ name: 'r', filter: { kind: 'sql', expression } }), 'BUS_INVALID_FILTER', position);
    });
  }

  it('names what was expected', () => {
    assert.throws(() => compileSqlFilter("(color = 'red'"), /expected '\)' but found end of input at position 15$/);
    assert.throws(() => compileSqlFilter('size IN (1 2)'), /expected '\)' but found '2' at position 12$/);
  });

  it('rejects expressions longer than 1024 characters', () => {
    const long = `color = '${'x'.repeat(1020)}'`;
    rejects(() => compileSqlFilter(long), 'BUS_INVALID_FILTER', 1025);
  });

  it('rejects a non-string expression', () => {
    rejects(() => compileSqlFilter(42 as unknown as string), 'BUS_INVALID_FILTER', 1);
  });
});

describe('rule description errors', () => {
  const cases: Array<[string, RuleDescription, string]> = [
    ['unknown filter kind', { name: 'r', filter: { kind: 'regex' } as never }, 'BUS_INVALID_FILTER'],
    ['missing filter', { name: 'r' } as never, 'BUS_INVALID_FILTER'],
    ['empty correlation filter', { name: 'r', filter: { kind: 'correlation' } }, 'BUS_INVALID_FILTER'],
    [
      'correlation field not a string',
      { name: 'r', filter: { kind: 'correlation', subject: 5 as never } },
      'BUS_INVALID_FILTER',
    ],
    ['action without expression', { name: 'r', filter: { kind: 'true' }, action: {} as never }, 'BUS_INVALID_ACTION'],
  ];
  for (const [name, rule, code] of cases) {
    it(`${name} → ${code}`, () => rejects(() => compileRule(rule), code));
  }
});
