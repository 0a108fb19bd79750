// push (service level): notifications per second through the whole system — `startSystem` on a
// temporary data directory, so every send is a job on the file bus (fsynced before the send
// returns), its installation read from the store and its outcome written there, then encrypted and
// POSTed by the Web Push provider — against the `web-push` library's sendNotification called
// directly, to the same local RFC 8030 endpoint in the same run. Prints JSON.
//   node --import tsx --conditions=source bench/push/service.ts [--sends 1000] [--rounds 3] [--depth 16] [--store pglite|memory|postgres]
// The endpoint runs in a child process over https (a certificate from the system's own local CA)
// and verifies and decrypts every push. Each round sends `sends` notifications, each to one
// installation (a direct send by installation id, round-robin over 100 browser installations),
// `depth` sends in flight, and counts a round done when the endpoint has received them all; then
// `sends` web-push calls the same way. The contenders alternate per round (order flipping);
// figures are medians over rounds after a warm-up round.
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { silentLogger } from '@hubbub/kernel';
import { startSystem } from '@hubbub/system';
import { ensureLocalCa } from '@hubbub/tls';
import webpush from 'web-push';
import { Children } from '../lib/children.ts';
import { watchMachine } from '../lib/machine.ts';
import type { EndpointApi } from './endpoint.ts';

const { values: args } = parseArgs({
  options: {
    sends: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
    depth: { type: 'string', default: '16' },
    store: { type: 'string', default: 'pglite' },
    // Only one contender's rounds (for a CPU profile of it: node --cpu-prof …).
    only: { type: 'string' },
  },
});
const SENDS = Number(args.sends);
const ROUNDS = Number(args.rounds);
const DEPTH = Number(args.depth);
const INSTALLATIONS = 100;
const payload = JSON.stringify({
  title: 'Order 1042',
  body: 'Your courier is 3 minutes away',
  icon: '/icons/courier.png',
});

type Who = 'system' | 'webPush';

/**
 * CPU of this process's main thread (the event loop) so far, in µs, from /proc (10 ms ticks);
 * undefined where there is none. The rest of `process.cpuUsage()` is other threads: PGlite's, V8's
 * and libuv's.
 */
function mainThreadCpuUs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined;
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

async function main() {
  const machine = watchMachine();
  const began = Date.now();
  const dataDir = await mkdtemp(join(tmpdir(), 'hubbub-bench-push-service-'));
  const children = new Children(dirname(fileURLToPath(import.meta.url)));
  const endpoint = children.start<EndpointApi>('endpoint.ts', 'endpoint');
  try {
    // The system makes its CA in <dataDir>/tls on start; made first here so the endpoint can use it.
    const ca = await ensureLocalCa({ dir: join(dataDir, 'tls') });
    await endpoint.serving;
    const subs = await endpoint.call('start', { cert: ca.certPem, key: ca.keyPem, subscriptions: INSTALLATIONS });
    const system = await startSystem({
      port: 0,
      dataDir,
      logger: silentLogger,
      rateLimits: false,
      ...(args.store === 'memory' ? { storeUrl: 'memory://' } : {}),
      ...(args.store === 'postgres'
        ? {
            storeUrl: `${process.env.HUBBUB_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'}?schema=bench_push_${process.pid}`,
          }
        : {}),
      push: {
        webPushCa: await readFile(join(dataDir, 'tls', 'ca.pem'), 'utf8'),
        vapidSubject: 'mailto:bench@hubbub.test',
      },
    });
    const push = system.push!;
    for (const [n, s] of subs.entries()) {
      await push.upsertInstallation({
        installationId: `browser-${n}`,
        platform: 'browser',
        tags: [`customer_${n}`],
        pushChannel: { endpoint: s.endpoint, p256dh: s.p256dh, auth: s.auth },
      });
    }
    const vapid = { ...system.keys.push.vapid, subject: 'mailto:bench@hubbub.test' };
    const agent = new Agent({ ca: ca.caPem, keepAlive: true, maxSockets: DEPTH });
    const json = subs.map((s) => ({ endpoint: s.endpoint, keys: { p256dh: s.p256dh, auth: s.auth } }));
    let failed = { system: 0, webPush: 0 };
    const ops: Record<Who, (i: number) => Promise<void>> = {
      system: async (i) => {
        await push.send(
          { format: 'browser', body: payload },
          { kind: 'installation', installationId: `browser-${i % INSTALLATIONS}` },
        );
      },
      webPush: async (i) => {
        try {
          await webpush.sendNotification(json[i % json.length]!, payload, { vapidDetails: vapid, TTL: 60, agent });
        } catch {
          failed.webPush++;
        }
      },
    };
    push.on('delivery:failed', () => void failed.system++);

    /**
     * One contender's round: wall seconds until the endpoint has received every push, and this
     * process's CPU (user + system, µs) meanwhile — the system runs in this process, so its CPU per
     * send against web-push's is the measure a loaded machine does not bend.
     */
    async function run(who: Who): Promise<{ seconds: number; cpuUs: number; mainUs: number | undefined }> {
      const before = (await endpoint.call('counts', null)).received;
      const t = process.hrtime.bigint();
      const cpu0 = process.cpuUsage();
      const main0 = mainThreadCpuUs();
      let next = 0;
      await Promise.all(
        Array.from({ length: DEPTH }, async () => {
          while (next < SENDS) await ops[who](next++);
        }),
      );
      const deadline = Date.now() + 120_000;
      while ((await endpoint.call('counts', null)).received - before < SENDS - failed[who]) {
        if (Date.now() > deadline) throw new Error(`${who}: not every push arrived within 120 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
      const cpu = process.cpuUsage(cpu0);
      const main1 = mainThreadCpuUs();
      return {
        seconds: Number(process.hrtime.bigint() - t) / 1e9,
        cpuUs: cpu.user + cpu.system,
        mainUs: main0 === undefined || main1 === undefined ? undefined : main1 - main0,
      };
    }

    const who: Who[] = args.only === undefined ? ['system', 'webPush'] : [args.only as Who];
    if (!who.every((w) => w in ops)) throw new Error(`--only takes system or webPush, not ${args.only}`);
    for (const w of who) await run(w); // warm-up
    failed = { system: 0, webPush: 0 };
    const rates: Record<Who, number[]> = { system: [], webPush: [] };
    const cpuPerSend: Record<Who, number[]> = { system: [], webPush: [] };
    const mainPerSend: Record<Who, number[]> = { system: [], webPush: [] };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? who : [...who].reverse();
      for (const w of order) {
        const { seconds, cpuUs, mainUs } = await run(w);
        if (mainUs !== undefined) mainPerSend[w].push(mainUs / SENDS);
        rates[w].push(SENDS / seconds);
        cpuPerSend[w].push(cpuUs / SENDS);
      }
    }
    if (args.store === 'postgres') await system.store.database('push').delete(); // the run's data
    await system.close();
    agent.destroy();
    const system1 = Math.round(median(rates.system));
    const direct = Math.round(median(rates.webPush));
    console.log(
      JSON.stringify(
        {
          benchmark: 'push-service',
          date: new Date(began).toISOString(),
          node: process.version,
          machine: machine.stop(),
          config: {
            sends: SENDS,
            rounds: ROUNDS,
            depth: DEPTH,
            installations: INSTALLATIONS,
            store: args.store,
            bus: 'file',
          },
          wallSeconds: Math.round((Date.now() - began) / 1000),
          systemSendsPerSecond: system1,
          webPushDirectSendsPerSecond: direct,
          // The target: at least 0.8.
          ratio: r3(system1 / direct),
          perRound: rates.system.map((s, i) => r3(s / rates.webPush[i]!)),
          // This process's CPU per send (µs, median over rounds): the system's whole path
          // (front to queue to provider, the store when it is PGlite) against web-push's call.
          cpuUsPerSend: {
            system: Math.round(median(cpuPerSend.system)),
            webPush: Math.round(median(cpuPerSend.webPush)),
            ratio: r3(median(cpuPerSend.webPush) / median(cpuPerSend.system)),
            perRound: cpuPerSend.system.map((s, i) => r3(cpuPerSend.webPush[i]! / s)),
            // Of it, the main thread's (Linux; 10 ms ticks): the event loop every send passes through.
            ...(mainPerSend.system.length + mainPerSend.webPush.length === 0
              ? {}
              : {
                  mainThread: {
                    system: Math.round(median(mainPerSend.system)),
                    webPush: Math.round(median(mainPerSend.webPush)),
                  },
                }),
          },
          failed,
        },
        null,
        1,
      ),
    );
  } finally {
    await children.stop(endpoint, { askToExit: true, timeoutMs: 2_000 });
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
