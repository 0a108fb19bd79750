/**
 * kill -9 of a bus node while messages flow: two processes run a processor on one JetStream queue;
 * one is killed mid-flow with messages locked. Every message sent is handled (at least once) — the
 * dead node's locked messages come back after the consumer's ack wait with their delivery count.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@hubbub/kernel';
import { openBus } from '../src/index.ts';
import { type NatsCluster, natsUnavailable, startNats } from '../src/nats/testing.ts';

const unavailable = natsUnavailable();
const worker = fileURLToPath(new URL('./fixtures/nats-worker.ts', import.meta.url));
const TOTAL = 1_000;

interface Worker {
  readonly child: ChildProcess;
  readonly handled: Array<{ id: string; deliveryCount: number }>;
  /** Messages a victim took and holds (locked until it dies). */
  readonly held: string[];
  ready: boolean;
}

function startWorker(url: string, role: 'victim' | 'survivor'): Worker {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', worker, url, role], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const w: Worker = { child, handled: [], held: [], ready: false };
  let rest = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      if (line === 'ready') w.ready = true;
      else if (line.startsWith('held ')) w.held.push(line.slice(5));
      else if (line !== '') {
        const [id, count] = line.split(' ');
        w.handled.push({ id: id!, deliveryCount: Number(count) });
      }
    }
  });
  return w;
}

describe('a JetStream bus node killed while it holds locks', { skip: unavailable }, () => {
  let nats: NatsCluster;
  const workers: Worker[] = [];
  before(async () => {
    nats = await startNats(1);
  });
  after(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    await nats?.stop();
  });

  it('every message is handled; the dead node’s locked ones by the survivor, counted', async (t) => {
    const url = `${nats.url}?namespace=nodekill`;
    const bus = await openBus({ url });
    try {
      await bus.admin.createQueue('work', { lockDuration: 2_000 });
      workers.push(startWorker(url, 'victim'), startWorker(url, 'survivor'));
      await waitFor(() => workers.every((w) => w.ready), { timeoutMs: 60_000, what: 'both workers ready' });
      const sender = bus.createSender('work');
      const send = (from: number, to: number) =>
        sender.send(Array.from({ length: to - from }, (_, k) => ({ body: from + k, messageId: `m${from + k}` })));
      // All sent first, so the queue is far from drained when the victim dies holding locks.
      for (let i = 0; i < TOTAL; i += 250) await send(i, i + 250);
      const [victim, survivor] = workers as [Worker, Worker];
      // The victim handles 20, then holds what it takes: killed, it dies with those locked.
      await waitFor(() => victim.held.length >= 1, { timeoutMs: 30_000, what: 'the victim holding locks' });
      victim.child.kill('SIGKILL');
      const handledByVictim = new Set(victim.handled.map((h) => h.id));
      const all = Array.from({ length: TOTAL }, (_, i) => `m${i}`);
      const done = () => {
        const seen = new Set([...handledByVictim, ...survivor.handled.map((h) => h.id)]);
        return all.every((id) => seen.has(id));
      };
      await waitFor(done, { timeoutMs: 120_000, intervalMs: 100, what: 'every message handled' });
      const recounted = survivor.handled.filter((h) => h.deliveryCount > 0);
      t.diagnostic(
        JSON.stringify({
          byVictim: handledByVictim.size,
          bySurvivor: survivor.handled.length,
          held: victim.held.length,
          redelivered: recounted.length,
        }),
      );
      // What it held came back to the survivor, each counted as a redelivery.
      const again = new Map(survivor.handled.map((h) => [h.id, h.deliveryCount]));
      for (const id of victim.held) assert.ok((again.get(id) ?? 0) > 0, `${id}, held by the victim, came back counted`);
    } finally {
      await bus.close();
    }
  });
});
