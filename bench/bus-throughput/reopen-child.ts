// Opens a file bus over DIR in a fresh process and prints, as JSON, how long opening took and the
// process's memory before and after (after a full GC when run with --expose-gc): what a restart
// costs, without the parent's own history in its RSS.
//   node --expose-gc --import tsx bench/bus-throughput/reopen-child.ts DIR QUEUE
import { openBus } from '@hubbub/bus';

const [dir = '', queue = 'parked'] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
const settle = (): NodeJS.MemoryUsage => {
  gc?.();
  gc?.();
  return process.memoryUsage();
};
const before = settle();
const start = performance.now();
const bus = await openBus({ url: `file://${dir}` });
const openMs = performance.now() - start;
const active = (await bus.admin.getRuntimeProperties(queue)).activeMessageCount;
await new Promise((r) => setTimeout(r, 200)); // the first refill from the backlog lands
const after = settle();
await bus.close();
process.stdout.write(
  `${JSON.stringify({ openMs, active, rssBefore: before.rss, rssAfter: after.rss, heapAfter: after.heapUsed, buffersAfter: after.arrayBuffers })}\n`,
);
