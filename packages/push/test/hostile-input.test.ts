import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPushError } from '../src/errors.ts';
import { parseTagExpression } from '../src/tags.ts';
import { compileHeaders, compileTemplate, toProperties } from '../src/templates.ts';

// Tag expressions and templates arrive from outside (a send's header, an installation's body):
// whatever the text, the answer is a value or a coded PushError naming a position inside it.

/** A small deterministic generator (xorshift), so a failure names a reproducible case. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function text(next: () => number, pieces: readonly string[], max: number): string {
  let out = '';
  const n = Math.floor(next() * max);
  for (let i = 0; i < n; i++) out += pieces[Math.floor(next() * pieces.length)];
  return out;
}

describe('hostile input', () => {
  it('tag expressions: 20,000 random ones parse or fail with a coded error at a position inside them', () => {
    const next = random(0x5eed);
    const pieces = [
      'a',
      'b1',
      'tag_x',
      '&&',
      '||',
      '&',
      '|',
      '!',
      '(',
      ')',
      ' ',
      '$UserId:',
      '{',
      '}',
      '$',
      'é',
      '\u0000',
      '"',
      "'",
      ',',
    ];
    const codes = new Set<string>();
    let parsed = 0;
    for (let i = 0; i < 20_000; i++) {
      const source = text(next, pieces, 24);
      try {
        const e = parseTagExpression(source);
        e.matches(new Set(['a', 'b1']));
        parsed++;
      } catch (err) {
        assert.ok(isPushError(err), `${JSON.stringify(source)} threw ${String(err)}`);
        codes.add(err.code);
        const position = err.detail?.position;
        if (err.code === 'PUSH_TAG_EXPRESSION_INVALID') {
          assert.ok(typeof position === 'number' && position >= 0 && position <= source.length, JSON.stringify(source));
        }
      }
    }
    assert.deepEqual([...codes], ['PUSH_TAG_EXPRESSION_INVALID']);
    assert.ok(parsed > 100, `only ${parsed} parsed`);
  });

  it('templates: 20,000 random bodies and headers compile and render, or fail with a template code', () => {
    const next = random(0xbeef);
    const pieces = [
      '$(',
      '#(',
      '.(',
      '%(',
      ')',
      'name',
      ', 3',
      ',',
      '+',
      "'",
      '"',
      '{',
      '}',
      ' ',
      'x',
      '\\\\',
      '<',
      '>',
    ];
    const properties = toProperties({ name: 'Ann "the" <b>', n: 5 });
    let rendered = 0;
    for (let i = 0; i < 20_000; i++) {
      const value = text(next, pieces, 16);
      for (const body of [JSON.stringify({ v: value }), `<t>${value}</t>`]) {
        try {
          const out = compileTemplate(body, 't').render(properties);
          if (body.startsWith('{')) JSON.parse(out);
          rendered++;
        } catch (err) {
          assert.ok(isPushError(err), `${JSON.stringify(body)} threw ${String(err)}`);
          assert.ok(err.code === 'PUSH_TEMPLATE_SYNTAX' || err.code === 'PUSH_TEMPLATE_INVALID_BODY', err.code);
        }
      }
      try {
        compileHeaders({ h: value }, 't')(properties);
      } catch (err) {
        assert.ok(isPushError(err, 'PUSH_TEMPLATE_SYNTAX'), String(err));
      }
    }
    assert.ok(rendered > 1_000, `only ${rendered} rendered`);
  });
});
