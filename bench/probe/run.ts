/**
 * bench/probe: what an attacker on loopback can do to the all-in-one server (`npm start`), measured
 * against a running server so the same script gives the numbers before and after hardening.
 *
 *   node --import tsx bench/probe/run.ts --url http://127.0.0.1:PORT [--pid PID]
 *        [--bus-key NAME=KEY | --bus-key KEY --bus-key-name NAME] [--only a,b] [--vectors a,b]
 *        [--idle-seconds 100] [--idle-connections 2000] [--growth-count 2000] [--big-mb 95]
 *        [--big-parallel 6] [--rate-seconds 5]
 *   node --import tsx bench/probe/run.ts --restart-test [--repo DIR]
 *
 * One JSON line per probe on stdout, then a summary table; progress goes to stderr. Every loop is
 * bounded in count and time. Only loopback URLs are accepted.
 * @module
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { closeSync, cpSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { processMemoryKb } from '../lib/machine.ts';

const usage = `Usage: node --import tsx bench/probe/run.ts --url http://127.0.0.1:PORT [options]
       node --import tsx bench/probe/run.ts --restart-test [--repo DIR]

  --url URL               the running server (loopback only)
  --pid PID               the server's pid: RSS from /proc/PID/status, liveness (a zombie counts as dead)
  --bus-key NAME=KEY      SAS key for /bus (or --bus-key KEY with --bus-key-name NAME)
  --bus-key-name NAME     default RootManageSharedAccessKey
  --only a,b              probes to run: ${'busAuth,like,repeatedParams,hubGrowth,groupGrowth,bigBody,rate,idle,crash'}
  --vectors a,b           crash vectors to send, by name or 1-based number (default all, in order)
  --idle-seconds N        how long idle connections are watched (default 100)
  --idle-connections N    how many idle connections (default 2000)
  --growth-count N        requests of hubGrowth and groupGrowth (default 2000)
  --big-mb N              body size of the big-body requests in MiB (default 95)
  --big-parallel N        how many in parallel (default 6)
  --rate-seconds N        length of each rate phase (default 5)
  --like-labels N,M       label lengths sent through the LIKE rule, one message each (default 100)
  --restart-test          only the kill -9 / restart test of 'hubbub bus' (spawns its own buses)
  --repo DIR              checkout whose packages/cli runs in --restart-test (default: this one)
`;

const { values: flags } = parseArgs({
  options: {
    url: { type: 'string' },
    pid: { type: 'string' },
    'bus-key': { type: 'string' },
    'bus-key-name': { type: 'string' },
    only: { type: 'string' },
    vectors: { type: 'string' },
    'idle-seconds': { type: 'string', default: '100' },
    'idle-connections': { type: 'string', default: '2000' },
    'growth-count': { type: 'string', default: '2000' },
    'big-mb': { type: 'string', default: '95' },
    'big-parallel': { type: 'string', default: '6' },
    'rate-seconds': { type: 'string', default: '5' },
    'like-labels': { type: 'string', default: '100' },
    'restart-test': { type: 'boolean', default: false },
    repo: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

type Json = Record<string, unknown>;
type Verdict = 'reproduced' | 'not reproduced' | 'inconclusive' | 'skipped' | 'error';
interface Row {
  probe: string;
  verdict: Verdict;
  numbers: string;
}

const PROBES = [
  'busAuth',
  'like',
  'repeatedParams',
  'hubGrowth',
  'groupGrowth',
  'bigBody',
  'rate',
  'idle',
  'crash',
] as const;
type ProbeName = (typeof PROBES)[number];

const rows: Row[] = [];
const note = (text: string) => process.stderr.write(`[probe] ${text}\n`);
const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const mb = (kb: number | undefined) => (kb === undefined ? undefined : round(kb / 1024));

function emit(probe: string, result: Json, verdict: Verdict, numbers: string): void {
  process.stdout.write(`${JSON.stringify({ probe, verdict, ...result })}\n`);
  rows.push({ probe, verdict, numbers });
}

function num(name: keyof typeof flags, min: number, max: number): number {
  const value = Number(flags[name]);
  if (!Number.isFinite(value) || value < min || value > max) {
    process.stderr.write(`--${name} must be a number in ${min}…${max}\n`);
    process.exit(2);
  }
  return value;
}

function errCode(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  return typeof e.code === 'string' ? e.code : String(e.message ?? err);
}

// ---------------------------------------------------------------------------------------------
// The process under test

interface ProcInfo {
  state: string;
  ppid: number;
  rssKb?: number;
  hwmKb?: number;
}

function procInfo(pid: number): ProcInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '?', ppid: Number(fields[1]), ...processMemoryKb(pid) };
  } catch {
    return undefined;
  }
}

function openFilesLimit(pid: number | 'self'): number | undefined {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1];
    return line === undefined ? undefined : line === 'unlimited' ? Number.POSITIVE_INFINITY : Number(line);
  } catch {
    return undefined;
  }
}

function machine(): Json {
  let uptime = '';
  try {
    uptime = execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    uptime = `load average: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(', ')}`;
  }
  return { uptime, loadavg: loadavg().map((x) => round(x, 2)), nproc: cpus().length, model: cpus()[0]?.model ?? '?' };
}

// ---------------------------------------------------------------------------------------------
// HTTP, raw TCP and SAS helpers

interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
  error?: string;
}

interface HttpOptions {
  headers?: http.OutgoingHttpHeaders;
  body?: string | Buffer;
  agent?: http.Agent;
  timeoutMs?: number;
}

/** One request; never rejects (status 0 and `error` when there was no answer). */
function httpAt(origin: URL, method: string, path: string, options: HttpOptions = {}): Promise<HttpResult> {
  const started = performance.now();
  return new Promise((done) => {
    let settled = false;
    const finish = (r: Omit<HttpResult, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      done({ ...r, ms: round(performance.now() - started) });
    };
    const req = http.request({
      host: origin.hostname.replace(/^\[|\]$/g, ''),
      port: origin.port,
      method,
      path,
      headers: options.headers ?? {},
      agent: options.agent ?? false,
    });
    const timer = setTimeout(() => req.destroy(new Error('timeout')), options.timeoutMs ?? 10_000);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 65_536) chunks.push(c);
        size += c.length;
      });
      const answer = () => ({
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.on('end', () => finish(answer()));
      res.on('error', (err) => finish({ ...answer(), error: errCode(err) }));
    });
    req.on('error', (err) => finish({ status: 0, headers: {}, body: '', error: errCode(err) }));
    req.end(options.body);
  });
}

let target = new URL('http://127.0.0.1:7071');
const httpRequest = (method: string, path: string, options: HttpOptions = {}) => httpAt(target, method, path, options);

interface RawResult {
  answer: string;
  ms: number;
}

/** Writes `bytes` on a fresh connection and reports the status line, a reset, a close or silence. */
function rawRequest(bytes: string, waitMs = 3000): Promise<RawResult> {
  const started = performance.now();
  return new Promise((done) => {
    let data = '';
    let error: string | undefined;
    let settled = false;
    const socket = net.connect(Number(target.port), target.hostname.replace(/^\[|\]$/g, ''));
    const finish = (how: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const statusLine = data.split('\r\n')[0];
      const answer =
        statusLine !== undefined && statusLine !== ''
          ? statusLine
          : error === 'ECONNRESET'
            ? 'connection reset'
            : error !== undefined
              ? `error ${error}`
              : how;
      done({ answer, ms: round(performance.now() - started) });
    };
    const timer = setTimeout(() => finish(`no answer within ${waitMs} ms`), waitMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (data.includes('\r\n')) setTimeout(() => finish('answered'), 200);
    });
    socket.on('error', (err) => {
      error = errCode(err);
    });
    socket.on('close', () => finish('closed without an answer'));
  });
}

interface BusKey {
  name: string;
  key: string;
}

/** `SharedAccessSignature sr=…&sig=…&se=…&skn=…` as the Service Bus SDKs build it. */
function sasToken(resource: string, key: BusKey, ttlSeconds = 600): string {
  const sr = encodeURIComponent(resource);
  const se = String(Math.floor(Date.now() / 1000) + ttlSeconds);
  const sig = createHmac('sha256', key.key).update(`${sr}\n${se}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}&skn=${encodeURIComponent(key.name)}`;
}

let busKey: BusKey | undefined;
const busHeaders = (): Record<string, string> =>
  busKey === undefined ? {} : { authorization: sasToken(`${target.origin}/bus`, busKey) };

function jwtPayload(token: unknown): Json | undefined {
  if (typeof token !== 'string') return undefined;
  const part = token.split('.')[1];
  if (part === undefined) return undefined;
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Json;
  } catch {
    return undefined;
  }
}

function parseJson(text: string): Json | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null ? (value as Json) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `task(i)` for i < count with `concurrency` in flight; stops starting new ones after `deadlineMs`. */
async function pool(count: number, concurrency: number, deadlineMs: number, task: (i: number) => Promise<void>) {
  let next = 0;
  const end = Date.now() + deadlineMs;
  const worker = async () => {
    while (next < count && Date.now() < end) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return next;
}

const tally = (map: Record<string, number>, key: string | number) => {
  map[String(key)] = (map[String(key)] ?? 0) + 1;
};

let serverPid: number | undefined;

async function aliveCheck(): Promise<{ alive: boolean; healthz: number | string; pidState?: string }> {
  const r = await httpRequest('GET', '/healthz', { timeoutMs: 3000 });
  const result: { alive: boolean; healthz: number | string; pidState?: string } = {
    alive: r.status === 200,
    healthz: r.status === 0 ? (r.error ?? 'no answer') : r.status,
  };
  if (serverPid !== undefined) {
    const info = procInfo(serverPid);
    result.pidState = info?.state ?? 'gone';
    if (info === undefined || info.state === 'Z' || info.state === 'X') result.alive = false;
  }
  return result;
}

const rssKb = () => (serverPid === undefined ? undefined : procInfo(serverPid)?.rssKb);

/** Samples the server's RSS every 100 ms; `stop()` gives the highest. */
function watchRss(): { stop(): number | undefined } {
  let peak = rssKb();
  const timer = setInterval(() => {
    const now = rssKb();
    if (now !== undefined && (peak === undefined || now > peak)) peak = now;
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Probes

const CRASH_VECTORS: Record<string, (host: string) => string> = {
  'POST /hubs/%ZZ/negotiate': (h) =>
    `POST /hubs/%ZZ/negotiate HTTP/1.1\r\nHost: ${h}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
  'GET /hubs/%ZZ': (h) => `GET /hubs/%ZZ HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`,
  'WS upgrade /hubs/%ZZ': (h) =>
    `GET /hubs/%ZZ HTTP/1.1\r\nHost: ${h}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
    `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`,
  'GET //': (h) => `GET // HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`,
  'GET //:': (h) => `GET //: HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`,
  'GET http://[': (h) => `GET http://[ HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`,
  'GET http://a:99999/': (h) => `GET http://a:99999/ HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`,
};

async function probeCrash(): Promise<void> {
  const names = Object.keys(CRASH_VECTORS);
  const chosen =
    flags.vectors === undefined
      ? names
      : flags.vectors.split(',').map((raw) => {
          const v = raw.trim();
          const index = /^\d+$/.test(v) ? names[Number(v) - 1] : undefined;
          return index ?? names.find((n) => n === v) ?? names.find((n) => n.includes(v)) ?? v;
        });
  const vectors: Json[] = [];
  let died: string | undefined;
  for (const name of chosen) {
    const make = CRASH_VECTORS[name];
    if (make === undefined) {
      vectors.push({ vector: name, error: `unknown vector; known: ${names.join(' | ')}` });
      continue;
    }
    const r = await rawRequest(make(target.host));
    await sleep(300);
    let alive = await aliveCheck();
    if (!alive.alive) {
      await sleep(1000); // one more look before declaring it dead
      alive = await aliveCheck();
    }
    vectors.push({ vector: name, answer: r.answer, ms: r.ms, aliveAfter: alive.alive, healthzAfter: alive.healthz });
    note(`crash: ${name} → ${r.answer}; alive after: ${alive.alive}`);
    if (!alive.alive) {
      died = name;
      break;
    }
  }
  const numbers = vectors
    .map((v) => `${String(v.vector)}: ${String(v.answer ?? v.error)}${v.aliveAfter === false ? ' → SERVER DIED' : ''}`)
    .join('; ');
  const result: Json = { vectors };
  if (died !== undefined) {
    result.serverDied = died;
    result.stopped = `the server is down after '${died}'; restart it and re-run with --only crash --vectors <rest>`;
  }
  emit('crash', result, died !== undefined ? 'reproduced' : 'not reproduced', numbers);
}

async function probeBusAuth(): Promise<void> {
  const location = JSON.stringify({ orderid: 'probe', lat: 0, longitude: 0 });
  const entity = `probe-queue-${randomBytes(3).toString('hex')}`;
  const steps: [string, string, string, HttpOptions][] = [
    [
      'send POST /bus/locations/messages',
      'POST',
      '/bus/locations/messages',
      { body: location, headers: { 'content-type': 'application/json' } },
    ],
    ['peek GET /bus/locations/messages?count=1', 'GET', '/bus/locations/messages?count=1', {}],
    ['peek-lock POST /bus/locations/messages/head?timeout=0', 'POST', '/bus/locations/messages/head?timeout=0', {}],
    ['receive DELETE /bus/locations/messages/head?timeout=0', 'DELETE', '/bus/locations/messages/head?timeout=0', {}],
    ['list GET /bus/$Resources/Queues', 'GET', '/bus/$Resources/Queues', {}],
    [
      `create PUT /bus/${entity}`,
      'PUT',
      `/bus/${entity}`,
      { body: '{"kind":"queue"}', headers: { 'content-type': 'application/json' } },
    ],
    [`delete DELETE /bus/${entity}`, 'DELETE', `/bus/${entity}`, {}],
  ];
  const unauthenticated: Json = {};
  for (const [label, method, path, options] of steps) {
    const r = await httpRequest(method, path, options);
    unauthenticated[label] = r.status === 0 ? r.error : r.status;
    // A peek-lock that got a message gives it back at once (abandon), so the function still sees it.
    const location = r.headers.location;
    if (method === 'POST' && path.includes('/head') && r.status === 201 && typeof location === 'string') {
      await httpRequest('PUT', new URL(location, target).pathname);
    }
  }
  const badKey = await httpRequest('GET', `/bus/${entity}`, {
    headers: { authorization: sasToken(`${target.origin}/bus`, { name: 'probe', key: 'wrong' }) },
  });
  const result: Json = { unauthenticated, wronglySigned: badKey.status };
  const send = unauthenticated['send POST /bus/locations/messages'];
  let numbers = `unauthenticated send: ${send === 201 ? 'accepted 201' : send === 401 ? 'refused 401' : String(send)}; create ${String(unauthenticated[`create PUT /bus/${entity}`])}, receive ${String(unauthenticated['receive DELETE /bus/locations/messages/head?timeout=0'])}`;
  if (busKey !== undefined) {
    const auth = { ...busHeaders(), 'content-type': 'application/json' };
    const withKey: Json = {};
    withKey.create = (await httpRequest('PUT', `/bus/${entity}`, { body: '{"kind":"queue"}', headers: auth })).status;
    withKey.send = (await httpRequest('POST', `/bus/${entity}/messages`, { body: '{}', headers: auth })).status;
    withKey.receive = (
      await httpRequest('DELETE', `/bus/${entity}/messages/head?timeout=0`, { headers: busHeaders() })
    ).status;
    withKey.delete = (await httpRequest('DELETE', `/bus/${entity}`, { headers: busHeaders() })).status;
    result.withKey = withKey;
    numbers += `; with key: create ${String(withKey.create)}, send ${String(withKey.send)}`;
  }
  emit('busAuth', result, send === 201 || send === 200 ? 'reproduced' : 'not reproduced', numbers);
}

async function probeLike(): Promise<void> {
  const topic = `probe-like-${randomBytes(3).toString('hex')}`;
  const json = { ...busHeaders(), 'content-type': 'application/json' };
  const created = await httpRequest('PUT', `/bus/${topic}`, { body: '{"kind":"topic"}', headers: json });
  if (created.status !== 201) {
    emit(
      'like',
      { skipped: `cannot create a topic (PUT /bus/${topic}: ${created.status || created.error})` },
      'skipped',
      `bus not writable (${created.status || created.error}); pass --bus-key`,
    );
    return;
  }
  const expression = "sys.Label LIKE '%a%a%a%a%b'";
  const result: Json = { expression };
  try {
    const sub = await httpRequest('PUT', `/bus/${topic}/subscriptions/s`, {
      body: JSON.stringify({ rules: [{ name: 'like', filter: { kind: 'sql', expression } }] }),
      headers: json,
    });
    result.subscription = sub.status;
    if (sub.status !== 201) {
      result.refused = sub.body.slice(0, 300);
      emit('like', result, 'not reproduced', `rule refused: ${sub.status}`);
      return;
    }
    const baseline: number[] = [];
    for (let i = 0; i < 3; i++) baseline.push((await httpRequest('GET', '/healthz')).ms);
    const lengths = (flags['like-labels'] ?? '100')
      .split(',')
      .map((n) => Math.max(1, Math.min(10_000, Number(n) || 100)));
    const sends: Json[] = [];
    let worst = 0;
    for (const length of lengths) {
      // /healthz asked every 20 ms on one connection while the message is routed: its slowest
      // answer is how long the event loop was blocked.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      let polling = true;
      let maxHealthzMs = 0;
      let polls = 0;
      const poller = (async () => {
        const end = Date.now() + 60_000;
        while (polling && Date.now() < end) {
          const r = await httpRequest('GET', '/healthz', { agent, timeoutMs: 60_000 });
          polls++;
          maxHealthzMs = Math.max(maxHealthzMs, r.ms);
          await sleep(20);
        }
      })();
      await sleep(100);
      const sent = await httpRequest('POST', `/bus/${topic}/messages`, {
        body: 'x',
        headers: {
          ...busHeaders(),
          'content-type': 'text/plain',
          brokerproperties: JSON.stringify({ Label: 'a'.repeat(length) }),
        },
        timeoutMs: 60_000,
      });
      await sleep(500);
      polling = false;
      await poller;
      agent.destroy();
      worst = Math.max(worst, maxHealthzMs);
      sends.push({
        labelLength: length,
        send: sent.status || sent.error,
        sendMs: sent.ms,
        healthzMaxMs: maxHealthzMs,
        healthzPolls: polls,
      });
    }
    Object.assign(result, { label: "'a' × length (never matches)", healthzBaselineMs: baseline, sends });
    emit(
      'like',
      result,
      worst > 100 ? 'reproduced' : 'not reproduced',
      sends
        .map(
          (x) =>
            `${String(x.labelLength)}-char label: send ${String(x.send)} in ${String(x.sendMs)} ms, /healthz blocked up to ${String(x.healthzMaxMs)} ms`,
        )
        .join('; ') + ` (baseline ${Math.max(...baseline)} ms)`,
    );
  } finally {
    await httpRequest('DELETE', `/bus/${topic}`, { headers: busHeaders() });
  }
}

async function probeRepeatedParams(): Promise<void> {
  const cases = ['orderid=1001', 'orderid=1001&orderid=1002', 'orderid=1&orderid=%20evil%0Auser'];
  const results: Json[] = [];
  let reproduced = false;
  for (const query of cases) {
    const r = await httpRequest('POST', `/api/negotiate?${query}`);
    const body = parseJson(r.body);
    const payload = jwtPayload(body?.accessToken);
    const userId = payload?.['asrs.s.uid'] ?? payload?.nameid ?? payload?.sub;
    results.push({ query, status: r.status || r.error, userId, ...(body?.error ? { error: body.error } : {}) });
    if (query.includes('&') && r.status === 200) {
      const first = `customer-${new URLSearchParams(query).get('orderid') ?? ''}`;
      if (userId !== first || (typeof userId === 'string' && !/^customer-[A-Za-z0-9_-]{1,64}$/.test(userId)))
        reproduced = true;
    }
  }
  emit(
    'repeatedParams',
    { cases: results },
    reproduced ? 'reproduced' : 'not reproduced',
    results.map((c) => `${String(c.query)} → ${String(c.status)} ${JSON.stringify(c.userId ?? null)}`).join('; '),
  );
}

async function probeGrowth(probe: 'hubGrowth' | 'groupGrowth'): Promise<void> {
  const count = num('growth-count', 1, 100_000);
  const tag = randomBytes(3).toString('hex');
  const path =
    probe === 'hubGrowth'
      ? (i: number) => `/client/negotiate?hub=probe${tag}_${i}`
      : (i: number) => `/api/negotiate?orderid=probe${tag}-${i}`;
  const statuses: Record<string, number> = {};
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const rssBefore = rssKb();
  const started = performance.now();
  const sent = await pool(count, 16, 60_000, async (i) => {
    const r = await httpRequest('POST', path(i), { agent });
    tally(statuses, r.status || r.error || 'none');
  });
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  await sleep(2000);
  const rssAfter = rssKb();
  const delta = rssBefore === undefined || rssAfter === undefined ? undefined : rssAfter - rssBefore;
  const perRequest = delta === undefined ? undefined : round((delta * 1024) / sent, 0);
  const what =
    probe === 'hubGrowth' ? 'POST /client/negotiate?hub=<new> without a token' : 'POST /api/negotiate?orderid=<new>';
  emit(
    probe,
    {
      request: what,
      sent,
      seconds: round(seconds, 2),
      statuses,
      rssBeforeMb: mb(rssBefore),
      rssAfterMb: mb(rssAfter),
      rssDeltaMb: mb(delta),
      bytesPerRequest: perRequest,
    },
    perRequest === undefined ? 'inconclusive' : perRequest > 2048 ? 'reproduced' : 'not reproduced',
    `${sent} × ${what}: ${JSON.stringify(statuses)}; RSS ${mb(rssBefore) ?? '?'} → ${mb(rssAfter) ?? '?'} MB (${perRequest ?? '?'} B/request)`,
  );
}

const CHUNK = Buffer.alloc(1 << 20, 0x61);

interface StreamResult {
  status: number | string;
  ms: number;
  responseMs?: number;
  bytesSentAtResponse?: number;
  bodyCompleteBeforeResponse?: boolean;
  bytesSent: number;
  /** The whole body went out without a reset: the server read (or drained) all of it. */
  wholeBodyTaken?: boolean;
  error?: string;
}

/**
 * POSTs `total` bytes over a raw socket, generated from one shared chunk (never held in memory),
 * respecting backpressure, and notes how much had been handed to the socket when the first byte
 * of the answer arrived. Raw so an early answer is seen even when the server then stops reading.
 */
function streamPost(path: string, total: number, timeoutMs: number) {
  const started = performance.now();
  return new Promise<StreamResult>((done) => {
    const result: StreamResult = { status: 'no answer', ms: 0, bytesSent: 0 };
    let head = '';
    let flushed = false;
    let settled = false;
    const socket = net.connect(Number(target.port), target.hostname.replace(/^\[|\]$/g, ''));
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      result.ms = round(performance.now() - started);
      result.wholeBodyTaken = flushed && result.error === undefined;
      done(result);
    };
    const timer = setTimeout(() => {
      result.error ??= 'timeout';
      finish();
    }, timeoutMs);
    const pump = () => {
      while (result.bytesSent < total && !socket.destroyed) {
        const n = Math.min(CHUNK.length, total - result.bytesSent);
        const last = result.bytesSent + n >= total;
        const ok = socket.write(
          n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n),
          last
            ? () => {
                flushed = true;
                if (result.responseMs !== undefined) socket.end();
              }
            : undefined,
        );
        result.bytesSent += n;
        if (!ok) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    socket.on('connect', () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: application/octet-stream\r\n` +
          `Content-Length: ${total}\r\n\r\n`,
      );
      pump();
    });
    socket.on('data', (d: Buffer) => {
      if (result.responseMs === undefined) {
        result.responseMs = round(performance.now() - started);
        result.bytesSentAtResponse = result.bytesSent;
        result.bodyCompleteBeforeResponse = flushed;
      }
      if (head.length < 4096) head += d.toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
      if (status !== undefined) result.status = Number(status);
      if (flushed) socket.end(); // keep-alive: we close once the whole body is sent and answered
    });
    socket.on('error', (err) => {
      result.error ??= errCode(err);
    });
    socket.on('close', finish);
  });
}

async function probeBigBody(): Promise<void> {
  const bytes = Math.round(num('big-mb', 1, 1024) * 1024 * 1024);
  const parallel = num('big-parallel', 1, 32);
  const rssBefore = rssKb();
  const hwmBefore = serverPid === undefined ? undefined : procInfo(serverPid)?.hwmKb;
  const watch = watchRss();
  note(`bigBody: ${parallel} × ${bytes} bytes to /api/negotiate…`);
  const big = await Promise.all(
    Array.from({ length: parallel }, () => streamPost('/api/negotiate?orderid=1001', bytes, 120_000)),
  );
  const peak = watch.stop();
  await sleep(5000);
  const rssAfter = rssKb();
  const small = 12 * 1024 * 1024;
  const twelve: Json = {};
  for (const path of ['/client/negotiate?hub=tracking', '/hubs/demo/negotiate']) {
    const r = await streamPost(path, small, 60_000);
    twelve[path] = r;
  }
  const statuses: Record<string, number> = {};
  for (const r of big) tally(statuses, r.error ?? r.status);
  const accepted = big.filter((r) => typeof r.status === 'number' && r.status >= 200 && r.status < 300).length;
  const growthMb = peak !== undefined && rssBefore !== undefined ? (peak - rssBefore) / 1024 : undefined;
  const readAll = Object.values(twelve).some((r) => (r as StreamResult).wholeBodyTaken === true);
  const reproduced = accepted > 0 || (growthMb !== undefined && growthMb > 300) || readAll;
  emit(
    'bigBody',
    {
      bytesEach: bytes,
      parallel,
      big,
      statuses,
      rssBeforeMb: mb(rssBefore),
      rssPeakMb: mb(peak),
      rssAfter5sMb: mb(rssAfter),
      hwmBeforeMb: mb(hwmBefore),
      hwmAfterMb: mb(serverPid === undefined ? undefined : procInfo(serverPid)?.hwmKb),
      twelveMb: twelve,
    },
    reproduced ? 'reproduced' : 'not reproduced',
    `${parallel} × ${round(bytes / 1048576)} MiB: ${JSON.stringify(statuses)}, RSS ${mb(rssBefore) ?? '?'} → peak ${mb(peak) ?? '?'} → ${mb(rssAfter) ?? '?'} MB after 5 s; 12 MiB: ${Object.entries(
      twelve,
    )
      .map(([p, r]) => {
        const s = r as StreamResult;
        const when = s.bodyCompleteBeforeResponse
          ? 'after the whole body'
          : `at ${round((s.bytesSentAtResponse ?? 0) / 1048576)} MiB sent`;
        const taken = s.wholeBodyTaken ? 'all 12 MiB taken' : `stopped reading (${s.error ?? '?'})`;
        return `${p} ${s.status} ${when} (${s.responseMs ?? s.ms} ms), ${taken} in ${s.ms} ms`;
      })
      .join(', ')}`,
  );
}

async function probeIdle(): Promise<void> {
  const seconds = num('idle-seconds', 1, 600);
  let wanted = num('idle-connections', 1, 50_000);
  const limit = openFilesLimit('self');
  const notes: string[] = [];
  if (limit !== undefined && limit < wanted + 200) {
    notes.push(
      `RLIMIT_NOFILE of the probe is ${limit}: lowered from ${wanted} (run 'ulimit -n ${wanted + 500}' first)`,
    );
    wanted = Math.max(1, limit - 200);
  }
  const serverLimit = serverPid === undefined ? undefined : openFilesLimit(serverPid);
  if (serverLimit !== undefined && serverLimit < wanted + 100) notes.push(`server RLIMIT_NOFILE is ${serverLimit}`);
  const sockets: net.Socket[] = [];
  let closedByServer = 0;
  let failed = 0;
  let ours = false;
  const host = target.hostname.replace(/^\[|\]$/g, '');
  for (let at = 0; at < wanted; at += 100) {
    const batch = Array.from(
      { length: Math.min(100, wanted - at) },
      () =>
        new Promise<void>((ok) => {
          const s = net.connect(Number(target.port), host);
          let connected = false;
          const timer = setTimeout(() => {
            failed++;
            s.destroy();
            ok();
          }, 5000);
          s.once('connect', () => {
            connected = true;
            clearTimeout(timer);
            sockets.push(s);
            s.once('close', () => {
              if (!ours) closedByServer++;
            });
            ok();
          });
          s.on('error', () => {
            if (connected) return;
            clearTimeout(timer);
            failed++;
            ok();
          });
        }),
    );
    await Promise.all(batch);
  }
  const opened = sockets.length;
  note(`idle: ${opened} connections open (${failed} failed); watching ${seconds} s…`);
  const started = Date.now();
  const checkpoints: Json[] = [];
  let midHealth: Json | undefined;
  const marks = [10, 30, 60, 90, 120, 300].filter((s) => s < seconds);
  while (Date.now() - started < seconds * 1000 && closedByServer < opened) {
    await sleep(1000);
    const elapsed = (Date.now() - started) / 1000;
    if (marks.length > 0 && elapsed >= (marks[0] ?? 0)) {
      checkpoints.push({ afterSeconds: marks.shift(), stillOpen: opened - closedByServer });
      if (midHealth === undefined) {
        const r = await httpRequest('GET', '/healthz', { timeoutMs: 5000 });
        midHealth = { afterSeconds: round(elapsed, 0), status: r.status || r.error, ms: r.ms };
      }
    }
  }
  const waited = round((Date.now() - started) / 1000, 0);
  const end = await httpRequest('GET', '/healthz', { timeoutMs: 5000 });
  const stillOpen = opened - closedByServer;
  ours = true;
  for (const s of sockets) s.destroy();
  emit(
    'idle',
    {
      wanted,
      opened,
      failed,
      waitedSeconds: waited,
      closedByServer,
      stillOpen,
      checkpoints,
      healthzMeanwhile: midHealth ?? null,
      healthzAtEnd: { status: end.status || end.error, ms: end.ms },
      ...(notes.length > 0 ? { notes } : {}),
    },
    stillOpen > opened / 2 ? 'reproduced' : 'not reproduced',
    `${opened} silent connections: ${stillOpen} still open after ${waited} s (${closedByServer} closed by the server); /healthz meanwhile ${String(midHealth?.status ?? end.status)}`,
  );
}

interface Hammer {
  requests: number;
  perSecond: number;
  statuses: Record<string, number>;
  status429: number;
  retryAfter: string | null;
}

async function hammer(seconds: number, concurrency: number, send: (agent: http.Agent) => Promise<HttpResult>) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const result: Hammer = { requests: 0, perSecond: 0, statuses: {}, status429: 0, retryAfter: null };
  const started = performance.now();
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end && result.requests < 1_000_000) {
        const r = await send(agent);
        result.requests++;
        tally(result.statuses, r.status || r.error || 'none');
        if (r.status === 429) {
          result.status429++;
          const retry = r.headers['retry-after'];
          if (typeof retry === 'string') result.retryAfter = retry;
        }
      }
    }),
  );
  agent.destroy();
  result.perSecond = round(result.requests / ((performance.now() - started) / 1000), 0);
  return result;
}

async function probeRate(): Promise<void> {
  const seconds = num('rate-seconds', 1, 60);
  const rssBefore = rssKb();
  const negotiate = await hammer(seconds, 32, (agent) =>
    httpRequest('POST', '/hubs/demo/negotiate?negotiateVersion=1', { agent }),
  );
  const rest = await hammer(seconds, 32, (agent) =>
    httpRequest('POST', '/api/hubs/tracking/:send?api-version=2022-06-01', {
      agent,
      body: '{"target":"probe","arguments":[]}',
      headers: { 'content-type': 'application/json' },
    }),
  );
  const badKey = { authorization: sasToken(`${target.origin}/bus`, { name: 'probe', key: 'wrong' }) };
  const bus = await hammer(seconds, 32, (agent) =>
    httpRequest('GET', '/bus/probe-rate-none', { agent, headers: badKey }),
  );
  const any429 = negotiate.status429 + rest.status429 + bus.status429;
  await sleep(2000);
  const rssAfter = rssKb();
  const line = (h: Hammer) =>
    `${h.perSecond}/s ${JSON.stringify(h.statuses)}${h.status429 > 0 ? ` Retry-After ${h.retryAfter ?? 'absent'}` : ''}`;
  emit(
    'rate',
    {
      seconds,
      concurrency: 32,
      negotiate: { request: 'POST /hubs/demo/negotiate', ...negotiate },
      failingRest: { request: 'POST /api/hubs/tracking/:send without a token', ...rest },
      busBadKey: { request: 'GET /bus/probe-rate-none with a wrongly signed SAS', ...bus },
      rssBeforeMb: mb(rssBefore),
      rssAfterMb: mb(rssAfter),
    },
    any429 === 0 ? 'reproduced' : 'not reproduced',
    `negotiate ${line(negotiate)}; REST without token ${line(rest)}; /bus bad key ${line(bus)}; RSS ${mb(rssBefore) ?? '?'} → ${mb(rssAfter) ?? '?'} MB`,
  );
}

// ---------------------------------------------------------------------------------------------
// kill -9 and restart of `hubbub bus`

interface Bus {
  child: ChildProcess;
  how: 'direct' | 'npm';
  log: string;
  /** The node process that runs the bus (the child itself, or npm's grandchild). */
  busPid(): number | undefined;
}

function startBus(how: 'direct' | 'npm', repo: string, dir: string, key: string, logDir: string, n: number): Bus {
  const args = ['bus', '--url', `file://${dir}`, '--port', '0', '--host', '127.0.0.1', '--key', `probe=${key}`];
  const log = join(logDir, `bus-${n}.log`);
  const fd = openSync(log, 'w');
  const child =
    how === 'direct'
      ? spawn(process.execPath, ['--import', 'tsx', 'packages/cli/src/main.ts', ...args], {
          cwd: repo,
          stdio: ['ignore', fd, fd],
        })
      : spawn('npm', ['run', '-s', 'hubbub', '--', ...args], { cwd: repo, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  child.on('error', () => undefined);
  return {
    child,
    how,
    log,
    busPid() {
      if (how === 'direct') return child.pid;
      return child.pid === undefined ? undefined : findDescendant(child.pid, 'packages/cli/src/main.ts');
    },
  };
}

function findDescendant(root: number, needle: string): number | undefined {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const info = procInfo(Number(entry));
    if (info !== undefined) parents.set(Number(entry), info.ppid);
  }
  const isUnder = (pid: number) => {
    for (let p = parents.get(pid), hops = 0; p !== undefined && hops < 20; p = parents.get(p), hops++)
      if (p === root) return true;
    return false;
  };
  // npm runs `sh -c "node … main.ts …"`: the bus is the process whose argv[0] is node, not the shell.
  for (const pid of parents.keys()) {
    if (!isUnder(pid)) continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (/(^|\/)node$/.test(argv[0] ?? '') && argv.some((a) => a.includes(needle))) return pid;
    } catch {}
  }
  return undefined;
}

const logText = (bus: Bus) => (existsSync(bus.log) ? readFileSync(bus.log, 'utf8') : '');
const listeningIn = (text: string) => /\{"listening":"([^"]+)"\}/.exec(text)?.[1];

/** `{"listening": URL}` once it is logged; `null` once the process has ended without it; else undefined. */
function listeningState(bus: Bus): string | null | undefined {
  const url = listeningIn(logText(bus));
  if (url !== undefined) return url;
  const pid = bus.child.pid;
  const info = pid === undefined ? undefined : procInfo(pid);
  if (info === undefined || info.state === 'Z' || bus.child.exitCode !== null) return listeningIn(logText(bus)) ?? null;
  return undefined;
}

/** Waits for `{"listening": URL}`, the process ending, or the timeout. */
async function waitListening(bus: Bus, timeoutMs: number): Promise<string | undefined> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const state = listeningState(bus);
    if (state !== undefined) return state ?? undefined;
    await sleep(100);
  }
  return undefined;
}

/**
 * The same, blocking this process: its children are not reaped meanwhile, so a child killed just
 * before stays a zombie until the restart has answered (a supervisor that restarts before it reaps).
 */
function waitListeningBlocking(bus: Bus, timeoutMs: number): string | undefined {
  const end = Date.now() + timeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (Date.now() < end) {
    const state = listeningState(bus);
    if (state !== undefined) return state ?? undefined;
    Atomics.wait(pause, 0, 0, 100);
  }
  return undefined;
}

async function stopBus(bus: Bus): Promise<void> {
  const { how } = bus;
  const pid = bus.child.pid;
  if (pid === undefined) return;
  const exited = new Promise<void>((ok) => {
    if (bus.child.exitCode !== null || bus.child.signalCode !== null) ok();
    else bus.child.once('exit', () => ok());
  });
  try {
    process.kill(how === 'npm' ? -pid : pid, 'SIGTERM');
  } catch {}
  const timer = setTimeout(() => {
    try {
      process.kill(how === 'npm' ? -pid : pid, 'SIGKILL');
    } catch {}
  }, 5000);
  await exited;
  clearTimeout(timer);
}

async function countSurvivors(url: string, key: string, acked: readonly string[]) {
  const origin = new URL(url);
  const r = await httpAt(origin, 'GET', `${origin.pathname}/probe-restart/messages?count=1000`, {
    headers: { authorization: sasToken(url, { name: 'probe', key }) },
  });
  let ids: string[] = [];
  try {
    ids = (JSON.parse(r.body) as { BrokerProperties?: { MessageId?: string } }[]).map(
      (m) => m.BrokerProperties?.MessageId ?? '',
    );
  } catch {}
  const present = new Set(ids);
  return { peekStatus: r.status, inQueue: ids.length, ackedSurvived: acked.filter((id) => present.has(id)).length };
}

async function restartVariant(variant: 'direct' | 'npm', repo: string): Promise<void> {
  const how = variant;
  const work = mkdtempSync(join(tmpdir(), 'hubbub-probe-restart-'));
  const dir = join(work, 'bus');
  const key = randomBytes(16).toString('hex');
  const result: Json = {
    variant,
    command:
      how === 'direct'
        ? 'node --import tsx packages/cli/src/main.ts bus --url file://DIR --port 0 --key probe=…'
        : 'npm run -s hubbub -- bus --url file://DIR --port 0 --key probe=…',
  };
  const started: Bus[] = [];
  try {
    const a = startBus(how, repo, dir, key, work, 1);
    started.push(a);
    const url = await waitListening(a, 30_000);
    if (url === undefined) {
      result.error = `the first bus did not start: ${logText(a).trim().split('\n').slice(-3).join(' | ')}`;
      emit(`restartAfterKill:${variant}`, result, 'error', String(result.error));
      return;
    }
    const origin = new URL(url);
    const auth = () => ({ authorization: sasToken(url, { name: 'probe', key }) });
    const created = await httpAt(origin, 'PUT', `${origin.pathname}/probe-restart`, {
      body: '{"kind":"queue"}',
      headers: { ...auth(), 'content-type': 'application/json' },
    });
    if (created.status !== 201) {
      result.error = `PUT queue: ${created.status || created.error} ${created.body.slice(0, 200)}`;
      emit(`restartAfterKill:${variant}`, result, 'error', String(result.error));
      return;
    }
    const victim = a.busPid();
    result.killedPid = victim;
    const acked: string[] = [];
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    let b: Bus | undefined;
    let killedAt = 0;
    let stateAtRestart: string | undefined;
    let url2: string | undefined;
    let blockedWait = false;
    const killAndRestart = () => {
      // kill -9 and restart in the same tick. npm: the whole process group (npm, sh, node), as a
      // supervisor's kill -9 does; the bus's node process is left an orphan for PID 1 to reap.
      if (how === 'npm' && a.child.pid !== undefined) process.kill(-a.child.pid, 'SIGKILL');
      else if (victim !== undefined) process.kill(victim, 'SIGKILL');
      killedAt = Date.now();
      b = startBus(how, repo, dir, key, work, 2);
      started.push(b);
      stateAtRestart = victim === undefined ? undefined : (procInfo(victim)?.state ?? 'gone');
      if (how === 'direct') {
        // This process is the dead bus's parent: hold off reaping it until the restart answers.
        blockedWait = true;
        url2 = waitListeningBlocking(b, 30_000);
      }
    };
    let seq = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (b === undefined && seq < 2000) {
          const id = `m${seq++}`;
          const r = await httpAt(origin, 'POST', `${origin.pathname}/probe-restart/messages`, {
            agent,
            body: `payload ${id}`,
            headers: { ...auth(), 'content-type': 'text/plain', brokerproperties: JSON.stringify({ MessageId: id }) },
            timeoutMs: 5000,
          });
          if (r.status === 201 && b === undefined) {
            acked.push(id);
            if (acked.length >= 200) killAndRestart();
          }
        }
      }),
    );
    agent.destroy();
    if (b === undefined) killAndRestart();
    const restarted = b as unknown as Bus;
    if (!blockedWait) url2 = await waitListening(restarted, 30_000);
    const stateAfter = victim === undefined ? undefined : procInfo(victim);
    Object.assign(result, {
      ackedBeforeKill: acked.length,
      killedPidStateAtRestart: stateAtRestart,
      killedPidStateWhenRestartAnswered: stateAfter?.state ?? 'gone',
      killedPidParent: stateAfter?.ppid,
      restartCameUp: url2 !== undefined,
      restartMs: Date.now() - killedAt,
    });
    if (url2 !== undefined) {
      Object.assign(result, await countSurvivors(url2, key, acked));
    } else {
      result.restartOutput = logText(restarted)
        .trim()
        .split('\n')
        .slice(-2)
        .join(' | ')
        .split(work)
        .join('DIR')
        .slice(0, 400);
      await stopBus(restarted);
      await sleep(2000); // now this process reaps its child; an orphan is up to PID 1
      const later = victim === undefined ? undefined : procInfo(victim);
      result.killedPidStateAfter2s = later?.state ?? 'gone';
      const c = startBus(how, repo, dir, key, work, 3);
      started.push(c);
      const url3 = await waitListening(c, 30_000);
      result.secondRestartCameUp = url3 !== undefined;
      if (url3 !== undefined) Object.assign(result, await countSurvivors(url3, key, acked));
      else {
        result.secondRestartOutput = logText(c)
          .trim()
          .split('\n')
          .slice(-1)
          .join('')
          .split(work)
          .join('DIR')
          .slice(0, 300);
        // Count what survived on a copy of the log without its LOCK file.
        await stopBus(c);
        const copy = join(work, 'copy');
        cpSync(dir, copy, { recursive: true });
        rmSync(join(copy, 'LOCK'), { force: true });
        const d = startBus('direct', repo, copy, key, work, 4);
        started.push(d);
        const url4 = await waitListening(d, 30_000);
        if (url4 !== undefined) result.onACopyOfTheLog = await countSurvivors(url4, key, acked);
        await stopBus(d);
      }
    }
    const survived =
      (result.ackedSurvived as number | undefined) ??
      ((result.onACopyOfTheLog as Json | undefined)?.ackedSurvived as number | undefined);
    const reproduced = url2 === undefined || (survived !== undefined && survived < acked.length);
    emit(
      `restartAfterKill:${variant}`,
      result,
      reproduced ? 'reproduced' : 'not reproduced',
      `restart right after kill -9: ${url2 !== undefined ? 'came up' : `refused (${String(result.restartOutput ?? '').slice(0, 120)})`}; killed bus pid state ${String(stateAtRestart)} → ${String(result.killedPidStateWhenRestartAnswered)}${url2 === undefined ? `; 2 s later (${String(result.killedPidStateAfter2s)}) restart ${result.secondRestartCameUp ? 'came up' : 'refused again'}` : ''}; acknowledged ${acked.length}, survived ${survived ?? '?'}`,
    );
  } catch (err) {
    result.error = errCode(err);
    emit(`restartAfterKill:${variant}`, result, 'error', String(result.error));
  } finally {
    for (const bus of started.reverse()) await stopBus(bus).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

function printSummary(): void {
  const width = Math.max(5, ...rows.map((r) => r.probe.length));
  const vwidth = Math.max(7, ...rows.map((r) => r.verdict.length));
  const lines = [
    '',
    'SUMMARY',
    `${'probe'.padEnd(width)} | ${'finding'.padEnd(vwidth)} | measured`,
    `${'-'.repeat(width)}-+-${'-'.repeat(vwidth)}-+-${'-'.repeat(40)}`,
    ...rows.map((r) => `${r.probe.padEnd(width)} | ${r.verdict.padEnd(vwidth)} | ${r.numbers}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<number> {
  if (flags.help) {
    process.stdout.write(usage);
    return 0;
  }
  const started = Date.now();
  process.stdout.write(
    `${JSON.stringify({ probe: 'machine', at: new Date().toISOString(), node: process.version, ...machine() })}\n`,
  );
  if (flags['restart-test']) {
    const repo = resolve(flags.repo ?? process.cwd());
    if (!existsSync(join(repo, 'packages/cli/src/main.ts'))) {
      process.stderr.write(`--repo ${repo}: no packages/cli/src/main.ts there\n`);
      return 2;
    }
    for (const variant of ['direct', 'npm'] as const) {
      note(`restartAfterKill: ${variant}…`);
      await restartVariant(variant, repo);
    }
  } else {
    if (flags.url === undefined) {
      process.stderr.write(usage);
      return 2;
    }
    target = new URL(flags.url);
    const host = target.hostname.replace(/^\[|\]$/g, '');
    if (!(net.isIPv4(host) && host.startsWith('127.')) && host !== 'localhost' && host !== '::1') {
      process.stderr.write(`--url ${flags.url}: only loopback targets (127.0.0.0/8, localhost, ::1) are probed\n`);
      return 2;
    }
    if (target.port === '') target.port = '80';
    if (flags.pid !== undefined) serverPid = Number(flags.pid);
    const keyText = flags['bus-key'];
    if (keyText !== undefined) {
      const eq = keyText.indexOf('=');
      busKey =
        eq > 0 && flags['bus-key-name'] === undefined
          ? { name: keyText.slice(0, eq), key: keyText.slice(eq + 1) }
          : { name: flags['bus-key-name'] ?? 'RootManageSharedAccessKey', key: keyText };
    }
    const only = flags.only?.split(',').map((s) => s.trim());
    const unknown = only?.filter((p) => !(PROBES as readonly string[]).includes(p)) ?? [];
    if (unknown.length > 0) {
      process.stderr.write(`--only: unknown probe(s) ${unknown.join(', ')}; known: ${PROBES.join(', ')}\n`);
      return 2;
    }
    const info = serverPid === undefined ? undefined : procInfo(serverPid);
    process.stdout.write(
      `${JSON.stringify({
        probe: 'target',
        url: target.origin,
        pid: serverPid ?? null,
        serverRssMb: mb(info?.rssKb) ?? null,
        serverOpenFilesLimit: serverPid === undefined ? null : (openFilesLimit(serverPid) ?? null),
        probeOpenFilesLimit: openFilesLimit('self') ?? null,
        busKey: busKey === undefined ? null : busKey.name,
      })}\n`,
    );
    const run: Record<ProbeName, () => Promise<void>> = {
      busAuth: probeBusAuth,
      like: probeLike,
      repeatedParams: probeRepeatedParams,
      hubGrowth: () => probeGrowth('hubGrowth'),
      groupGrowth: () => probeGrowth('groupGrowth'),
      bigBody: probeBigBody,
      rate: probeRate,
      idle: probeIdle,
      crash: probeCrash,
    };
    for (const name of PROBES) {
      if (only !== undefined && !only.includes(name)) continue;
      const alive = await aliveCheck();
      if (!alive.alive) {
        emit(
          name,
          { skipped: 'the server does not answer', ...alive },
          'skipped',
          `server not answering (${alive.healthz})`,
        );
        continue;
      }
      note(`${name}…`);
      const t0 = Date.now();
      try {
        await run[name]();
      } catch (err) {
        emit(name, { error: errCode(err) }, 'error', errCode(err));
      }
      note(`${name} done in ${round((Date.now() - t0) / 1000)} s`);
    }
    const end = await aliveCheck();
    const rss = rssKb();
    process.stdout.write(
      `${JSON.stringify({ probe: 'end', serverAlive: end.alive, serverRssMb: mb(rss) ?? null, seconds: round((Date.now() - started) / 1000) })}\n`,
    );
  }
  process.stdout.write(`${JSON.stringify({ probe: 'machineAfter', ...machine() })}\n`);
  printSummary();
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`probe failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
