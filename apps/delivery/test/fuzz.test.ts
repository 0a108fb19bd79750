/**
 * One bad request must never take Hubbub down. `npm start`'s server runs as a child process and
 * gets malformed request lines, percent-encodings, methods, headers and bodies on every route
 * family (some with valid credentials, to get past authentication), WebSocket upgrades, and random
 * SignalR frames after a handshake; after every case it must still be running and answer GET
 * /healthz, and every few cases (and at the end) also a negotiate and a WebSocket handshake on the
 * demo hub, from a loopback address of its own. The requests known to have crashed it go first.
 *
 *   node --import tsx --test apps/delivery/test/fuzz.test.ts    # default: 15 s of random cases, ~20 s in all
 *   HUBBUB_FUZZ_SECONDS=300 node --import tsx --test apps/delivery/test/fuzz.test.ts    # a longer run
 *   HUBBUB_FUZZ_SEED=<seed> …    # the same cases as the run that printed "seed: <seed>"; random otherwise
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
import { bytesOf, type Chunk, httpCase, pathOf, renderHttp, renderUpgrade, upgradeCase } from './fuzz-arbitraries.ts';
import { framesCase, renderFrame, type WireFrame } from './fuzz-frames.ts';
import { type Answer, type FuzzServer, request, startServer, type Vars } from './fuzz-server.ts';
import { exchange, handshake, upgradeRequest } from './fuzz-wire.ts';

const seconds = Number(process.env.HUBBUB_FUZZ_SECONDS ?? 15);
const seed = Number(process.env.HUBBUB_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
assert.ok(seconds > 0 && Number.isInteger(seed), 'HUBBUB_FUZZ_SECONDS must be > 0 and HUBBUB_FUZZ_SEED an integer');
/** The negotiate and WebSocket handshake run after every this many cases; /healthz after each. */
const fullCheckEvery = 10;

interface KnownVector {
  readonly name: string;
  /** The request; `{token}` stands for a fresh connection token of the demo hub. */
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

/**
 * Fuzzing clients connect from 16 loopback addresses in turn, the alive checks from 8 others: the
 * server keeps request budgets per address, and a legitimate client must not pay for an attacker.
 */
const fuzzer = (n: number) => `127.0.0.${2 + (n % 16)}`;
let checks = 0;
const checker = () => `127.0.1.${1 + (checks++ % 8)}`;

/** A well-formed request from a checker, retried (three times at most, waiting ≤ 2 s) when rate limited. */
async function checked(s: FuzzServer, method: string, path: string): Promise<Answer> {
  for (let attempt = 1; ; attempt++) {
    const answer = await request(s, method, path, checker());
    if (answer.status !== 429 || attempt === 3) return answer;
    const wait = Math.min(2_000, 1_000 * Number(answer.headers['retry-after'] ?? 1));
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

const tokenOf = (answer: Answer): string | undefined => {
  if (answer.status !== 200) return undefined;
  const { connectionToken } = JSON.parse(answer.body) as { connectionToken?: unknown };
  return typeof connectionToken === 'string' ? connectionToken : undefined;
};
const negotiatePath = '/hubs/demo/negotiate?negotiateVersion=1';

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
    const health = await checked(s, 'GET', '/healthz');
    assert.equal(health.status, 200, `GET /healthz answered ${health.status}: ${health.body}`);
    if (!full) return;
    const negotiated = await checked(s, 'POST', negotiatePath);
    const token = tokenOf(negotiated);
    assert.ok(token, `negotiate answered ${negotiated.status}: ${negotiated.body}`);
    (await handshake(s.port, checker(), token, 'json')).close();
  });

/** A connection token negotiated by a fuzzing client, or '' when it got none (over its budget). */
const fuzzToken = (s: FuzzServer, from: string) =>
  request(s, 'POST', negotiatePath, from).then(tokenOf, () => undefined);

/** Credentials for a case that names them; a connection token only when it asks for one. */
async function varsFor(s: FuzzServer, shown: string, from: string, target: Chunk = '/'): Promise<Vars> {
  const token = shown.includes('{token}') ? ((await fuzzToken(s, from)) ?? '') : '';
  return s.vars(pathOf(target), token);
}

/** Sends random cases for `share` of the budget from the fuzzing addresses, checking the server after each. */
async function fuzz<T>(
  t: TestContext,
  arbitrary: fc.Arbitrary<T>,
  share: number,
  send: (s: FuzzServer, c: T, from: string, shown: string) => Promise<void>,
) {
  const s = await server();
  let cases = 0;
  let running: Promise<unknown> = Promise.resolve();
  const started = Date.now();
  const run = async (c: T) => {
    const n = ++cases;
    const shown = fc.stringify(c);
    remember(`#${n} ${shown}`);
    await send(s, c, fuzzer(n), shown);
    await assertAlive(s, n % fullCheckEvery === 0, `case #${n}`);
  };
  await fc.assert(
    fc.asyncProperty(arbitrary, (c) => {
      const result = run(c);
      running = result.catch((err: unknown) => err);
      return result;
    }),
    {
      seed,
      numRuns: 1_000_000,
      endOnFailure: true,
      includeErrorInReport: true,
      plugins: [fc.interruptAfterTimeLimit(seconds * 1_000 * share)],
    },
  );
  const late = await running; // the time limit interrupts without waiting for the case in flight
  if (late instanceof Error) throw late;
  await assertAlive(s, true, `the last of ${cases} cases`);
  t.diagnostic(`seed ${seed}: ${cases} cases in ${((Date.now() - started) / 1_000).toFixed(1)} s`);
  return cases;
}

const budget = { timeout: seconds * 1_000 + 60_000 };

/** Bad input is the client's error: a 5xx answer means a handler failed on it (the guard caught a bug). */
function assertNoServerError(answer: Buffer): void {
  const status = /^HTTP\/1\.1 (\d{3})/.exec(answer.subarray(0, 16).toString('latin1'))?.[1];
  assert.ok(status === undefined || !status.startsWith('5'), `the server answered ${status}`);
}

describe('fuzz: one bad request never takes the all-in-one server down', () => {
  describe('known crash vectors', () => {
    for (const vector of knownVectors) {
      it(`survives ${vector.name}`, async () => {
        const s = await server();
        const vars = await varsFor(s, vector.request, fuzzer(0));
        remember(vector.name);
        const frames = (vector.frames ?? []).map(renderFrame);
        assertNoServerError(
          await exchange(s.port, fuzzer(0), Buffer.concat([bytesOf(vector.request, vars), ...frames])),
        );
        await assertAlive(s, true, vector.name);
      });
    }
  });

  it('survives random requests on every route', budget, async (t) => {
    await fuzz(t, httpCase, 0.5, async (s, c, from, shown) => {
      const answer = await exchange(s.port, from, renderHttp(c, await varsFor(s, shown, from, c.target)), {
        hold: c.hold,
      });
      assertNoServerError(answer);
    });
  });

  it('survives random WebSocket upgrades', budget, async (t) => {
    await fuzz(t, upgradeCase, 0.2, async (s, c, from, shown) => {
      assertNoServerError(await exchange(s.port, from, renderUpgrade(c, await varsFor(s, shown, from, c.target))));
    });
  });

  it('survives random SignalR frames after a handshake', budget, async (t) => {
    let connected = 0;
    const cases = await fuzz(t, framesCase, 0.3, async (s, c, from) => {
      const token = await fuzzToken(s, from);
      const peer = token && (await handshake(s.port, from, token, c.protocol).catch(() => undefined));
      if (!peer) return; // over this address's budget: the alive check after it still runs
      connected++;
      try {
        for (const frame of c.frames) peer.socket.write(renderFrame(frame));
        await peer.settle(1_000, { end: c.frames.some((f) => f.length !== undefined) });
      } finally {
        peer.close();
      }
    });
    assert.ok(connected >= cases / 2, `only ${connected} of ${cases} cases completed a handshake`);
  });
});
