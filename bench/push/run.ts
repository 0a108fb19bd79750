// push: sends per second through Hubbub's Web Push provider to the local RFC 8030 endpoint, against
// the `web-push` library's own sendNotification to the same endpoint, in one run. Prints JSON.
//   node --import tsx bench/push/run.ts [--sends 2000] [--rounds 5] [--depth 16] [--subscriptions 100]
// Both contenders encrypt every push (aes128gcm, a fresh ECDH key each), carry a VAPID JWT and POST
// over https (a certificate from Hubbub's local CA) with keep-alive connections, `depth` sends in
// flight; web-push gets an https.Agent with keep-alive and the same socket limit. The endpoint runs
// in a child process and verifies and decrypts every push (its CPU is reported, not counted).
// Within a round the contenders alternate in blocks of 500 sends (order flipping per round), so
// load from other work on the machine falls on both; each figure is the median over rounds, after
// one warm-up round. The service-level comparison (durable queue, fan-out) comes with the service.
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createWebPushProvider, generateVapidKeys } from '@hubbub/push/providers';
import { ensureLocalCa } from '@hubbub/tls';
import webpush from 'web-push';
import { Children } from '../lib/children.ts';
import { watchMachine } from '../lib/machine.ts';
import type { EndpointApi } from './endpoint.ts';

const { values: args } = parseArgs({
  options: {
    sends: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '5' },
    depth: { type: 'string', default: '16' },
    subscriptions: { type: 'string', default: '100' },
  },
});
const SENDS = Number(args.sends);
const ROUNDS = Number(args.rounds);
const DEPTH = Number(args.depth);
const SUBSCRIPTIONS = Number(args.subscriptions);
const BLOCK = 500;
const payload = JSON.stringify({
  title: 'Order 1042',
  body: 'Your courier is 3 minutes away',
  icon: '/icons/courier.png',
});

type Who = 'hubbub' | 'webPush';
type Op = (i: number) => Promise<boolean>;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

async function round(ops: Record<Who, Op>, flip: boolean) {
  const order: Who[] = flip ? ['webPush', 'hubbub'] : ['hubbub', 'webPush'];
  const wall = { hubbub: 0, webPush: 0 };
  const cpu = { hubbub: 0, webPush: 0 };
  const failed = { hubbub: 0, webPush: 0 };
  for (let done = 0; done < SENDS; done += BLOCK) {
    for (const who of order) {
      let next = done;
      const end = Math.min(SENDS, done + BLOCK);
      const t = process.hrtime.bigint();
      const c = process.cpuUsage();
      await Promise.all(
        Array.from({ length: DEPTH }, async () => {
          while (next < end) if (!(await ops[who](next++))) failed[who]++;
        }),
      );
      const used = process.cpuUsage(c);
      wall[who] += Number(process.hrtime.bigint() - t) / 1e9;
      cpu[who] += used.user + used.system;
    }
  }
  const figures = (who: Who) => ({ rate: SENDS / wall[who], cpuUs: cpu[who] / SENDS, failed: failed[who] });
  return { hubbub: figures('hubbub'), webPush: figures('webPush') };
}

async function main() {
  const machine = watchMachine();
  const began = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'hubbub-bench-push-'));
  const children = new Children(dirname(fileURLToPath(import.meta.url)));
  const endpoint = children.start<EndpointApi>('endpoint.ts', 'endpoint');
  try {
    const ca = await ensureLocalCa({ dir });
    await endpoint.serving;
    const subs = await endpoint.call('start', { cert: ca.certPem, key: ca.keyPem, subscriptions: SUBSCRIPTIONS });
    const vapid = { ...generateVapidKeys(), subject: 'mailto:bench@hubbub.test' };
    const provider = createWebPushProvider({ vapid, ca: ca.caPem, maxSocketsPerOrigin: DEPTH });
    const agent = new Agent({ ca: ca.caPem, keepAlive: true, maxSockets: DEPTH });
    const json = subs.map((s) => ({ endpoint: s.endpoint, keys: { p256dh: s.p256dh, auth: s.auth } }));
    const ops: Record<Who, Op> = {
      hubbub: async (i) =>
        (
          await provider.deliver({
            platform: 'browser',
            channel: subs[i % subs.length]!,
            body: payload,
            ttlSeconds: 60,
          })
        ).kind === 'delivered',
      webPush: async (i) => {
        try {
          const answer = await webpush.sendNotification(json[i % json.length]!, payload, {
            vapidDetails: vapid,
            TTL: 60,
            agent,
          });
          return answer.statusCode === 201;
        } catch {
          return false;
        }
      },
    };
    const endpointCpu0 = (await endpoint.call('counts', null)).cpuUs;
    await round(ops, false); // warm-up
    const rounds: Awaited<ReturnType<typeof round>>[] = [];
    for (let r = 0; r < ROUNDS; r++) rounds.push(await round(ops, r % 2 === 1));
    const counts = await endpoint.call('counts', null);
    await provider.close();
    agent.destroy();

    const summary = (who: Who) => ({
      sendsPerSecond: Math.round(median(rounds.map((x) => x[who].rate))),
      cpuUsPerSend: r2(median(rounds.map((x) => x[who].cpuUs))),
      failed: rounds.reduce((n, x) => n + x[who].failed, 0),
    });
    const hubbub = summary('hubbub');
    const direct = summary('webPush');
    const total = (ROUNDS + 1) * SENDS * 2;
    console.log(
      JSON.stringify(
        {
          benchmark: 'push',
          date: new Date(began).toISOString(),
          node: process.version,
          machine: machine.stop(),
          config: {
            sends: SENDS,
            rounds: ROUNDS,
            depth: DEPTH,
            subscriptions: SUBSCRIPTIONS,
            payloadBytes: payload.length,
          },
          wallSeconds: Math.round((Date.now() - began) / 1000),
          hubbubProvider: hubbub,
          webPushDirect: direct,
          // > 1: Hubbub's provider is faster / cheaper than web-push called directly.
          ratio: {
            rate: r3(hubbub.sendsPerSecond / direct.sendsPerSecond),
            cpu: r3(direct.cpuUsPerSend / hubbub.cpuUsPerSend),
          },
          perRound: rounds.map((x) => ({
            rate: r3(x.hubbub.rate / x.webPush.rate),
            cpu: r3(x.webPush.cpuUs / x.hubbub.cpuUs),
          })),
          endpoint: {
            received: counts.received,
            expected: total,
            refused: counts.refused,
            cpuUsPerPush: r2((counts.cpuUs - endpointCpu0) / total),
          },
        },
        null,
        1,
      ),
    );
  } finally {
    await children.stop(endpoint, { askToExit: true, timeoutMs: 2_000 });
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
