/**
 * The load generator: one process holding every client connection, speaking just enough of each
 * contender's protocol to join the broadcast audience and count deliveries.
 *   hubbub:   POST negotiate (version 1), WebSocket with `id=<connectionToken>`, JSON handshake,
 *             invoke `join('g')`, count text frames that carry target `m`; pings every 10 s.
 *   hubbub-direct: the same without negotiate (the official client's `skipNegotiation`).
 *   ws:       raw WebSocket, every message counts.
 *   ws-talk:  as ws, and sends what a Hubbub client sends on connecting (the handshake and the join
 *             invocation, which the plain server ignores): inbound traffic costs memory too.
 *   socketio: socket.io-client (websocket transport only), emit `join` with an ack, count `m` events.
 * @module
 */
import { request } from 'node:http';
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { withTimeout } from '../lib/children.ts';
import { serveIpc } from '../lib/ipc.ts';

export type ClientKind = 'hubbub' | 'hubbub-direct' | 'ws' | 'ws-talk' | 'socketio';

export type ClientApi = {
  /** Opens `count` more connections, `batch` at a time; resolves when all are ready or failed. */
  connect(args: { kind: ClientKind; port: number; count: number; batch: number }): Promise<{
    ready: number;
    failed: number;
    firstError: string | undefined;
    ms: number;
  }>;
  /** Resets the delivery counter and arms it for `total` deliveries. */
  expect(args: { total: number }): null;
  /**
   * Arms latency recording: each delivery's payload starts with the send time (hrtime ns); the
   * client keeps arrival − send per delivery until `latencyStats` reads them.
   */
  recordLatency(args: { on: boolean }): null;
  /** Percentiles of the recorded latencies, ms, and how many there were; clears them. */
  latencyStats(args: null): { count: number; p50: number; p90: number; p99: number; max: number };
  /** Waits until the armed total arrived (or `timeoutMs` passed). */
  wait(args: { timeoutMs: number }): Promise<{ received: number; complete: boolean; lastNs: string }>;
  /** Closes every connection and waits for them to end. */
  closeAll(args: null): Promise<{ closed: number }>;
};

interface Open {
  close(): Promise<void>;
}

const HANDSHAKE = '{"protocol":"json","version":1}\x1e';
const JOIN = '{"type":1,"invocationId":"0","target":"join","arguments":["g"]}\x1e';
const PING = '{"type":6}\x1e';
const TARGET = Buffer.from('"target":"m"');
const CONNECT_TIMEOUT_MS = 20_000;

const open: Open[] = [];
const hubbubSockets = new Set<WebSocket>();
let received = 0;
let expected = Number.POSITIVE_INFINITY;
let lastNs = 0n;
let onComplete: (() => void) | undefined;

let latencies: number[] | undefined;
const ARGUMENT = Buffer.from('"arguments":["');

/** The send time (ns) at `offset`: the digits the payload starts with. */
function sentAt(data: Buffer, offset: number): bigint | undefined {
  let end = offset;
  while (end < data.length && data[end]! >= 0x30 && data[end]! <= 0x39) end++;
  return end === offset ? undefined : BigInt(data.toString('latin1', offset, end));
}

function record(data: Buffer, offset: number): void {
  const sent = sentAt(data, offset);
  if (sent !== undefined) latencies!.push(Number(process.hrtime.bigint() - sent) / 1e6);
}

/** Counts the hub messages for target `m` in one frame (a write delay puts several in one). */
function deliveredHubbub(data: Buffer): void {
  let at = data.indexOf(TARGET);
  while (at !== -1) {
    if (latencies !== undefined) {
      const arg = data.indexOf(ARGUMENT, at);
      if (arg !== -1) record(data, arg + ARGUMENT.length);
    }
    delivered();
    at = data.indexOf(TARGET, at + TARGET.length);
  }
}

function deliveredWs(data: Buffer): void {
  if (latencies !== undefined) record(data, 0);
  delivered();
}

function delivered(): void {
  if (++received === expected) {
    lastNs = process.hrtime.bigint();
    onComplete?.();
  }
}

// Hubbub closes connections that stay silent for clientTimeoutMs (30 s by default).
setInterval(() => {
  for (const ws of hubbubSockets) if (ws.readyState === WebSocket.OPEN) ws.send(PING);
}, 10_000).unref();

/** A fresh TCP connection per negotiate, closed after it, so no keep-alive sockets stay on the server. */
function negotiate(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/hubs/bench/negotiate?negotiateVersion=1', agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => {
          try {
            const parsed = JSON.parse(body) as { connectionToken?: string; error?: string };
            if (parsed.connectionToken === undefined) throw new Error(`negotiate: ${body}`);
            resolve(parsed.connectionToken);
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function closeWs(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    ws.once('close', () => resolve());
    ws.close();
  });
}

async function openHubbub(port: number, skipNegotiation = false): Promise<Open> {
  const query = skipNegotiation ? '' : `?id=${encodeURIComponent(await negotiate(port))}`;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/hubs/bench${query}`, {
    perMessageDeflate: false,
  });
  await new Promise<void>((resolve, reject) => {
    let stage: 'handshake' | 'join' | 'counting' = 'handshake';
    ws.on('open', () => ws.send(HANDSHAKE));
    ws.on('error', reject);
    ws.on('close', () => reject(new Error('closed before joining')));
    ws.on('message', (data: Buffer) => {
      if (stage === 'counting') {
        deliveredHubbub(data);
        return;
      }
      const text = data.toString('utf8');
      if (text.includes('"error"')) {
        reject(new Error(`hubbub ${stage}: ${text}`));
        ws.terminate();
      } else if (stage === 'handshake') {
        stage = 'join';
        ws.send(JOIN);
      } else if (text.includes('"type":3')) {
        stage = 'counting';
        resolve();
      }
    });
  });
  hubbubSockets.add(ws);
  return {
    close: () => {
      hubbubSockets.delete(ws);
      return closeWs(ws);
    },
  };
}

async function openWs(port: number, talk = false): Promise<Open> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
  ws.on('message', deliveredWs);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.on('error', reject);
  });
  if (talk) {
    await new Promise<void>((resolve, reject) => ws.send(HANDSHAKE, (err) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve, reject) => ws.send(JOIN, (err) => (err ? reject(err) : resolve())));
  }
  return { close: () => closeWs(ws) };
}

async function openSocketIo(port: number): Promise<Open> {
  const socket: Socket = io(`http://127.0.0.1:${port}`, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: CONNECT_TIMEOUT_MS,
  });
  socket.on('m', (payload: string) => {
    if (latencies !== undefined) record(Buffer.from(payload.slice(0, 24)), 0);
    delivered();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => socket.emit('join', 'g', () => resolve()));
    socket.once('connect_error', reject);
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        if (socket.disconnected) return resolve();
        socket.once('disconnect', () => resolve());
        socket.disconnect();
      }),
  };
}

const openers: Record<ClientKind, (port: number) => Promise<Open>> = {
  hubbub: (port) => openHubbub(port),
  'hubbub-direct': (port) => openHubbub(port, true),
  ws: (port) => openWs(port),
  'ws-talk': (port) => openWs(port, true),
  socketio: openSocketIo,
};

serveIpc<ClientApi>({
  connect: async ({ kind, port, count, batch }) => {
    const start = process.hrtime.bigint();
    let ready = 0;
    let failed = 0;
    let firstError: string | undefined;
    for (let done = 0; done < count; done += batch) {
      const n = Math.min(batch, count - done);
      const results = await Promise.allSettled(
        Array.from({ length: n }, () => withTimeout(openers[kind](port), CONNECT_TIMEOUT_MS, `${kind} connect`)),
      );
      for (const r of results) {
        if (r.status === 'fulfilled') {
          open.push(r.value);
          ready++;
        } else {
          failed++;
          firstError ??= String(r.reason);
        }
      }
      if (failed > 0 && failed >= batch) break; // the server is not accepting; stop early
    }
    return { ready, failed, firstError, ms: Number(process.hrtime.bigint() - start) / 1e6 };
  },
  recordLatency: ({ on }) => {
    latencies = on ? [] : undefined;
    return null;
  },
  latencyStats: () => {
    const sorted = (latencies ?? []).sort((a, b) => a - b);
    latencies = undefined;
    const at = (q: number) =>
      sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    const r = (x: number) => Number(x.toFixed(3));
    return { count: sorted.length, p50: r(at(0.5)), p90: r(at(0.9)), p99: r(at(0.99)), max: r(sorted.at(-1) ?? 0) };
  },
  expect: ({ total }) => {
    received = 0;
    expected = total;
    lastNs = 0n;
    return null;
  },
  wait: ({ timeoutMs }) =>
    new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        onComplete = undefined;
        resolve({ received, complete: received >= expected, lastNs: lastNs.toString() });
      };
      const timer = setTimeout(finish, timeoutMs);
      if (received >= expected) finish();
      else onComplete = finish;
    }),
  closeAll: async () => {
    const all = open.splice(0);
    for (let i = 0; i < all.length; i += 500) {
      await Promise.all(
        all.slice(i, i + 500).map((c) => withTimeout(c.close(), CONNECT_TIMEOUT_MS, 'close').catch(() => undefined)),
      );
    }
    return { closed: all.length };
  },
});
