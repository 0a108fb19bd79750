/**
 * `npm start` for the fuzz suite: the server runs as a child process, so a crash is seen rather
 * than suffered, with the credentials a legitimate client of it holds (the bus key and SignalR
 * access key from `<data>/keys.json`, a tracking link's token from the banner), so that cases can
 * reach the handlers behind authentication too.
 * @module
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { createSasToken } from '@hubbub/bus';
import { createServerToken } from '@hubbub/hub';
import { waitFor } from '@hubbub/kernel';
import { type Running, runScript } from '@hubbub/test-kit';

const main = new URL('../src/main.ts', import.meta.url).pathname;

/** Values a case may name as `{token}`, `{sas}`, `{jwt}`, `{tracking}`; see {@link FuzzServer.vars}. */
export type Vars = Readonly<Record<'token' | 'sas' | 'jwt' | 'tracking', string>>;

export interface FuzzServer {
  readonly port: number;
  readonly url: string;
  readonly run: Running;
  /** Set once the process has exited: its exit code, or the signal that ended it. */
  readonly exit: () => string | undefined;
  /**
   * A bus SAS header value (`{sas}`), a SignalR REST token for `path` (`{jwt}`), the tracking
   * token of order 1001 (`{tracking}`), and `token` as given.
   */
  vars(path: string, token: string): Promise<Vars>;
  stop(): Promise<void>;
}

/**
 * Servers still running. They are killed when this process ends, even without its after hooks: on
 * exit, and on a signal (which is then raised again, so the process ends as it would have).
 */
const live = new Set<Running>();
const reap = () => {
  for (const run of live) run.child.kill('SIGKILL');
};
process.once('exit', reap);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    reap();
    process.kill(process.pid, signal);
  });
}

/** Starts `npm start --port 0 --no-simulate` on a fresh data directory below `root`. */
export async function startServer(root: string): Promise<FuzzServer> {
  const data = mkdtempSync(join(root, 'data-'));
  const run = runScript(main, ['--port', '0', '--data', data, '--no-simulate'], { env: { HUBBUB_LOG_LEVEL: 'error' } });
  let exit: string | undefined;
  live.add(run);
  run.child.once('exit', (code, signal) => {
    exit = signal ?? `code ${code}`;
    live.delete(run);
  });
  try {
    const banner = await waitFor(
      // Fuzzing starts once the server is fully up: the store's setup behind the banner (opening
      // PGlite on a fresh directory, the API's containers, the demo accounts) takes the CPU for a
      // few seconds, which is start-up, not a request taking the server down.
      () =>
        exit !== undefined
          ? 'exited'
          : /Press Ctrl-C/.test(run.stdout()) && /Demo accounts are ready/.test(run.stdout())
            ? run.stdout()
            : undefined,
      { timeoutMs: 60_000, what: 'the banner and the demo accounts' },
    );
    if (exit !== undefined) throw new Error(`the server exited (${exit}) before it printed its URL: ${run.stderr()}`);
    const url = /Open (http:\/\/\S+)\//.exec(banner)?.[1];
    if (url === undefined) throw new Error(`no URL in the banner: ${banner}`);
    const tracking = /order=1001&token=([\w.-]+)/.exec(banner)?.[1] ?? '';
    const keys = JSON.parse(readFileSync(join(data, 'keys.json'), 'utf8')) as Record<string, string | undefined>;
    const bus = { name: keys.busKeyName ?? '', key: keys.busKey ?? '' };
    const signalR = keys.signalRAccessKey ?? '';
    return {
      port: Number(new URL(url).port),
      url,
      run,
      exit: () => exit,
      vars: async (path, token) => ({
        token,
        tracking,
        sas: createSasToken(`${url}/bus`, bus, Date.now() / 1000 + 600),
        jwt: await createServerToken({ audience: `${url}${path}`, accessKey: signalR }),
      }),
      async stop() {
        if (exit === undefined) run.child.kill('SIGKILL');
        await run.exited.catch(() => undefined);
      },
    };
  } catch (err) {
    run.child.kill('SIGKILL');
    throw err;
  }
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A well-formed request from local address `from` (each loopback address has its own budgets). */
export function request(s: FuzzServer, method: string, path: string, from: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: s.port, method, path, localAddress: from, timeout: 5_000 });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 5 s`)));
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.end();
  });
}
