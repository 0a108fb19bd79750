/**
 * The cluster's front: round robin over the application nodes, a node refusing connections is
 * skipped (and kept out for a while), and a request that failed mid-flight is repeated on the next
 * node only when that is safe — GET, or POST with an Idempotency-Key; any other POST answers 502.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createFront, type Front } from '../front.ts';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A node answering its name and what it got; one that `dies` drops every request mid-flight. */
function node(name: string, seen: string[], dies = false): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push(`${name} ${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`);
      if (dies) req.socket.destroy();
      else res.writeHead(200, { 'content-type': 'text/plain' }).end(name);
    });
  });
}

describe('the front', () => {
  const seen: string[] = [];
  const servers: Server[] = [];
  const fronts: Front[] = [];
  let refused: string;

  before(async () => {
    // A port nothing listens on: a node that is gone.
    const gone = createServer();
    refused = await listen(gone);
    await new Promise((resolve) => gone.close(resolve));
  });

  after(async () => {
    await Promise.all(fronts.map((f) => f.close()));
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  async function frontOf(targets: string[], downMs?: number): Promise<string> {
    const front = createFront(targets, downMs === undefined ? {} : { downMs });
    fronts.push(front);
    return listen(front.server);
  }

  async function up(name: string, dies = false): Promise<string> {
    const server = node(name, seen, dies);
    servers.push(server);
    return listen(server);
  }

  it('goes round robin and skips a node that refuses', async () => {
    const a = await up('a');
    const b = await up('b');
    const url = await frontOf([a, b]);
    const names = [];
    for (let i = 0; i < 4; i++) names.push(await (await fetch(`${url}/x`)).text());
    assert.deepEqual(names.sort(), ['a', 'a', 'b', 'b']);

    const skip = await frontOf([refused, a], 60_000);
    for (let i = 0; i < 4; i++)
      assert.equal(await (await fetch(`${skip}/y`, { method: 'POST', body: 'p' })).text(), 'a');
  });

  it('answers 502 when no node answers', async () => {
    const url = await frontOf([refused]);
    const res = await fetch(`${url}/z`);
    assert.equal(res.status, 502);
    assert.match(await res.text(), /No application node answered/);
  });

  it('repeats a request that failed mid-flight only when it is safe to', async () => {
    const dead = await up('dead', true);
    const live = await up('live');
    // The dying node first every time: downMs 0 puts it back at once.
    const url = await frontOf([dead, live], 0);
    const first = async (init: RequestInit, path: string) => {
      // Round robin: go until the request reached the dying node first.
      for (;;) {
        seen.length = 0;
        const res = await fetch(`${url}${path}`, init);
        const text = await res.text();
        if (seen[0]?.startsWith('dead')) return { status: res.status, text, seen: [...seen] };
      }
    };

    const get = await first({}, '/get');
    assert.equal(get.status, 200);
    assert.equal(get.text, 'live');

    const keyed = await first({ method: 'POST', body: 'order', headers: { 'idempotency-key': 'key-12345678' } }, '/k');
    assert.equal(keyed.status, 200);
    assert.deepEqual(keyed.seen, ['dead POST /k order', 'live POST /k order']);

    const plain = await first({ method: 'POST', body: 'once' }, '/p');
    assert.equal(plain.status, 502);
    assert.match(plain.text, /failed mid-request/);
    assert.deepEqual(plain.seen, ['dead POST /p once'], 'a POST without a key is not repeated');
  });
});
