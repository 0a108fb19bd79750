/**
 * Micro-benchmark: tag-expression fan-out over 100,000 installations in the memory repository,
 * through the whole service (send → fanout job → deliver jobs → provider → outcome counts), with a
 * provider that accepts at once, so what is timed is the service's own work.
 * - `indexed`: `segment_1 || segment_2` (2 % of installations) read from the tag index, against
 *   the in-run baseline of evaluating the expression on every installation (a scan, no sending).
 * - `all`: an expression every installation matches, 100,000 deliveries, timed to `Completed`.
 * Prints JSON. Run:
 *   node --import tsx packages/push/bench/fanout.bench.ts [--installations 100000] [--rounds 3]
 */
import { parseArgs } from 'node:util';
import { waitFor } from '@hubbub/kernel';
import { createMemoryInstallationRepository } from '../src/memory/repository.ts';
import type { DeliveryOutcome, PushProvider } from '../src/providers/provider.ts';
import { sampleInstallation } from '../src/repository-conformance.ts';
import { createPushService } from '../src/service.ts';
import { parseTagExpression } from '../src/tags.ts';

const { values } = parseArgs({
  options: { installations: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '3' } },
});
const total = Number(values.installations);
const rounds = Number(values.rounds);

let delivered = 0;
const accepting: PushProvider = {
  platform: 'fcmv1',
  maxPayloadBytes: 4096,
  validateChannel() {},
  async deliver(): Promise<DeliveryOutcome> {
    delivered++;
    return { kind: 'delivered' };
  },
  async close() {},
};

const repository = createMemoryInstallationRepository();
for (let n = 0; n < total; n++) {
  await repository.put(
    sampleInstallation(`i${String(n).padStart(7, '0')}`, { tags: ['all', `segment_${n % 100}`, `city_${n % 7}`] }),
  );
}
const push = createPushService({ providers: [accepting], repository });
await push.start();

async function timedSend(expression: string): Promise<{ ms: number; deliveries: number }> {
  const started = performance.now();
  const { notificationId } = await push.send({ format: 'fcmv1', body: '{}' }, { kind: 'tags', expression });
  const outcome = await waitFor(
    async () => {
      const o = await push.getNotificationOutcome(notificationId);
      return o?.state === 'Completed' ? o : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 1 },
  );
  return { ms: performance.now() - started, deliveries: outcome.counts.fcmv1?.success ?? 0 };
}

async function scan(expression: string): Promise<{ ms: number; matches: number }> {
  const parsed = parseTagExpression(expression);
  const started = performance.now();
  let matches = 0;
  for await (const i of repository.find()) if (parsed.matches(new Set(i.tags))) matches++;
  return { ms: performance.now() - started, matches };
}

const results: Array<Record<string, number>> = [];
for (let r = 0; r < rounds; r++) {
  const indexed = await timedSend('segment_1 || segment_2');
  const baseline = await scan('segment_1 || segment_2');
  const all = await timedSend('all && !city_none');
  results.push({
    indexedMs: Math.round(indexed.ms * 10) / 10,
    indexedDeliveries: indexed.deliveries,
    scanOnlyMs: Math.round(baseline.ms * 10) / 10,
    scanMatches: baseline.matches,
    allMs: Math.round(all.ms),
    allDeliveries: all.deliveries,
    allDeliveriesPerSecond: Math.round(all.deliveries / (all.ms / 1000)),
  });
}
await push.close();

const median = (key: string) => {
  const sorted = results.map((x) => x[key] ?? 0).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};
console.log(
  JSON.stringify(
    {
      benchmark: 'push-fanout',
      date: new Date().toISOString(),
      node: process.version,
      installations: total,
      rounds: results,
      median: {
        indexedMs: median('indexedMs'),
        scanOnlyMs: median('scanOnlyMs'),
        indexedVsScan: Math.round((median('indexedMs') / median('scanOnlyMs')) * 1000) / 1000,
        allMs: median('allMs'),
        allDeliveriesPerSecond: median('allDeliveriesPerSecond'),
      },
      totalDelivered: delivered,
    },
    null,
    2,
  ),
);
