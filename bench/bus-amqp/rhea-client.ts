/**
 * One lean AMQP 1.0 client process of bench/bus-amqp (rhea, not the SDK), started by run.ts
 * against Hubbub's front: the same workload the RabbitMQ contender runs — `senders` sender links
 * sending one message per transfer as their credit allows (unsettled, durable), one receiver
 * with a credit window of `concurrency` accepting each message (peek-lock + complete on Hubbub).
 * It authorizes as the SDK does (SASL, then a SAS token put on `$cbs`). Same IPC API and report as
 * sdk-client.ts, so the server's CPU per message is measured the same way, without the SDK's cost.
 * @module
 */
import { createRequire } from 'node:module';
import { createSasToken } from '@hubbub/bus';
import { serveIpc } from '../lib/ipc.ts';
import type { ClientApi, ClientOptions, ClientReport } from './sdk-client.ts';

const rhea = createRequire(import.meta.url)('rhea');

const now = (): number => performance.timeOrigin + performance.now();

interface Ctx {
  message?: { application_properties?: Record<string, unknown>; body?: unknown };
  receiver?: { error?: unknown };
  sender?: { error?: unknown };
}

interface RheaConn {
  open_sender(o: unknown): RheaSender;
  open_receiver(o: unknown): { on(e: string, f: (c: Ctx) => void): void };
  on(e: string, f: (c: Ctx) => void): void;
  close(): void;
}

let state: { o: ClientOptions; conn: RheaConn; onMessage: (c: Ctx) => void; errors: string[] } | undefined;

interface RheaSender {
  credit: number;
  sendable(): boolean;
  send(m: unknown): void;
  on(e: string, f: (c: Ctx) => void): void;
}

function parse(cs: string): { host: string; port: number; keyName: string; key: string } {
  const parts = new Map(
    cs.split(';').map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i), p.slice(i + 1)] as const;
    }),
  );
  const url = new URL(parts.get('Endpoint')!);
  return {
    host: url.hostname,
    port: Number(url.port),
    keyName: parts.get('SharedAccessKeyName')!,
    key: parts.get('SharedAccessKey')!,
  };
}

const until = (check: () => boolean, ms: number, what: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    const tick = (): void => {
      if (check()) resolve();
      else if (performance.now() - started > ms) reject(new Error(`timed out: ${what}`));
      else setTimeout(tick, 5);
    };
    tick();
  });

async function prepare(o: ClientOptions): Promise<void> {
  const { host, port, keyName, key } = parse(o.connectionString);
  const container = rhea.create_container({ id: `bench-rhea-${process.pid}` });
  container.on('error', () => {});
  const conn: RheaConn = container.connect({ host, port, username: keyName, reconnect: false });
  const errors: string[] = [];
  for (const event of ['receiver_error', 'sender_error', 'connection_error', 'disconnected'])
    conn.on(event, (c: Ctx) => {
      if (errors.length < 5) errors.push(`${event}: ${JSON.stringify(c.receiver?.error ?? c.sender?.error ?? '')}`);
    });
  // Claims-based security, as the SDK does it: a SAS token for the queue put on $cbs.
  const audience = `sb://${host}/${o.queue}`;
  const cbs = conn.open_sender('$cbs');
  const replies = conn.open_receiver({ source: { address: '$cbs' }, name: 'cbs-reply' });
  let status: number | undefined;
  replies.on('message', (c) => {
    status = Number(c.message?.application_properties?.['status-code']);
  });
  await until(() => cbs.credit > 0, 10_000, 'credit on $cbs');
  cbs.send({
    message_id: 'token',
    reply_to: 'cbs-reply',
    application_properties: { operation: 'put-token', name: audience, type: 'servicebus.windows.net:sastoken' },
    body: createSasToken(audience, { name: keyName, key }, Date.now() / 1000 + 3600),
  });
  await until(() => status !== undefined, 10_000, 'the put-token reply');
  if (status !== 202) throw new Error(`put-token answered ${status}`);
  const s = { o, conn, errors, onMessage: (_c: Ctx) => {} };
  let warmed = false;
  s.onMessage = () => {
    warmed = true;
  };
  const receiver = conn.open_receiver({ source: { address: o.queue }, credit_window: o.concurrency, autoaccept: true });
  receiver.on('message', (c) => s.onMessage(c));
  const warm = conn.open_sender({ target: { address: o.queue } });
  await until(() => warm.sendable(), 10_000, 'credit on the queue');
  warm.send({ durable: true, body: 'warm-up' });
  await until(() => warmed, 10_000, 'the warm-up message');
  state = s;
}

async function run({ deadlineMs }: { deadlineMs: number }): Promise<ClientReport> {
  if (state === undefined) throw new Error('prepare first');
  const s = state;
  const { o, conn } = s;
  const body = 'x'.repeat(o.bodyBytes);
  const latencies: number[] = [];
  let endedAt = 0;
  let confirmed = 0;
  const cpu = process.cpuUsage();
  const startedAt = now();
  await new Promise<void>((resolve) => {
    const finish = (): void => {
      if (latencies.length >= o.count && confirmed >= o.count) resolve();
    };
    s.onMessage = (c) => {
      const t = c.message?.application_properties?.t;
      if (typeof t !== 'number') return;
      endedAt = now();
      latencies.push(endedAt - t);
      finish();
    };
    for (let k = 0; k < o.senders; k++) {
      const share = Math.floor(o.count / o.senders) + (k < o.count % o.senders ? 1 : 0);
      const sender = conn.open_sender({ target: { address: o.queue } });
      let sent = 0;
      sender.on('sendable', () => {
        while (sender.sendable() && sent < share) {
          sent++;
          sender.send({ durable: true, body, application_properties: { t: now() } });
        }
      });
      sender.on('accepted', () => {
        confirmed++;
        finish();
      });
      sender.on('rejected', (c: Ctx & { delivery?: { remote_state?: unknown } }) => {
        if (s.errors.length < 5) s.errors.push(`rejected: ${JSON.stringify(c.delivery?.remote_state)}`);
      });
    }
    setTimeout(resolve, deadlineMs).unref();
  });
  const used = process.cpuUsage(cpu);
  if (confirmed < o.count) s.errors.push(`${confirmed} of ${o.count} sends confirmed`);
  return {
    received: latencies.length,
    latencies,
    startedAt,
    endedAt: endedAt === 0 ? now() : endedAt,
    cpuMs: (used.user + used.system) / 1000,
    errors: s.errors,
  };
}

serveIpc<ClientApi>({
  prepare,
  run,
  exit: () => {
    state?.conn.close();
    setImmediate(() => process.exit(0));
  },
});
