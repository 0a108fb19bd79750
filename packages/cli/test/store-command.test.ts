/** `hubbub store` as a user runs it: serves the store alone behind its key, then looks into it. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@hubbub/kernel';
import { signRequest } from '@hubbub/system';
import { hubbub, ran } from '@hubbub/test-kit';

const data = mkdtempSync(join(tmpdir(), 'hubbub-store-cli-'));
const url = `pglite://${join(data, 'store')}`;
after(() => rmSync(data, { recursive: true, force: true }));

/** A signed call to the store API (Cosmos DB master-key signature). */
async function call(
  base: string,
  key: string,
  method: string,
  link: string,
  type: string,
  path: string,
  body?: unknown,
) {
  const date = new Date().toUTCString();
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      'x-ms-date': date,
      authorization: signRequest(key, { verb: method, resourceType: type, resourceLink: link, date }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(type === 'docs' && method === 'POST'
        ? { 'x-ms-documentdb-partitionkey': JSON.stringify([(body as { id: string }).id]) }
        : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return res.status;
}

describe('hubbub store', () => {
  it('serves the store alone with a generated key; other commands wait for the directory', async () => {
    const run = hubbub(['store', '--port', '0', '--data', data, '--url', url]);
    try {
      const base = await waitFor(() => /"listening":"([^"]+)"/.exec(run.stdout())?.[1], {
        timeoutMs: 30_000,
        what: 'the listening line',
      });
      const key = await waitFor(() => /Store key: (\S+)/.exec(run.stdout())?.[1], { what: 'the key' });
      assert.match(base, /^http:\/\/127\.0\.0\.1:\d+\/store$/);
      assert.equal((await fetch(`${base}/dbs`)).status, 401, 'unsigned requests are refused');
      assert.equal(await call(base, key, 'POST', '', 'dbs', '/dbs', { id: 'shop' }), 201);
      assert.equal(
        await call(base, key, 'POST', 'dbs/shop', 'colls', '/dbs/shop/colls', {
          id: 'orders',
          partitionKey: { paths: ['/id'] },
        }),
        201,
      );
      for (const [id, n] of [
        ['o1', 1],
        ['o2', 2],
        ['o3', 3],
      ] as const) {
        assert.equal(
          await call(base, key, 'POST', 'dbs/shop/colls/orders', 'docs', '/dbs/shop/colls/orders/docs', { id, n }),
          201,
        );
      }
      const locked = await ran(hubbub(['store', 'databases', '--url', url]));
      assert.equal(locked.code, 1);
      assert.match(locked.stderr, /STORE_DIR_LOCKED/);
      // Through the running server instead, signed with the key it keeps in <data>/keys.json.
      const through = ['--endpoint', base, '--data', data];
      const listed = await ran(hubbub(['store', 'databases', ...through]));
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual(JSON.parse(listed.stdout), {
        databases: [{ id: 'shop', containers: [{ id: 'orders', partitionKey: '/id', items: 3 }] }],
      });
      const query = await ran(
        hubbub([
          'store',
          'query',
          'shop',
          'orders',
          'SELECT VALUE c.id FROM c WHERE c.n >= @min ORDER BY c.n',
          '--param',
          '@min=2',
          ...through,
        ]),
      );
      assert.deepEqual(JSON.parse(query.stdout), ['o2', 'o3'], query.stderr);
      const read = await ran(hubbub(['store', 'read', 'shop', 'orders', 'o1', ...through]));
      assert.equal(JSON.parse(read.stdout).n, 1, read.stderr);
      const missing = await ran(hubbub(['store', 'read', 'shop', 'orders', 'nope', ...through]));
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no item 'nope'/);
      const wrongKey = await ran(
        hubbub(['store', 'databases', '--endpoint', base, '--key', Buffer.alloc(32, 1).toString('base64')]),
      );
      assert.equal(wrongKey.code, 1);
      assert.match(wrongKey.stderr, /401|UNAUTHORIZED/);
    } finally {
      run.child.kill('SIGINT');
    }
    assert.equal(await run.exited, 0);
  });

  it('lists databases and containers with item counts, queries with parameters, reads one item', async () => {
    const listed = await ran(hubbub(['store', 'databases', '--url', url]));
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout), {
      databases: [{ id: 'shop', containers: [{ id: 'orders', partitionKey: '/id', items: 3 }] }],
    });
    const query = await ran(
      hubbub([
        'store',
        'query',
        'shop',
        'orders',
        'SELECT VALUE c.id FROM c WHERE c.n >= @min ORDER BY c.n',
        '--param',
        '@min=2',
        '--url',
        url,
      ]),
    );
    assert.equal(query.code, 0, query.stderr);
    assert.deepEqual(JSON.parse(query.stdout), ['o2', 'o3']);
    const read = await ran(hubbub(['store', 'read', 'shop', 'orders', 'o1', '--url', url]));
    assert.equal(read.code, 0, read.stderr);
    assert.equal(JSON.parse(read.stdout).n, 1);
    const missing = await ran(hubbub(['store', 'read', 'shop', 'orders', 'nope', '--url', url]));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no item 'nope'/);
    const bad = await ran(hubbub(['store', 'query', 'shop', 'orders', 'SELECT FROM', '--url', url]));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /\[STORE_/);
  });

  it('refuses bad usage with coded errors', async () => {
    const cases: [string[], RegExp][] = [
      [['store', 'query', 'shop'], /CLI_USAGE/],
      [['store', 'frob'], /CLI_USAGE/],
      [['store', 'databases', '--url', 'mongodb://x'], /KERNEL_INVALID_OPTION/],
      [['store', 'query', 'a', 'b', 'SELECT * FROM c', '--param', 'min=1', '--url', 'memory://'], /CLI_USAGE/],
      [['store', '--host', '0.0.0.0', '--port', '0', '--url', 'memory://'], /CLI_USAGE/],
      [['store', 'databases', '--endpoint', 'ftp://x'], /CLI_USAGE/],
      [
        ['store', 'databases', '--endpoint', 'http://127.0.0.1:9/store', '--key', Buffer.alloc(32).toString('base64')],
        /CLI_STORE_UNREACHABLE/,
      ],
    ];
    for (const [args, expected] of cases) {
      const r = await ran(hubbub(args));
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, expected, args.join(' '));
    }
  });
});

describe('hubbub functions with a cosmosDB app', () => {
  it('gives the app a store (memory:// by default, --store URL to keep it) and says where its API is', async () => {
    const app = fileURLToPath(new URL('../../functions/test/fixtures/cosmos-app', import.meta.url));
    const keep = `pglite://${join(data, 'functions-store')}`;
    const run = hubbub(['functions', app, '--port', '0', '--log-level', 'warn', '--data', data, '--store', keep], {
      CosmosDBConnection: 'AccountEndpoint=https://localhost:8081/;AccountKey=a2V5;',
    });
    try {
      const base = await waitFor(() => /Store: +(http:\/\/\S+)\/store/.exec(run.stdout())?.[1], {
        timeoutMs: 30_000,
        what: `the store line (stderr: ${run.stderr()})`,
      });
      assert.match(run.stdout(), /pglite:\/\//);
      const posted = await fetch(`${base}/api/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'kept', n: 7 }),
      });
      assert.equal(posted.status, 201);
      assert.equal(((await (await fetch(`${base}/api/orders/kept`)).json()) as { n: number }).n, 7);
    } finally {
      run.child.kill('SIGINT');
    }
    assert.equal(await run.exited, 0);
    const read = await ran(hubbub(['store', 'read', 'shop', 'orders', 'kept', '--url', keep]));
    assert.equal(JSON.parse(read.stdout).n, 7, read.stderr);
    const bad = await ran(hubbub(['functions', app, '--store', 'mongodb://x']));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /CLI_USAGE/);
  });
});
