/**
 * Load-robust cost of one durable single-message send on the file bus (issue 19): CPU, bytes
 * allocated and bytes promoted to old space per send, from V8's GC profiler (heap used before and
 * after every GC), in an open loop with `--window` sends in flight and a closed loop of 16 senders.
 *
 *     node --import tsx bench/bus-throughput/alloc.ts [--count 50000] [--window 4096] [--url file://DIR|memory://]
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GCProfiler } from 'node:v8';
import { openBus } from '@hubbub/bus';

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '50000' },
    window: { type: 'string', default: '4096' },
    senders: { type: 'string', default: '16' },
    url: { type: 'string' },
  },
});
const COUNT = Number(args.count);

interface Space {
  spaceName: string;
  spaceUsedSize: number;
}
interface GcStat {
  cost: number;
  beforeGC: { heapStatistics: { usedHeapSize: number }; heapSpaceStatistics: Space[] };
  afterGC: { heapStatistics: { usedHeapSize: number }; heapSpaceStatistics: Space[] };
}

const oldUsed = (s: Space[]): number => s.find((x) => x.spaceName === 'old_space')?.spaceUsedSize ?? 0;

async function measure(label: string, inFlight: number): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-alloc-'));
  const bus = await openBus({ url: args.url ?? `file://${dir}`, entities: { queues: [{ name: 'bench' }] } });
  const sender = bus.createSender('bench');
  const run = async (n: number): Promise<void> => {
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < n) await sender.send({ body: { t: performance.now(), i: next++ } });
      }),
    );
  };
  await run(Math.min(5000, COUNT)); // warm-up: compiled paths, prefilled segment
  const used0 = process.memoryUsage().heapUsed;
  const profiler = new GCProfiler();
  profiler.start();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(COUNT);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const used1 = process.memoryUsage().heapUsed;
  const stats = (profiler.stop()?.statistics ?? []) as unknown as GcStat[];
  let freed = 0;
  let promoted = 0;
  let gcUs = 0;
  for (const s of stats) {
    freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
    const grew = oldUsed(s.afterGC.heapSpaceStatistics) - oldUsed(s.beforeGC.heapSpaceStatistics);
    if (grew > 0) promoted += grew;
    gcUs += s.cost;
  }
  await bus.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    scenario: label,
    messages: COUNT,
    durableSendsPerSecond: Math.round(COUNT / (ms / 1000)),
    cpuUsPerSend: +((cpu.user + cpu.system) / COUNT).toFixed(2),
    allocatedBytesPerSend: Math.round((used1 - used0 + freed) / COUNT),
    promotedBytesPerSend: Math.round(promoted / COUNT),
    gcs: stats.length,
    gcUsPerSend: +(gcUs / COUNT).toFixed(2),
  };
}

const load = (await import('node:os')).loadavg()[0]!.toFixed(1);
console.log(JSON.stringify({ load1m: +load, url: args.url ?? 'file://(tmp)' }));
console.log(JSON.stringify(await measure(`open loop, ${args.window} in flight`, Number(args.window))));
console.log(JSON.stringify(await measure(`closed loop, ${args.senders} senders`, Number(args.senders))));
