import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Bus, createBusHttpHandler, createSasToken, openBus } from '@hubbub/bus';
import { waitFor } from '@hubbub/kernel';
import { ran, hubbub as run } from '@hubbub/test-kit';
import type { Command } from '../src/command.ts';

const root = new URL('../../../', import.meta.url).pathname;

/** `hubbub …` run to the end from the repository root, with no bus configured in the environment. */
const hubbub = (args: string[], env: Record<string, string> = {}) =>
  ran(run(args, { HUBBUB_BUS_URL: '', HUBBUB_BUS_KEY: '', ...env }, root));

const lines = (out: string): Array<Record<string, unknown>> =>
  out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const KEY = { name: 'cli', key: 'cli-secret' };

describe('bus CLI commands against the HTTP API', () => {
  let bus: Bus;
  let server: Server;
  let url: string;

  before(async () => {
    bus = await openBus({
      url: 'memory://',
      entities: {
        queues: [
          { name: 'orders' },
          { name: 'fragile', maxDeliveryCount: 1 },
          { name: 'dedupe', requiresDuplicateDetection: true },
        ],
        topics: [{ name: 'events', subscriptions: [{ name: 'all' }] }],
      },
    });
    const handler = createBusHttpHandler(bus, { basePath: '/bus', keys: [KEY] });
    server = createServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bus`;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await bus.close();
  });

  const auth = (): string[] => ['--url', url, '--key', `${KEY.name}=${KEY.key}`];

  it('send: the seeds’ test message (body, label driveby, application/json, properties), then peek and receive', async () => {
    const body = { orderid: 1, storeid: 7, lat: 47.6, longitude: -122.3 };
    const sent = await hubbub([
      'send',
      'orders',
      JSON.stringify(body),
      '--label',
      'driveby',
      '--content-type',
      'application/json',
      '--property',
      'storeid=7',
      '--property',
      'vip=true',
      '--property',
      'code="007"',
      '--message-id',
      'order-1',
      ...auth(),
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.deepEqual(lines(sent.stdout), [{ entity: 'orders', sent: 1 }]);

    const peeked = await hubbub(['peek', 'orders', ...auth()]);
    assert.equal(peeked.code, 0, peeked.stderr);
    const [p] = lines(peeked.stdout);
    assert.deepEqual(p?.body, body);
    assert.equal(p?.subject, 'driveby');
    assert.equal(p?.messageId, 'order-1');
    assert.equal(p?.contentType, 'application/json');
    assert.deepEqual(p?.applicationProperties, { storeid: 7, vip: true, code: '007' });

    const kept = await hubbub(['receive', 'orders', '--peek-lock', '--abandon', ...auth()]);
    assert.equal(kept.code, 0, kept.stderr);
    assert.equal(lines(kept.stdout)[0]?.deliveryCount, 0);

    const got = await hubbub(['receive', 'orders', '--count', '5', '--timeout', '1', ...auth()]);
    assert.equal(got.code, 0, got.stderr);
    const received = lines(got.stdout);
    assert.equal(received.length, 1);
    assert.deepEqual(received[0]?.body, body);
    assert.equal(received[0]?.deliveryCount, 1);
    assert.deepEqual(received[0]?.applicationProperties, { storeid: 7, vip: true, code: '007' });

    const empty = await hubbub(['receive', 'orders', '--timeout', '0', ...auth()]);
    assert.equal(empty.code, 0);
    assert.equal(empty.stdout, '');
    assert.match(empty.stderr, /no messages in orders/);
  });

  it('send: text and default content types; receive --peek-lock completes', async () => {
    const sent = await hubbub(['send', 'orders', 'plain words', '--subject', 'note', '--ttl', '60', ...auth()]);
    assert.equal(sent.code, 0, sent.stderr);
    const got = await hubbub(['receive', 'orders', '--peek-lock', '--timeout', '1', ...auth()]);
    const [m] = lines(got.stdout);
    assert.equal(m?.body, 'plain words');
    assert.equal(m?.contentType, 'text/plain');
    assert.equal(m?.subject, 'note');
    assert.equal((await bus.admin.getRuntimeProperties('orders')).totalMessageCount, 0);
  });

  it('send to a topic reaches its subscriptions', async () => {
    assert.equal((await hubbub(['send', 'events', '{"a":1}', ...auth()])).code, 0);
    const got = await hubbub(['receive', 'events/subscriptions/all', '--timeout', '1', ...auth()]);
    assert.deepEqual(lines(got.stdout)[0]?.body, { a: 1 });
  });

  it('peek on a topic shows the messages of each subscription; an empty peek or dlq list says so', async () => {
    assert.equal((await hubbub(['send', 'events', '{"b":2}', ...auth()])).code, 0);
    const peeked = await hubbub(['peek', 'events', ...auth()]);
    assert.equal(peeked.code, 0, peeked.stderr);
    assert.deepEqual(
      lines(peeked.stdout).map((m) => [m.entity, m.body]),
      [['events/subscriptions/all', { b: 2 }]],
    );
    await hubbub(['receive', 'events/subscriptions/all', '--timeout', '1', ...auth()]);
    const empty = await hubbub(['peek', 'events', ...auth()]);
    assert.equal(empty.code, 0);
    assert.equal(empty.stdout, '');
    assert.match(empty.stderr, /^no messages in events\/subscriptions\/all\n$/);
    const none = await hubbub(['dlq', 'list', 'dedupe', ...auth()]);
    assert.equal(none.code, 0);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /^no dead-lettered messages in dedupe\/\$DeadLetterQueue\n$/);
  });

  it('dlq: list shows dead-lettered messages with their reason, resubmit moves them back', async () => {
    await bus.createSender('fragile').send([
      { body: 'one', messageId: 'f1' },
      { body: 'two', messageId: 'f2' },
    ]);
    const receiver = bus.createReceiver('fragile');
    for (const m of await receiver.receiveMessages(2, { maxWaitTimeMs: 0 })) {
      await m.deadLetter({ reason: 'Broken', errorDescription: 'cannot parse' });
    }
    await receiver.close();

    const listed = await hubbub(['dlq', 'list', 'fragile', ...auth()]);
    assert.equal(listed.code, 0, listed.stderr);
    const dead = lines(listed.stdout);
    assert.deepEqual(
      dead.map((m) => [m.body, m.deadLetterReason, m.deadLetterErrorDescription]),
      [
        ['one', 'Broken', 'cannot parse'],
        ['two', 'Broken', 'cannot parse'],
      ],
    );

    const one = await hubbub(['dlq', 'resubmit', 'fragile', ...auth()]);
    assert.equal(one.code, 0, one.stderr);
    assert.deepEqual(lines(one.stdout), [{ resubmitted: 1, from: 'fragile/$DeadLetterQueue', to: 'fragile' }]);
    const rest = await hubbub(['dlq', 'resubmit', 'fragile/$DeadLetterQueue', '--all', ...auth()]);
    assert.deepEqual(lines(rest.stdout), [{ resubmitted: 1, from: 'fragile/$DeadLetterQueue', to: 'fragile' }]);

    const back = await bus.createReceiver('fragile').peekMessages(10);
    assert.deepEqual(
      back.map((m) => [m.body, m.messageId, m.deadLetterReason]),
      [
        ['one', 'f1', undefined],
        ['two', 'f2', undefined],
      ],
    );
    assert.equal(
      (await bus.admin.getRuntimeProperties({ queue: 'fragile', subQueue: 'deadLetter' })).totalMessageCount,
      0,
    );
    const none = await hubbub(['dlq', 'resubmit', 'fragile', '--all', ...auth()]);
    assert.deepEqual(lines(none.stdout), [{ resubmitted: 0, from: 'fragile/$DeadLetterQueue', to: 'fragile' }]);
  });

  it('reports API errors with their code and exit code 1', async () => {
    const [missing, unauthorized, badKey] = await Promise.all([
      hubbub(['send', 'nope', 'x', ...auth()]),
      hubbub(['send', 'orders', 'x', '--url', url]),
      hubbub(['peek', 'orders', '--url', url, '--key', `${KEY.name}=wrong`]),
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\[BUS_ENTITY_NOT_FOUND\]/);
    assert.equal(unauthorized.code, 1);
    assert.match(unauthorized.stderr, /\[BUS_UNAUTHORIZED\]/);
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /\[BUS_UNAUTHORIZED\]/);
  });

  it('reads the URL and key from the environment', async () => {
    const run = await hubbub(['peek', 'orders'], { HUBBUB_BUS_URL: url, HUBBUB_BUS_KEY: `${KEY.name}=${KEY.key}` });
    assert.equal(run.code, 0, run.stderr);
  });
});

describe('bus CLI commands: usage errors, direct file:// access, and `hubbub bus`', () => {
  it('rejects bad usage with CLI_USAGE before touching the bus', async () => {
    const cases: string[][] = [
      ['send'],
      ['send', 'q', 'a', 'b'],
      ['send', 'q', 'x', '--property', 'novalue'],
      ['send', 'q', 'x', '--ttl', '0'],
      ['send', 'q', 'x', '--subject', 'a', '--label', 'b'],
      ['send', 'q', 'x', '--body-file', 'f'],
      ['send', 'q', 'x', '--url', 'ftp://x'],
      ['send', 'q', 'x', '--key', 'nokey'],
      ['send', 'q', 'x', '--bogus'],
      ['receive'],
      ['receive', 'q', '--count', '0'],
      ['receive', 'q', '--abandon'],
      ['receive', 'q', 'extra'],
      ['peek'],
      ['peek', 'q', '--count', '1001'],
      ['peek', 'q', '--from', '-1'],
      ['dlq'],
      ['dlq', 'purge', 'q'],
      ['dlq', 'list'],
      ['dlq', 'list', 'q', '--all', '--url', 'memory://'],
      ['dlq', 'resubmit', 'q', '--all', '--count', '2', '--url', 'memory://'],
      ['dlq', 'resubmit', 'q', '--from', '3', '--url', 'memory://'],
      ['bus', '--port', 'x'],
      ['bus', '--base-path', 'bus'],
      ['bus', 'extra'],
    ];
    for (const [name, ...args] of cases) {
      const command = (await import(`../src/commands/${name}.ts`)) as Command;
      await assert.rejects(command.run(args), { code: 'CLI_USAGE' }, [name, ...args].join(' '));
    }
  });

  it('resubmits a subscription’s dead letters to its topic by default', async () => {
    const { resubmitTarget } = await import('../src/commands/dlq.ts');
    assert.equal(resubmitTarget('orders'), 'orders');
    assert.equal(resubmitTarget('events/subscriptions/all'), 'events');
    assert.equal(resubmitTarget('a/b/Subscriptions/s'), 'a/b');
  });

  it('prints help for each command', async () => {
    for (const name of ['send', 'receive', 'peek', 'dlq', 'bus']) {
      const command = (await import(`../src/commands/${name}.ts`)) as Command;
      assert.equal(typeof command.summary, 'string');
      let out = '';
      const write = process.stdout.write;
      process.stdout.write = ((chunk: string) => {
        out += chunk;
        return true;
      }) as typeof process.stdout.write;
      try {
        assert.equal(await command.run(['--help']), 0);
      } finally {
        process.stdout.write = write;
      }
      assert.match(out, /^Usage: hubbub /);
    }
  });

  it('exits 1 with the error code on stderr', async () => {
    const run = await hubbub(['receive', '--count', '2']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /\[CLI_USAGE\]/);
  });

  it('reports an unreachable bus as CLI_BUS_UNREACHABLE', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const run = await hubbub(['peek', 'orders', '--url', `http://127.0.0.1:${port}/bus`]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /\[CLI_BUS_UNREACHABLE\]/);
  });

  it('sends and receives directly through a file:// bus', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hubbub-cli-'));
    try {
      const setup = await openBus({ url: `file://${dir}`, entities: { queues: [{ name: 'jobs' }] } });
      await setup.close();
      const target = ['--url', `file://${dir}`];
      assert.equal((await hubbub(['send', 'jobs', '{"n":1}', '--label', 'direct', ...target])).code, 0);
      const peeked = lines((await hubbub(['peek', 'jobs', ...target])).stdout);
      assert.deepEqual(peeked[0]?.body, { n: 1 });
      assert.equal(peeked[0]?.subject, 'direct');
      const got = await hubbub(['receive', 'jobs', '--peek-lock', '--timeout', '0', ...target]);
      assert.deepEqual(lines(got.stdout)[0]?.body, { n: 1 });
      assert.equal(lines((await hubbub(['peek', 'jobs', ...target])).stdout).length, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('`hubbub bus` without --key generates one, prints it and requires it; beyond loopback it needs --key', async () => {
    const data = await mkdtemp(join(tmpdir(), 'hubbub-bus-keys-'));
    try {
      const bus = run(['bus', '--port', '0', '--url', 'memory://', '--data', data], {}, root);
      const [listening, key] = await Promise.race([
        waitFor(
          () => {
            const out = bus.stdout();
            const at = /"listening":"([^"]+)"/.exec(out)?.[1];
            const key = /Bus key: (\S+)=(\S+)/.exec(out);
            return at === undefined || key === null ? undefined : ([at, { name: key[1]!, key: key[2]! }] as const);
          },
          { timeoutMs: 30_000, what: 'hubbub bus to listen' },
        ),
        bus.exited.then((code) => assert.fail(`hubbub bus exited with ${code}: ${bus.stderr()}`)),
      ]);
      const stored = JSON.parse(await readFile(join(data, 'keys.json'), 'utf8')) as { busKey: string };
      assert.equal(stored.busKey, key.key);
      const anonymous = await fetch(`${listening}/q1`, { method: 'PUT', body: '{}' });
      assert.equal(anonymous.status, 401);
      await anonymous.arrayBuffer();
      const signed = await fetch(`${listening}/q1`, {
        method: 'PUT',
        body: '{}',
        headers: { authorization: createSasToken(listening, key, Date.now() / 1000 + 60) },
      });
      assert.equal(signed.status, 201);
      await signed.arrayBuffer();
      bus.child.kill('SIGTERM');
      assert.equal(await bus.exited, 0);
      const exposed = await hubbub(['bus', '--port', '0', '--url', 'memory://', '--host', '0.0.0.0', '--data', data]);
      assert.equal(exposed.code, 1);
      assert.match(exposed.stderr, /--key[\s\S]*CLI_USAGE/);
    } finally {
      await rm(data, { recursive: true, force: true });
    }
  });

  it('`hubbub bus` serves the HTTP API until SIGTERM', async () => {
    const bus = run(['bus', '--port', '0', '--url', 'memory://', '--key', 'k=v'], {}, root);
    const listening = await Promise.race([
      waitFor(
        () => {
          const line = bus
            .stdout()
            .split('\n')
            .find((l) => l.includes('listening'));
          return line === undefined ? undefined : (JSON.parse(line) as { listening: string }).listening;
        },
        { timeoutMs: 30_000, what: 'hubbub bus to listen' },
      ),
      bus.exited.then((code) => assert.fail(`hubbub bus exited with ${code}: ${bus.stderr()}`)),
    ]);
    assert.match(listening, /^http:\/\/127\.0\.0\.1:\d+\/bus$/);
    const created = await fetch(`${listening}/q1`, { method: 'PUT', body: '{}' });
    assert.equal(created.status, 401);
    bus.child.kill('SIGTERM');
    assert.equal(await bus.exited, 0);
    assert.match(bus.stdout(), /Received SIGTERM: draining[\s\S]*Ctrl-C again to stop at once[\s\S]*\nStopped\.\n$/);
  });
});
