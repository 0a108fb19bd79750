/**
 * A bus with an AMQP front on a free loopback port, and the connection string the SDK takes.
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Bus, type EntitiesConfig, openBus, type SasKey } from '@hubbub/bus';
import { type AmqpFront, type AmqpFrontOptions, createAmqpFront } from '../src/index.ts';

export const KEY: SasKey = { name: 'RootManageSharedAccessKey', key: 'test-key-0123456789' };

export interface Harness {
  readonly bus: Bus;
  readonly front: AmqpFront;
  readonly connectionString: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startHarness(
  options: { engine?: 'memory' | 'file'; entities?: EntitiesConfig; front?: Partial<AmqpFrontOptions> } = {},
): Promise<Harness> {
  let dir: string | undefined;
  let url = 'memory://';
  if (options.engine === 'file') {
    dir = await mkdtemp(join(tmpdir(), 'bus-amqp-'));
    url = `file://${dir}`;
  }
  const bus = await openBus({ url, entities: options.entities ?? { queues: [{ name: 'orders' }] } });
  const front = createAmqpFront({ bus, keys: [KEY], port: 0, ...options.front });
  await front.start();
  const port = front.port!;
  return {
    bus,
    front,
    port,
    connectionString: front.connectionString(KEY),
    async close() {
      await front.close();
      await bus.close();
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}
