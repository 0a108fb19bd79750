/**
 * The SDK's ports follow the HTTP port: the well-known 5673 / 5671 (what `npm start` takes) with the
 * default --port 7071, free ones with any other --port — so `hubbub bus --port N` runs beside
 * `npm start` without colliding, and prints the ports it got.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { hubbub } from '@hubbub/test-kit';
import { defaultAmqpPorts } from '../src/amqp-flags.ts';

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

describe('the SDK ports of hubbub bus and hubbub functions', () => {
  it('are 5673 / 5671 with the default HTTP port and free ones with any other', () => {
    assert.deepEqual(defaultAmqpPorts(7071), { amqp: 5673, amqps: 5671 });
    assert.deepEqual(defaultAmqpPorts(7072), { amqp: 0, amqps: 0 });
    assert.deepEqual(defaultAmqpPorts(0), { amqp: 0, amqps: 0 });
  });

  it('hubbub bus --port N listens for the SDK on free ports and prints them', async () => {
    const data = mkdtempSync(join(tmpdir(), 'hubbub-amqp-defaults-'));
    const port = await freePort();
    const bus = hubbub(['bus', '--port', String(port), '--url', 'memory://'], {
      HUBBUB_BUS_KEYS: undefined,
      HUBBUB_DATA_DIR: data,
    });
    try {
      await waitFor(() => /with NODE_EXTRA_CA_CERTS=/.test(bus.stdout()), {
        timeoutMs: 30_000,
        what: `the connection strings (stderr: ${bus.stderr()})`,
      });
      const out = bus.stdout();
      const amqp = Number(/^Service Bus \(AMQP\): Endpoint=sb:\/\/127\.0\.0\.1:(\d+);/m.exec(out)?.[1]);
      const amqps = Number(
        /^Service Bus \(AMQPS, the 1\.x SDK too\): Endpoint=sb:\/\/127\.0\.0\.1:(\d+)\//m.exec(out)?.[1],
      );
      assert.ok(amqp > 0 && amqp !== 5673, out);
      assert.ok(amqps > 0 && amqps !== 5671, out);
      assert.equal(await accepts(amqp), true, 'the printed AMQP port is the one listening');
      assert.equal(await accepts(amqps), true, 'the printed AMQPS port is the one listening');
    } finally {
      bus.child.kill('SIGTERM');
      await bus.exited;
      rmSync(data, { recursive: true, force: true });
    }
  });
});
