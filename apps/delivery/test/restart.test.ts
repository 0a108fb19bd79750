/**
 * `npm start` stops on Ctrl-C without losing what it accepted and starts again on the same data:
 * every location the bus API acknowledged before the signal is either delivered to the customer
 * or still durable in the queue, and the restarted system delivers what was left.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createSasToken, openBus, type SasKey } from '@hubbub/bus';
import { waitFor } from '@hubbub/kernel';
import { runScript } from '@hubbub/test-kit';
import * as signalR from '@microsoft/signalr';
import { createTrackingToken } from '../src/index.ts';

const main = new URL('../src/main.ts', import.meta.url).pathname;
const data = mkdtempSync(join(tmpdir(), 'hubbub-restart-'));
after(() => rmSync(data, { recursive: true, force: true }));

function start(): { child: ChildProcess; url: Promise<string>; exited: Promise<number | null>; output: () => string } {
  const run = runScript(main, ['--port', '0', '--data', data, '--no-simulate'], { env: { HUBBUB_LOG_LEVEL: 'warn' } });
  const output = () => run.stdout() + run.stderr();
  const url = waitFor(() => /Open (http:\/\/\S+)\//.exec(run.stdout())?.[1], { timeoutMs: 30_000, what: 'the URL' });
  return { child: run.child, url, exited: run.exited, output };
}

/** What `npm start` keeps in its data directory: the bus key and the tracking key. */
let stored: { bus: SasKey; tracking: string } | undefined;
function keys(): { bus: SasKey; tracking: string } {
  if (stored !== undefined) return stored;
  const file = JSON.parse(readFileSync(join(data, 'keys.json'), 'utf8'));
  stored = { bus: { name: file.busKeyName, key: file.busKey }, tracking: file.secrets.TrackingKey };
  return stored;
}

async function customer(url: string, orderid: string, received: Set<number>) {
  const token = createTrackingToken(orderid, keys().tracking);
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${url}/api?orderid=${orderid}&token=${encodeURIComponent(token)}`)
    .configureLogging(signalR.LogLevel.None)
    .build();
  connection.on('location', (location: { timestamp: string }) => received.add(seqOf(location.timestamp)));
  await connection.start();
  return connection;
}

// The function forwards only the location's own fields, so the sequence number rides in its timestamp.
const epoch = Date.UTC(2026, 0, 1);
const seqOf = (timestamp: string) => (Date.parse(timestamp) - epoch) / 1_000;
const location = (seq: number) => ({
  orderid: '1001',
  storeid: 7,
  lat: 47.615,
  longitude: -122.3175,
  timestamp: new Date(epoch + seq * 1_000).toISOString(),
});

describe('npm start: Ctrl-C and restart on the same data', () => {
  it('loses no acknowledged message across a shutdown, and delivers the rest after the restart', async () => {
    const first = start();
    const url = await first.url;
    const received = new Set<number>();
    const ana = await customer(url, '1001', received);

    const acknowledged = new Set<number>();
    let next = 0;
    const sendLoop = async () => {
      for (;;) {
        const seq = next++;
        if (seq >= 400) return;
        try {
          const res = await fetch(`${url}/bus/locations/messages`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              brokerproperties: '{"Label":"driveby"}',
              authorization: createSasToken(`${url}/bus`, keys().bus, Date.now() / 1000 + 600),
            },
            body: JSON.stringify(location(seq)),
          });
          await res.arrayBuffer();
          if (res.status === 201) acknowledged.add(seq);
        } catch {
          return; // the server went away mid-request: not acknowledged
        }
      }
    };
    const senders = Array.from({ length: 4 }, sendLoop);
    await waitFor(() => acknowledged.size >= 150, { timeoutMs: 30_000, what: '150 acknowledged sends' });
    first.child.kill('SIGINT');
    await Promise.all(senders);
    assert.equal(await first.exited, 0, first.output());
    assert.match(first.output(), /Stopped\./);
    await ana.stop();
    const key = readFileSync(join(data, 'keys.json'), 'utf8');

    // Everything acknowledged was delivered or is still in the queue on disk.
    const bus = await openBus({ url: `file://${join(data, 'bus')}` });
    const left = new Set(
      (await bus.createReceiver('locations').peekMessages(1_000)).map((m) =>
        seqOf((m.body as { timestamp: string }).timestamp),
      ),
    );
    await bus.close();
    const lost = [...acknowledged].filter((seq) => !received.has(seq) && !left.has(seq));
    assert.deepEqual(lost, [], `${acknowledged.size} acknowledged, ${received.size} delivered, ${left.size} left`);

    // The restarted system keeps its key and drains what was left.
    const second = start();
    const url2 = await second.url;
    assert.equal(readFileSync(join(data, 'keys.json'), 'utf8'), key);
    await waitFor(
      async () => {
        const res = await fetch(`${url2}/bus/locations/messages?count=1000`, {
          headers: { authorization: createSasToken(`${url2}/bus`, keys().bus, Date.now() / 1000 + 600) },
        });
        return res.status === 200 && ((await res.json()) as unknown[]).length === 0;
      },
      { timeoutMs: 30_000, what: 'the queue to drain after the restart' },
    );
    second.child.kill('SIGINT');
    assert.equal(await second.exited, 0, second.output());
  });
});
