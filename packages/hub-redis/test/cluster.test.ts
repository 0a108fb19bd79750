/**
 * Serverless hub nodes on one Redis, reached by the official @microsoft/signalr client and by the
 * REST API as the Functions bindings call it: what any node is asked applies to the connections of
 * every node.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { createClientAccess, createServerToken, createSignalRService, type SignalRService } from '@hubbub/hub';
import { waitFor } from '@hubbub/kernel';
import * as signalR from '@microsoft/signalr';
import { createRedisBackplane, type RedisBackplane } from '../src/index.ts';
import { deleteKeys, freshPrefix, REDIS_URL, redisMissing } from './redis-under-test.ts';

const missing = await redisMissing();
const KEY = 'cluster-test-access-key-0123456789abcdefghij';
/** The origin every node's connection string names (a load balancer's, say): tokens for it are valid on any node. */
const FRONT = 'http://front.invalid';

interface Node {
  readonly service: SignalRService;
  readonly backplane: RedisBackplane;
  readonly url: string;
}

describe('hub nodes on Redis', { skip: missing }, () => {
  const prefix = freshPrefix();
  const nodes: Node[] = [];
  const clients: signalR.HubConnection[] = [];

  async function startNode(): Promise<Node> {
    const backplane = createRedisBackplane({ url: REDIS_URL, prefix, heartbeatMs: 200, nodeTtlMs: 1_000 });
    await backplane.start();
    const service = createSignalRService({
      connectionString: `Endpoint=${FRONT};AccessKey=${KEY};Version=1.0;`,
      hubServer: { backplane },
    });
    const { url } = await service.listen();
    await service.start();
    const node = { service, backplane, url };
    nodes.push(node);
    return node;
  }

  /** A client that negotiates at `node` with a token made for `aud` (the front, or the node itself). */
  async function connect(
    node: Node,
    userId: string,
    aud = node.url,
    stateful = false,
  ): Promise<signalR.HubConnection & { seen: unknown[] }> {
    const { accessToken } = await createClientAccess({ endpoint: aud, accessKey: KEY, hub: 'chat', userId });
    const builder = new signalR.HubConnectionBuilder()
      .withUrl(`${node.url}/client/?hub=chat`, { accessTokenFactory: () => accessToken })
      .configureLogging(signalR.LogLevel.None);
    const connection = (stateful ? builder.withStatefulReconnect() : builder).build() as signalR.HubConnection & {
      seen: unknown[];
    };
    connection.seen = [];
    connection.on('notify', (value: unknown) => connection.seen.push(value));
    await connection.start();
    clients.push(connection);
    return connection;
  }

  /** A REST call to `node`, as the Functions SignalR output binding makes it. */
  async function rest(node: Node, method: string, path: string, body?: unknown): Promise<number> {
    const url = `${node.url}/api/hubs/chat${path}${path.includes('?') ? '&' : '?'}api-version=2022-06-01`;
    const token = await createServerToken({ audience: url, accessKey: KEY });
    const response = await fetch(url, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    await response.arrayBuffer();
    return response.status;
  }
  const notify = (value: unknown) => ({ target: 'notify', arguments: [value] });

  before(async () => {
    await startNode();
    await startNode();
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    for (const node of nodes) {
      await node.service.close();
      await node.backplane.close();
    }
    await deleteKeys(prefix);
  });

  it('sends to all, a user, a connection and a group, with exclusions, reach clients on every node', async () => {
    const [a, b] = [nodes[0]!, nodes[1]!];
    const onA = await connect(a, 'ann');
    const onB = await connect(b, 'bob');
    assert.equal(await rest(a, 'POST', '/:send', notify('all')), 202);
    await waitFor(() => onA.seen.includes('all') && onB.seen.includes('all'));
    assert.equal(await rest(a, 'POST', '/users/bob/:send', notify('to-bob')), 202);
    assert.equal(await rest(b, 'POST', `/connections/${onA.connectionId}/:send`, notify('to-ann-conn')), 202);
    await waitFor(() => onB.seen.includes('to-bob') && onA.seen.includes('to-ann-conn'));
    // Group membership made on A for a connection that lives on B.
    assert.equal(await rest(a, 'PUT', `/groups/g1/connections/${onB.connectionId}`), 200);
    assert.equal(await rest(a, 'PUT', `/groups/g1/connections/${onA.connectionId}`), 200);
    assert.equal(await rest(b, 'POST', `/groups/g1/:send?excluded=${onA.connectionId}`, notify('g1-not-ann')), 202);
    assert.equal(await rest(a, 'POST', `/:send?excluded=${onB.connectionId}`, notify('all-but-bob')), 202);
    await waitFor(() => onB.seen.includes('g1-not-ann') && onA.seen.includes('all-but-bob'));
    assert.equal(onA.seen.includes('g1-not-ann'), false);
    assert.equal(onB.seen.includes('all-but-bob'), false);
    assert.equal(onA.seen.includes('to-bob'), false);
  });

  it('presence checks answer for the whole cluster, and closing works from any node', async () => {
    const [a, b] = [nodes[0]!, nodes[1]!];
    const carl = await connect(b, 'carl');
    assert.equal(await rest(a, 'PUT', `/groups/g2/connections/${carl.connectionId}`), 200);
    await waitFor(async () => (await rest(a, 'HEAD', '/groups/g2')) === 200, { intervalMs: 25 });
    assert.equal(await rest(a, 'HEAD', `/connections/${carl.connectionId}`), 200);
    assert.equal(await rest(a, 'HEAD', '/users/carl'), 200);
    assert.equal(await rest(a, 'HEAD', '/users/carl/groups/g2'), 200);
    assert.equal(await rest(a, 'HEAD', '/users/nobody'), 404);
    assert.equal(await rest(a, 'PUT', '/groups/g2/connections/no-such-connection'), 404);
    const closed = new Promise<void>((resolve) => carl.onclose(() => resolve()));
    assert.equal(await rest(a, 'DELETE', `/connections/${carl.connectionId}?reason=bye`), 200);
    await closed;
    await waitFor(async () => (await rest(a, 'HEAD', '/users/carl')) === 404, { intervalMs: 25 });
    assert.equal(await rest(b, 'HEAD', `/connections/${carl.connectionId}`), 404);
    assert.equal(await rest(b, 'HEAD', '/groups/g2'), 404);
  });

  it("a user's group grant made on one node applies on a node started after it", async () => {
    const a = nodes[0]!;
    assert.equal(await rest(a, 'PUT', '/users/dana/groups/g3'), 200);
    const c = await startNode();
    const dana = await connect(c, 'dana');
    await waitFor(async () => (await rest(a, 'HEAD', '/groups/g3')) === 200, { intervalMs: 25 });
    assert.equal(await rest(a, 'POST', '/groups/g3/:send', notify('g3')), 202);
    await waitFor(() => dana.seen.includes('g3'));
    assert.equal(await rest(a, 'DELETE', '/users/dana/groups/g3'), 204);
    await waitFor(async () => (await rest(c, 'HEAD', '/groups/g3')) === 404, { intervalMs: 25 });
  });

  it("a connection that joins its user's granted groups on connect is in them for every node", async () => {
    const [a, b] = [nodes[0]!, nodes[1]!];
    assert.equal(await rest(a, 'PUT', '/users/eve/groups/g4'), 200);
    await connect(b, 'eve'); // b holds the grant already (it applied the announcement)
    await waitFor(async () => (await rest(a, 'HEAD', '/groups/g4')) === 200, { intervalMs: 25 });
    assert.equal(await rest(a, 'HEAD', '/users/eve/groups/g4'), 200);
  });

  it('a stateful client whose socket drops resumes on its node with nothing lost of what another node sent', async () => {
    const [a, b] = [nodes[0]!, nodes[1]!];
    const fay = await connect(b, 'fay', b.url, true);
    const id = fay.connectionId!;
    const held = b.service.hubServer.findHub('chat')!.connection(id)!;
    assert.equal(held.isStateful, true);
    const sender = a.service.hub('chat');
    for (let i = 1; i <= 20; i++) await sender.clients.user('fay').send('notify', i);
    await waitFor(() => fay.seen.length >= 5, { intervalMs: 10 });
    const dropped = held.transport;
    (dropped as unknown as { terminate(): void }).terminate(); // the socket drops; the node lives
    for (let i = 21; i <= 40; i++) await sender.clients.user('fay').send('notify', i);
    await waitFor(() => fay.seen.length >= 40, { timeoutMs: 15_000, intervalMs: 20 });
    assert.deepEqual(
      fay.seen,
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    assert.equal(fay.connectionId, id, 'the same connection, resumed');
    assert.notEqual(held.transport, dropped, 'on a new socket');
  });

  it('negotiate spreads clients over the nodes by redirect; the official client follows it', async () => {
    const counts = () => nodes.map((n) => [...n.service.hubServer.findHub('chat')!.connections()].length);
    const before = counts();
    const front = nodes[0]!;
    for (let i = 0; i < 9; i++) await connect(front, `spread-${i}`, FRONT);
    const added = counts().map((n, i) => n - before[i]!);
    assert.equal(
      added.reduce((x, y) => x + y, 0),
      9,
    );
    const total = counts();
    assert.ok(Math.max(...total) - Math.min(...total) <= 3, `connections per node ${total.join(', ')}`);
    assert.ok(
      added.slice(1).some((n) => n > 0),
      `clients negotiated at node 0 went elsewhere too: ${added.join(', ')}`,
    );
  });

  it('a node killed with -9 is removed with its connections once its heartbeat runs out', async () => {
    const a = nodes[0]!;
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', new URL('./fixtures/hub-node.ts', import.meta.url).pathname],
      {
        env: { ...process.env, REDIS_URL, PREFIX: prefix, KEY, FRONT, HEARTBEAT_MS: '200', NODE_TTL_MS: '1000' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
        });
        child.once('exit', (code) => reject(new Error(`the hub node exited (${code}) before listening`)));
      });
      const victim = JSON.parse(line) as { url: string; nodeId: string };
      const erin = await connect({ ...a, url: victim.url }, 'erin');
      erin.onclose(() => {});
      await waitFor(async () => (await rest(a, 'HEAD', '/users/erin')) === 200, { intervalMs: 25 });
      child.kill('SIGKILL');
      await waitFor(async () => (await rest(a, 'HEAD', '/users/erin')) === 404, { timeoutMs: 15_000, intervalMs: 50 });
      assert.equal(
        (await a.backplane.presence.nodes()).some((n) => n.id === victim.nodeId),
        false,
      );
    } finally {
      child.kill('SIGKILL');
    }
  });
});
