/**
 * `hubbub bus --engine nats://…` twice on one NATS server: two stateless bus nodes. A message sent
 * through one node's HTTP API is received through the other's; a queue created from the entities
 * file of one is there for both. Needs /usr/sbin/nats-server (skipped without it, failing under CI).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type NatsCluster, natsUnavailable, startNats } from '@hubbub/bus/nats/testing';
import { waitFor } from '@hubbub/kernel';
import { hubbub, type Running, ran } from '@hubbub/test-kit';

const skip = natsUnavailable();
const KEY = 'node=secret-of-both-nodes';

describe('hubbub bus on NATS JetStream', { skip: skip ?? false }, () => {
  let nats: NatsCluster;
  let data: string;
  const nodes: Running[] = [];
  const urls: string[] = [];
  before(async () => {
    nats = await startNats(1);
    data = mkdtempSync(join(tmpdir(), 'hubbub-bus-nats-'));
    writeFileSync(join(data, 'entities.json'), JSON.stringify({ queues: [{ name: 'orders' }] }));
    for (let i = 0; i < 2; i++) {
      const node = hubbub(
        [
          'bus',
          '--port',
          '0',
          '--amqp-port',
          'off',
          '--key',
          KEY,
          '--engine',
          `${nats.url}?namespace=cli`,
          ...(i === 0 ? ['--config', join(data, 'entities.json')] : []),
        ],
        { HUBBUB_DATA_DIR: data },
      );
      nodes.push(node);
      const line = await waitFor(() => /^\{"listening":"([^"]+)"\}$/m.exec(node.stdout()), {
        timeoutMs: 30_000,
        what: `hubbub bus ${i} listening (stderr: ${node.stderr()})`,
      });
      urls.push(line[1]!);
    }
  });
  after(async () => {
    for (const node of nodes) node.child.kill('SIGTERM');
    await Promise.all(nodes.map((n) => n.exited));
    await nats?.stop();
    rmSync(data, { recursive: true, force: true });
  });

  it('a message sent through one node is received through the other', async () => {
    const env = { HUBBUB_BUS_URL: '', HUBBUB_BUS_KEY: '' };
    const sent = await ran(hubbub(['send', 'orders', '{"order":1}', '--url', urls[0]!, '--key', KEY], env));
    assert.equal(sent.code, 0, sent.stderr);
    const got = await ran(hubbub(['receive', 'orders', '--timeout', '5', '--url', urls[1]!, '--key', KEY], env));
    assert.equal(got.code, 0, got.stderr);
    assert.deepEqual(JSON.parse(got.stdout.trim().split('\n')[0]!).body, { order: 1 });
  });

  it('a bad engine URL is a usage error naming it', async () => {
    const bad = await ran(hubbub(['bus', '--port', '0', '--amqp-port', 'off', '--engine', 'nats://'], {}));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /"nats:\/\/" names no server.*BUS_INVALID_OPTION/);
  });
});
