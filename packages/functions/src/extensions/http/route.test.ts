import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareRoutes, compileRoute, RouteError } from './route.ts';

describe('compileRoute', () => {
  const cases: [string, string, Record<string, string> | undefined][] = [
    ['orders', '/orders', {}],
    ['orders', '/ORDERS/', {}],
    ['orders/{id}', '/orders/7', { id: '7' }],
    ['orders/{id}', '/orders', undefined],
    ['orders/{id?}', '/orders', {}],
    ['orders/{id:int}', '/orders/x', undefined],
    ['orders/{id:int}', '/orders/-3', { id: '-3' }],
    [
      'orders/{id:guid}',
      '/orders/0f8fad5b-d9cb-469f-a165-70867728950e',
      { id: '0f8fad5b-d9cb-469f-a165-70867728950e' },
    ],
    ['files/{*rest}', '/files/a/b', { rest: 'a/b' }],
    ['files/{*rest}', '/files', {}],
    ['img/{name}.{ext}', '/img/cat.png', { name: 'cat', ext: 'png' }],
    ['say/{word}', '/say/hello%20there', { word: 'hello there' }],
    ['', '/', {}],
  ];
  for (const [template, path, params] of cases) {
    it(`${template} ${params ? 'matches' : 'does not match'} ${path}`, () => {
      assert.deepEqual(compileRoute(template).match(path), params);
    });
  }

  it('rejects malformed templates', () => {
    for (const bad of ['a/{', 'a/{id}/{id}', 'a/{*rest}/b', 'a/{id?}/b', 'a//b', 'a/{id:nope}', 'a/{1x}']) {
      assert.throws(() => compileRoute(bad), RouteError, bad);
    }
  });

  it('orders literals before constraints before parameters before catch-alls', () => {
    const routes = ['items/{*rest}', 'items/{name}', 'items/{id:int}', 'items/new']
      .map(compileRoute)
      .sort(compareRoutes);
    assert.deepEqual(
      routes.map((r) => r.template),
      ['items/new', 'items/{id:int}', 'items/{name}', 'items/{*rest}'],
    );
  });
});
