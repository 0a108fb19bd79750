/**
 * The load generator of the round trip: clients connected to one path, each speaking the SignalR
 * JSON protocol over a WebSocket (negotiate, handshake, invocations, completions), and a paced
 * stream of `echo` invocations spread over them. Latency is invocation sent → its completion
 * received, in this one process (no clock crosses a process). Pings every 10 s keep idle clients.
 *
 *   upstream: POST /api/negotiate (the app's function) → /client/negotiate?hub=echo → WebSocket;
 *             echo → hub → upstream → signalRTrigger function → Completion → client
 *   method:   POST /hubs/echo/negotiate → WebSocket; echo → the hub method → Completion → client
 * @module
 */
import { request } from 'node:http';
import { WebSocket } from 'ws';
import { withTimeout } from '../lib/children.ts';
import { serveIpc } from '../lib/ipc.ts';

export type RoundTripPath = 'upstream' | 'method';

export interface RoundTripSummary {
  path: RoundTripPath;
  /** Invocations sent in the measured window. */
  sent: number;
  completed: number;
  /** Completions carrying an error. */
  errors: number;
  firstError?: string;
  /** Achieved invocation rate over the measured window, per second. */
  rate: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** CPU of this load generator during the window, % of one core. */
  cpuPercent: number;
}

export type RoundTripClientApi = {
  connect(args: { port: number; path: RoundTripPath; clients: number; batch: number }): Promise<{
    ready: number;
    failed: number;
    firstError: string | undefined;
    ms: number;
  }>;
  run(args: { rate: number; warmupMs: number; measureMs: number; drainMs: number }): Promise<RoundTripSummary>;
  closeAll(args: null): Promise<{ closed: number }>;
};

if (process.send === undefined) throw new Error('This script is started by bench/e2e-latency/roundtrip.ts.');

const RS = '\x1e';
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sockets: WebSocket[] = [];
let path: RoundTripPath = 'upstream';
/** invocation id → sent at (measured ones only) */
const pending = new Map<string, number>();
let latencies: number[] = [];
let errors = 0;
let firstError: string | undefined;
let onCompletion: (() => void) | undefined;

setInterval(() => {
  for (const ws of sockets) if (ws.readyState === WebSocket.OPEN) ws.send(`{"type":6}${RS}`);
}, 10_000).unref();

function post(port: number, target: string, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: target, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`POST ${target}: ${res.statusCode} ${body}`));
        try {
          resolve(JSON.parse(body) as Record<string, unknown>);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function completed(text: string, at: number): void {
  for (const record of text.split(RS)) {
    if (record === '') continue;
    const message = JSON.parse(record) as { type?: number; invocationId?: string; error?: string };
    if (message.type !== 3 || message.invocationId === undefined) continue;
    const sentAt = pending.get(message.invocationId);
    if (sentAt === undefined) continue;
    pending.delete(message.invocationId);
    if (message.error !== undefined) {
      errors++;
      firstError ??= message.error;
    } else latencies.push(at - sentAt);
    onCompletion?.();
  }
}

async function open(port: number): Promise<void> {
  let url: URL;
  let token: string | undefined;
  if (path === 'upstream') {
    const info = await post(port, '/api/negotiate');
    url = new URL(String(info.url));
    token = String(info.accessToken);
  } else {
    url = new URL(`http://127.0.0.1:${port}/hubs/echo`);
  }
  const negotiatePath = `${url.pathname.replace(/\/+$/, '')}/negotiate${url.search === '' ? '?' : `${url.search}&`}negotiateVersion=1`;
  const negotiated = await post(port, negotiatePath, token === undefined ? {} : { Authorization: `Bearer ${token}` });
  const id = encodeURIComponent(String(negotiated.connectionToken));
  const query = `${url.search === '' ? '?' : `${url.search}&`}id=${id}${token === undefined ? '' : `&access_token=${encodeURIComponent(token)}`}`;
  const ws = new WebSocket(`ws://127.0.0.1:${port}${url.pathname}${query}`, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    let handshaken = false;
    ws.on('open', () => ws.send(`{"protocol":"json","version":1}${RS}`));
    ws.on('error', reject);
    ws.on('close', () => reject(new Error('closed before the handshake')));
    ws.on('message', (data: Buffer) => {
      const at = now();
      const text = data.toString('utf8');
      if (handshaken) return completed(text, at);
      if (text.includes('"error"')) return reject(new Error(`handshake: ${text}`));
      handshaken = true;
      sockets.push(ws);
      resolve();
    });
  });
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

serveIpc<RoundTripClientApi>({
  connect: async ({ port, path: which, clients, batch }) => {
    path = which;
    const start = now();
    let ready = 0;
    let failed = 0;
    let first: string | undefined;
    for (let done = 0; done < clients; done += batch) {
      const results = await Promise.allSettled(
        Array.from({ length: Math.min(batch, clients - done) }, () => withTimeout(open(port), 20_000, 'connect')),
      );
      for (const r of results) {
        if (r.status === 'fulfilled') ready++;
        else {
          failed++;
          first ??= String(r.reason);
        }
      }
      if (failed >= batch) break;
    }
    return { ready, failed, firstError: first, ms: Math.round(now() - start) };
  },
  run: ({ rate, warmupMs, measureMs, drainMs }) =>
    new Promise((resolve) => {
      latencies = [];
      errors = 0;
      firstError = undefined;
      pending.clear();
      let seq = 0;
      let sent = 0;
      let due = 0;
      let cpu0: NodeJS.CpuUsage | undefined;
      let measuredFrom = 0;
      const t0 = now();
      const measureFrom = t0 + warmupMs;
      const end = measureFrom + measureMs;
      const tick = setInterval(() => {
        const t = now();
        if (t >= end) {
          clearInterval(tick);
          const finish = () => {
            clearTimeout(timer);
            onCompletion = undefined;
            const cpu = process.cpuUsage(cpu0);
            const s = Float64Array.from(latencies).sort();
            const at = (q: number) =>
              s.length === 0 ? 0 : r3(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!);
            resolve({
              path,
              sent,
              completed: s.length,
              errors,
              ...(firstError === undefined ? {} : { firstError }),
              rate: Math.round(sent / ((end - measuredFrom) / 1000)),
              latencyMs: {
                p50: at(0.5),
                p90: at(0.9),
                p99: at(0.99),
                max: s.length === 0 ? 0 : r3(s[s.length - 1]!),
                mean: s.length === 0 ? 0 : r3(s.reduce((a, b) => a + b, 0) / s.length),
              },
              cpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / (now() - measuredFrom)) * 1000) / 10,
            });
          };
          const timer = setTimeout(finish, drainMs);
          onCompletion = () => {
            if (latencies.length + errors >= sent) finish();
          };
          onCompletion();
          return;
        }
        // Sends what the rate says is due by now; `sentAt` is when it was due (no coordinated omission).
        const target = Math.floor(((t - t0) / 1000) * rate);
        for (; due < target; due++) {
          const dueAt = t0 + (due / rate) * 1000;
          const measured = dueAt >= measureFrom;
          if (measured && cpu0 === undefined) {
            cpu0 = process.cpuUsage();
            measuredFrom = dueAt;
          }
          const id = String(seq++);
          const ws = sockets[due % sockets.length]!;
          if (measured) {
            pending.set(id, dueAt);
            sent++;
          }
          ws.send(`{"type":1,"invocationId":"${id}","target":"echo","arguments":[${due}]}${RS}`);
        }
      }, 1);
    }),
  closeAll: async () => {
    const all = sockets.splice(0);
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
