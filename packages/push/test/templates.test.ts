import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileHeaders, compileTemplate, toProperties } from '../src/templates.ts';

const render = (body: string, props: Record<string, string | number | boolean>) =>
  compileTemplate(body, 't').render(toProperties(props));

function error(fn: () => unknown): { code: string; detail: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    return err as { code: string; detail: Record<string, unknown> };
  }
  assert.fail('expected a throw');
}

describe('template expressions', () => {
  it('$(prop): the value, case-insensitive, empty when absent, clipped to n', () => {
    assert.equal(render('{"a":"$(Message)","b":"$(missing)"}', { message: 'hi' }), '{"a":"hi","b":""}');
    assert.equal(render('{"a":"$(msg, 3)"}', { MSG: 'abcdef' }), '{"a":"abc"}');
  });

  it('#(prop): a JSON number when the whole value is one, text otherwise', () => {
    assert.equal(render('{"badge":"#(n)"}', { n: 40 }), '{"badge":40}');
    assert.equal(render('{"badge":"#(n)"}', { n: '-1.5e3' }), '{"badge":-1500}');
    assert.equal(render('{"badge":"#(n)"}', { n: 'forty' }), '{"badge":"forty"}');
    assert.equal(render('{"badge":"#(n)"}', { n: '012' }), '{"badge":"012"}');
    assert.equal(render('{"badge":"#(n)"}', {}), '{"badge":""}');
  });

  it('.(prop, n): cut to n characters ending in ...', () => {
    assert.equal(render('{"a":".(m, 8)"}', { m: 'Hello, world' }), '{"a":"Hello..."}');
    assert.equal(render('{"a":".(m, 8)"}', { m: 'Hello' }), '{"a":"Hello"}');
    assert.equal(render('{"a":".(m)"}', { m: 'Hello' }), '{"a":"Hello"}');
  });

  it('%(prop): URI-encoded', () => {
    assert.equal(render('{"url":"https://x/?q=%(q)"}', { q: 'a b&c' }), '{"url":"https://x/?q=a%20b%26c"}');
  });

  it('{…}: literals and expressions concatenated with +', () => {
    assert.equal(render(`{"a":"{'Hi, ' + $(name) + \\"!\\"}"}`, { name: 'Ann' }), '{"a":"Hi, Ann!"}');
    assert.equal(render(`{"a":"{ 'x'+'y' }"}`, {}), '{"a":"xy"}');
  });

  it('renders nested objects and arrays, keeps other values, and escapes what it inserts', () => {
    const body = '{"aps":{"alert":{"title":"$(t)"},"badge":"#(b)"},"list":["$(t)",1,true,null],"k":"plain"}';
    assert.deepEqual(JSON.parse(render(body, { t: 'say "hi"\n', b: 3 })), {
      aps: { alert: { title: 'say "hi"\n' }, badge: 3 },
      list: ['say "hi"\n', 1, true, null],
      k: 'plain',
    });
  });

  it('a body without expressions renders as itself', () => {
    const t = compileTemplate('{ "a" : 1 }', 't');
    assert.equal(t.constant, true);
    assert.equal(t.render(new Map()), '{ "a" : 1 }');
  });

  it('XML bodies get expressions in the text, the values XML-escaped', () => {
    assert.equal(
      render('<toast><text id="1">$(m)</text></toast>', { m: '<b>&"' }),
      '<toast><text id="1">&lt;b&gt;&amp;&quot;</text></toast>',
    );
  });

  it('headers are rendered too', () => {
    const headers = compileHeaders({ 'apns-push-type': 'alert', 'apns-collapse-id': '$(c)' }, 't');
    assert.deepEqual(headers(toProperties({ c: 'x1' })), { 'apns-push-type': 'alert', 'apns-collapse-id': 'x1' });
    assert.equal(compileHeaders(undefined, 't')(new Map()), undefined);
  });
});

describe('template errors', () => {
  it('a body that is not JSON or XML is PUSH_TEMPLATE_INVALID_BODY', () => {
    for (const body of ['not json', '{"a":', '', 42, undefined]) {
      const err = error(() => compileTemplate(body, 'greeting'));
      assert.equal(err.code, 'PUSH_TEMPLATE_INVALID_BODY', String(body));
      assert.equal(err.detail.template, 'greeting');
    }
    assert.equal(error(() => compileHeaders(['x'], 't')).code, 'PUSH_TEMPLATE_INVALID_BODY');
    assert.equal(error(() => compileTemplate(`{"a":"${'x'.repeat(16_384)}"}`, 't')).code, 'PUSH_TEMPLATE_INVALID_BODY');
    assert.equal(compileTemplate(`{"a":"${'x'.repeat(16_370)}"}`, 't').constant, true);
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`h${i}`, 'v']));
    assert.equal(error(() => compileHeaders(many, 't')).code, 'PUSH_TEMPLATE_INVALID_BODY');
    assert.equal(error(() => compileHeaders({ h: 'v'.repeat(1_025) }, 't')).code, 'PUSH_TEMPLATE_INVALID_BODY');
    assert.equal(error(() => compileHeaders({ a: 1 }, 't')).code, 'PUSH_TEMPLATE_INVALID_BODY');
  });

  it('a malformed expression is PUSH_TEMPLATE_SYNTAX with its position', () => {
    const cases: Array<[string, number]> = [
      ['$(name', 0],
      ['x $()', 2],
      ['$(a, b)', 0],
      ['$(a, 1, 2)', 0],
      ['#(a, 3)', 0],
      ["{'Hi ' + }", 9],
      ["{'Hi ' $(a)}", 7],
      ["{'Hi }", 1],
      ['{name}', 1],
      ['{}', 1],
    ];
    for (const [value, position] of cases) {
      const err = error(() => compileTemplate(JSON.stringify({ v: value }), 'tpl'));
      assert.equal(err.code, 'PUSH_TEMPLATE_SYNTAX', value);
      assert.equal(err.detail.position, position, value);
      assert.equal(err.detail.template, 'tpl');
    }
    assert.equal(error(() => compileHeaders({ h: '$(x' }, 't')).code, 'PUSH_TEMPLATE_SYNTAX');
  });
});
