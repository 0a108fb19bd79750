/**
 * One bad request must never take Hubbub down. `npm start`'s server runs as a child process and
 * gets malformed request lines, percent-encodings, methods, headers and bodies on every route
 * family, WebSocket upgrades, and random SignalR frames after a handshake; after every case it must
 * still be running and answer GET /healthz, and every few cases (and at the end) also a negotiate
 * and a WebSocket handshake on the demo hub. The requests known to have crashed it go first.
 *
 *   node --import tsx --test apps/delivery/test/fuzz.test.ts    # default: 15 s of random cases, ~20 s in all
 *   HUBBUB_FUZZ_SECONDS=300 node --import tsx --test apps/delivery/test/fuzz.test.ts    # a longer run
 *   HUBBUB_FUZZ_SEED=<seed> …    # replays the run a failure printed ("seed: …"); the seed is random otherwise
 *
 * No shrinking (a case that kills the server would leave nothing to shrink against): a failure
 * prints the case, the seed, the cases just before it, and the server's stderr.
 * @module
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import fc from 'fast-check';
import { bytesOf, httpCase, renderHttp, renderUpgrade, upgradeCase } from './fuzz-arbitraries.ts';
import { framesCase, renderFrame, type WireFrame } from './fuzz-frames.ts';
import { exchange, type FuzzServer, handshake, startServer, upgradeRequest } from './fuzz-wire.ts';

const seconds = Number(process.env.HUBBUB_FUZZ_SECONDS ?? 15);
const seed = Number(process.env.HUBBUB_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
assert.ok(seconds > 0 && Number.isInteger(seed), 'HUBBUB_FUZZ_SECONDS must be > 0 and HUBBUB_FUZZ_SEED an integer');
/** The negotiate and WebSocket handshake run after every this many cases; /healthz after each. */
const fullCheckEvery = 10;

interface KnownVector {
  readonly name: string;
  /** The request, `{token}` standing for a fresh connection token of the demo hub. */
  readonly request: string;
  /** Frames written right after it. */
  readonly frames?: readonly WireFrame[];
}

const raw = (request: string): KnownVector => ({ name: JSON.stringify(request.split('\r\n')[0]), request });
const upgrade = (target: string, frames: WireFrame[] = []): KnownVector => ({
  name: `WebSocket upgrade to ${target}${frames.length > 0 ? ` and ${frames.length} frame(s)` : ''}`,
  request: upgradeRequest(target),
  frames,
});
const hello: WireFrame = { opcode: 1, payload: '{"protocol":"json","version":1}\x1e' };
const helloMessagePack: WireFrame = { opcode: 1, payload: '{"protocol":"messagepack","version":1}\x1e' };

/** Requests known to end the process before the guard, and their neighbours on the other routes; one test each, first. */
const knownVectors: readonly KnownVector[] = [
  raw('POST /hubs/%ZZ/negotiate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n'),
  raw('POST /hubs/%E2%82/negotiate?negotiateVersion=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n'),
  raw('GET // HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'),
  raw('GET /\\ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'),
  raw('GET http://[ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'),
  raw('GET http://a:99999/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'),
  raw('GET /%ZZ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'),
  raw('GET /hubs/demo?id=%ZZ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'),
  raw('POST /client/negotiate?hub=%ZZ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n'),
  raw('POST /api/v1/hubs/%ZZ/:send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}'),
  raw('GET /api/%ZZ?orderid=%ZZ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'),
  raw('POST /bus/%ZZ/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}'),
  raw(
    'POST /bus/q/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: SharedAccessSignature sr=%ZZ&sig=%ZZ&se=1&skn=%ZZ\r\nContent-Length: 0\r\n\r\n',
  ),
  raw('GET /track?order=%ZZ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'),
  upgrade('/hubs/%ZZ'),
  upgrade('//'),
  upgrade('http://['),
  upgrade('/client/?hub=%ZZ'),
  upgrade('/hubs/demo?id={token}', [hello, { opcode: 1, payload: '{', length: 2 ** 53 - 1 }]),
  upgrade('/hubs/demo?id={token}', [hello, { opcode: 1, payload: Uint8Array.from([0x7b, 0xc3, 0x28, 0x1e]) }]),
  upgrade('/hubs/demo?id={token}', [
    helloMessagePack,
    { opcode: 2, payload: Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x94]) },
  ]),
];

const root = mkdtempSync(join(tmpdir(), 'hubbub-fuzz-'));
const servers: FuzzServer[] = [];
let current: FuzzServer | undefined;
const recent: string[] = [];

after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(root, { recursive: true, force: true });
});

/** The running server; a new one when the last case killed it (each test reports its own crash). */
async function server(): Promise<FuzzServer> {
  if (current === undefined || current.exit() !== undefined) {
    current = await startServer(root);
    servers.push(current);
  }
  return current;
}

function remember(what: string): void {
  recent.push(what.length > 400 ? `${what.slice(0, 400)}…` : what);
  if (recent.length > 5) recent.shift();
}

/** A well-formed request, retried (at most three times, Retry-After capped at 2 s) when rate limited. */
async function request(s: FuzzServer, path: string, init: RequestInit = {}): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(`${s.url}${path}`, { ...init, signal: AbortSignal.timeout(5_000) });
    if (response.status !== 429 || attempt === 3) return response;
    await response.arrayBuffer();
    const wait = Math.min(2_000, 1_000 * Number(response.headers.get('retry-after') ?? 1));
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

async function negotiate(s: FuzzServer): Promise<string> {
  const response = await request(s, '/hubs/demo/negotiate?negotiateVersion=1', { method: 'POST' });
  const text = await response.text();
  assert.equal(response.status, 200, `negotiate answered ${response.status}: ${text}`);
  const { connectionToken } = JSON.parse(text) as { connectionToken?: unknown };
  assert.equal(typeof connectionToken, 'string', `negotiate answered without a connectionToken: ${text}`);
  return connectionToken as string;
}

/** Runs `step`; when it fails, fails saying what came before and what the server printed. */
async function diagnosed<T>(s: FuzzServer, what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    await waitFor(() => s.exit(), { timeoutMs: 1_000 }).catch(() => undefined);
    const state = s.exit() === undefined ? 'did not answer' : `exited (${s.exit()})`;
    return assert.fail(
      `the server ${state} after ${what}: ${err instanceof Error ? err.message : String(err)}\n` +
        `last cases:\n  ${recent.join('\n  ')}\nserver stderr (tail):\n${s.run.stderr().slice(-3_000)}`,
    );
  }
}

/** GET /healthz answers 200; with `full`, a negotiate and a WebSocket handshake on the demo hub succeed too. */
const assertAlive = (s: FuzzServer, full: boolean, what: string) =>
  diagnosed(s, what, async () => {
    const response = await request(s, '/healthz');
    const text = await response.text();
    assert.equal(response.status, 200, `GET /healthz answered ${response.status}: ${text}`);
    if (full) (await handshake(s.port, await negotiate(s), 'json')).close();
  });

/** A fresh connection token when the case asks for one (`{token}`). */
const tokenFor = (s: FuzzServer, shown: string, what: string) =>
  shown.includes('{token}') ? diagnosed(s, what, () => negotiate(s)) : Promise.resolve('');

/** Sends random cases for `share` of the budget, checking the server after each. */
async function fuzz<T>(
  t: TestContext,
  arbitrary: fc.Arbitrary<T>,
  share: number,
  send: (s: FuzzServer, c: T, token: string) => Promise<void>,
) {
  const s = await server();
  let cases = 0;
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(arbitrary, async (c) => {
      const shown = fc.stringify(c);
      const token = await tokenFor(s, shown, `case #${cases}`);
      cases++;
      remember(`#${cases} ${shown}`);
      await send(s, c, token);
      await assertAlive(s, cases % fullCheckEvery === 0, `case #${cases}`);
    }),
    {
      seed,
      numRuns: 1_000_000,
      endOnFailure: true,
      includeErrorInReport: true,
      plugins: [fc.interruptAfterTimeLimit(seconds * 1_000 * share)],
    },
  );
  await assertAlive(s, true, `the last of ${cases} cases`);
  t.diagnostic(`seed ${seed}: ${cases} cases in ${((Date.now() - started) / 1_000).toFixed(1)} s`);
}

const budget = { timeout: seconds * 1_000 + 60_000 };

describe('fuzz: one bad request never takes the all-in-one server down', () => {
  describe('known crash vectors', () => {
    for (const vector of knownVectors) {
      it(`survives ${vector.name}`, async () => {
        const s = await server();
        const token = await tokenFor(s, vector.request, 'the previous test');
        remember(vector.name);
        const frames = (vector.frames ?? []).map(renderFrame);
        await exchange(s.port, Buffer.concat([bytesOf(vector.request, token), ...frames]));
        await assertAlive(s, true, vector.name);
      });
    }
  });

  it('survives random requests on every route', budget, (t) =>
    fuzz(t, httpCase, 0.5, async (s, c, token) => {
      await exchange(s.port, renderHttp(c, token), { hold: c.hold });
    }),
  );

  it('survives random WebSocket upgrades', budget, (t) =>
    fuzz(t, upgradeCase, 0.2, async (s, c, token) => {
      await exchange(s.port, renderUpgrade(c, token));
    }),
  );

  it('survives random SignalR frames after a handshake', budget, (t) =>
    fuzz(t, framesCase, 0.3, async (s, c) => {
      const peer = await diagnosed(s, 'the previous case', async () =>
        handshake(s.port, await negotiate(s), c.protocol),
      );
      try {
        for (const frame of c.frames) peer.socket.write(renderFrame(frame));
        await peer.settle(1_000, { end: c.frames.some((f) => f.length !== undefined) });
      } finally {
        peer.close();
      }
    }),
  );
});
