/**
 * The load generator: every customer connection in one process, each speaking just enough of the
 * flow the official SignalR client runs against the delivery app:
 *
 *   1. `POST /api/negotiate?orderid=<id>` (the `negotiate` function) → `{url, accessToken}`; the
 *      function adds user `customer-<id>` to group `order-<id>`
 *   2. `POST <url>/negotiate?hub=tracking&negotiateVersion=1` with the bearer token → connectionToken
 *   3. WebSocket `<url>?hub=tracking&id=<connectionToken>&access_token=<token>`, JSON handshake
 *
 * then it parses every `location` invocation, reads the probe in `courierid`
 * (`probe:<phase>:<seq>:<sentAt>`) and records receive time − sentAt for the armed phase. Pings
 * every 10 s so the hub's client timeout (30 s) never drops an idle customer.
 * @module
 */
import { request } from 'node:http';
import { PerformanceObserver } from 'node:perf_hooks';
import { createTrackingToken } from '@hubbub/delivery';
import { WebSocket } from 'ws';
import { withTimeout } from '../lib/children.ts';
import { serveIpc } from '../lib/ipc.ts';

export interface LatencySummary {
  phase: string;
  /** Deliveries expected in the window (messages sent × clients per order). */
  expected: number;
  received: number;
  /** Deliveries of the same seq to the same client seen more than once. */
  duplicates: number;
  /** Receive time − sentAt over the window's deliveries, ms. */
  latencyMs: { min: number; p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  /** Deliveries still missing when waiting for stragglers ended. */
  missing: number;
  /** CPU of the load generator during the phase, % of one core. */
  cpuPercent: number;
  /** Connections closed by the server during the phase. */
  closed: number;
  /** Garbage-collection pauses of the load generator during the phase. */
  gc: { count: number; totalMs: number; maxMs: number };
}

export type ClientApi = {
  /** Opens one connection per entry of `orders` (an order id each), `batch` at a time. */
  connect(args: { port: number; orders: string[]; batch: number; trackingKey: string }): Promise<{
    ready: number;
    failed: number;
    firstError: string | undefined;
    ms: number;
  }>;
  /** Starts recording deliveries tagged `phase`. */
  arm(args: { phase: string }): null;
  /** Waits until `expected` deliveries of the armed phase arrived (or `timeoutMs`), then summarizes. */
  collect(args: { expected: number; timeoutMs: number }): Promise<LatencySummary>;
  closeAll(args: null): Promise<{ closed: number }>;
};

if (process.send === undefined) throw new Error('This script is started by bench/e2e-latency/run.ts.');

const HANDSHAKE = '{"protocol":"json","version":1}\x1e';
const PING = '{"type":6}\x1e';
const RS = '\x1e';
const CONNECT_TIMEOUT_MS = 20_000;
// The system-wide monotonic clock (CLOCK_MONOTONIC on Linux), the same in every process.
// `performance.timeOrigin + performance.now()` is not: each process pairs its hrtime origin with a
// wall-clock reading taken at a slightly different moment, and two processes disagreed by ~1 ms.
const now = () => Number(process.hrtime.bigint()) / 1e6;

const sockets = new Set<WebSocket>();
let armed: string | undefined;
let latencies: number[] = [];
let seen = new Set<string>();
let duplicates = 0;
let closedDuringPhase = 0;
let onDelivery: (() => void) | undefined;

const gc = { count: 0, totalMs: 0, maxMs: 0 };
new PerformanceObserver((list) => {
  if (armed === undefined) return;
  for (const entry of list.getEntries()) {
    gc.count++;
    gc.totalMs += entry.duration;
    gc.maxMs = Math.max(gc.maxMs, entry.duration);
  }
}).observe({ entryTypes: ['gc'] });

setInterval(() => {
  for (const ws of sockets) if (ws.readyState === WebSocket.OPEN) ws.send(PING);
}, 10_000).unref();

interface Invocation {
  type?: number;
  target?: string;
  arguments?: Array<{ courierid?: unknown }>;
}

function received(client: number, text: string, at: number): void {
  for (const record of text.split(RS)) {
    if (record === '') continue;
    const message = JSON.parse(record) as Invocation;
    if (message.type !== 1 || message.target !== 'location') continue;
    const probe = message.arguments?.[0]?.courierid;
    if (typeof probe !== 'string' || !probe.startsWith('probe:')) continue;
    const [, phase, seq, sentAt] = probe.split(':');
    if (phase !== armed) continue;
    const key = `${client}:${seq}`;
    if (seen.has(key)) {
      duplicates++;
      continue;
    }
    seen.add(key);
    latencies.push(at - Number(sentAt));
    onDelivery?.();
  }
}

function post(port: number, path: string, headers: Record<string, string> = {}): Promise<unknown> {
  return new Promise((resolve, reject) => {
    // A fresh TCP connection each, so no keep-alive sockets stay on the server.
    const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`POST ${path}: ${res.statusCode} ${body}`));
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function openCustomer(port: number, orderid: string, client: number, trackingKey: string): Promise<void> {
  const token = createTrackingToken(orderid, trackingKey);
  const info = (await post(
    port,
    `/api/negotiate?orderid=${encodeURIComponent(orderid)}&token=${encodeURIComponent(token)}`,
  )) as {
    url?: string;
    accessToken?: string;
  };
  if (typeof info.url !== 'string' || typeof info.accessToken !== 'string')
    throw new Error(`negotiate function: ${JSON.stringify(info)}`);
  const url = new URL(info.url);
  // The hub the negotiate function names: this system's, or (a cluster) a hub node of its own.
  const hubPort = Number(url.port) || port;
  const negotiatePath = `${url.pathname.replace(/\/+$/, '')}/negotiate${url.search}&negotiateVersion=1`;
  const negotiated = (await post(hubPort, negotiatePath, { Authorization: `Bearer ${info.accessToken}` })) as {
    connectionToken?: string;
  };
  if (typeof negotiated.connectionToken !== 'string') throw new Error(`negotiate: ${JSON.stringify(negotiated)}`);
  const ws = new WebSocket(
    `ws://127.0.0.1:${hubPort}${url.pathname}${url.search}&id=${encodeURIComponent(negotiated.connectionToken)}&access_token=${encodeURIComponent(info.accessToken)}`,
    { perMessageDeflate: false },
  );
  await new Promise<void>((resolve, reject) => {
    let handshaken = false;
    ws.on('open', () => ws.send(HANDSHAKE));
    ws.on('error', reject);
    ws.on('close', () => {
      sockets.delete(ws);
      if (armed !== undefined) closedDuringPhase++;
      reject(new Error('closed before the handshake'));
    });
    ws.on('message', (data: Buffer) => {
      const at = now();
      if (handshaken) return received(client, data.toString('utf8'), at);
      const text = data.toString('utf8');
      if (text.includes('"error"')) {
        reject(new Error(`handshake: ${text}`));
        ws.terminate();
        return;
      }
      handshaken = true;
      sockets.add(ws);
      resolve();
      const rest = text.slice(text.indexOf(RS) + 1);
      if (rest !== '') received(client, rest, at);
    });
  });
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;
let cpu0 = process.cpuUsage();
let armedAt = 0;
let nextClient = 0;

serveIpc<ClientApi>({
  connect: async ({ port, orders, batch, trackingKey }) => {
    const start = now();
    let ready = 0;
    let failed = 0;
    let firstError: string | undefined;
    for (let done = 0; done < orders.length; done += batch) {
      const slice = orders.slice(done, done + batch);
      const results = await Promise.allSettled(
        slice.map((orderid) =>
          withTimeout(openCustomer(port, orderid, nextClient++, trackingKey), CONNECT_TIMEOUT_MS, 'connect'),
        ),
      );
      for (const r of results) {
        if (r.status === 'fulfilled') ready++;
        else {
          failed++;
          firstError ??= String(r.reason);
        }
      }
      if (failed > 0 && failed >= batch) break; // the server is not accepting; stop early
    }
    return { ready, failed, firstError, ms: Math.round(now() - start) };
  },
  arm: ({ phase }) => {
    armed = phase;
    latencies = [];
    seen = new Set();
    duplicates = 0;
    closedDuringPhase = 0;
    Object.assign(gc, { count: 0, totalMs: 0, maxMs: 0 });
    cpu0 = process.cpuUsage();
    armedAt = now();
    return null;
  },
  collect: ({ expected, timeoutMs }) =>
    new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        onDelivery = undefined;
        const cpu = process.cpuUsage(cpu0);
        const s = Float64Array.from(latencies).sort();
        const at = (q: number) => (s.length === 0 ? 0 : r3(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!));
        const mean = s.length === 0 ? 0 : s.reduce((a, b) => a + b, 0) / s.length;
        const summary: LatencySummary = {
          phase: armed ?? '',
          expected,
          received: s.length,
          duplicates,
          latencyMs: {
            min: s.length === 0 ? 0 : r3(s[0]!),
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            p999: at(0.999),
            max: s.length === 0 ? 0 : r3(s[s.length - 1]!),
            mean: r3(mean),
          },
          missing: Math.max(0, expected - s.length),
          cpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / (now() - armedAt)) * 1000) / 10,
          closed: closedDuringPhase,
          gc: { count: gc.count, totalMs: r3(gc.totalMs), maxMs: r3(gc.maxMs) },
        };
        armed = undefined;
        resolve(summary);
      };
      const timer = setTimeout(finish, timeoutMs);
      if (latencies.length >= expected) finish();
      else
        onDelivery = () => {
          if (latencies.length >= expected) finish();
        };
    }),
  closeAll: async () => {
    const all = [...sockets];
    await Promise.all(
      all.map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === WebSocket.CLOSED) return resolve();
            ws.once('close', () => resolve());
            ws.close();
          }),
      ),
    );
    return { closed: all.length };
  },
});
