// bus-amqp frames: CPU per transfer frame written by rhea's own transport write (a zero-filled
// 1 KiB buffer per frame) against poolFrames (packages/bus-amqp/src/output.ts: slices of a shared
// 64 KiB buffer), alternating rounds in one process, median of the rounds. Each frame is a
// transfer (16-byte tag, 180-byte payload) made by rhea, 100 per write, to a socket that only
// counts bytes. CPU time only: no wall clock, so it reads the same on a loaded machine. Prints JSON.
//   node --import tsx --conditions=source bench/bus-amqp/frames.ts [--frames 100000] [--rounds 8]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { poolFrames, type RheaConnection } from '@hubbub/bus-amqp/output';

const { values: args } = parseArgs({
  options: { frames: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '8' } },
});
const require = createRequire(import.meta.url);
const rheaDir = require.resolve('rhea').replace(/lib[/\\]container\.js$/, 'lib/');
const frames = require(`${rheaDir}frames.js`);
const Transport = require(`${rheaDir}transport.js`);

let bytes = 0;
const socket = {
  write: (b: Buffer): void => {
    bytes += b.length;
  },
};
const payload = Buffer.alloc(180, 1);
const tag = Buffer.alloc(16, 2);

function round(pooled: boolean, n: number): number {
  const transport = new Transport('bench', 0, frames.TYPE_AMQP, {});
  transport.header_sent = true;
  if (pooled) poolFrames({ amqp_transport: transport } as unknown as RheaConnection);
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i += 100) {
    for (let k = 0; k < 100; k++) {
      const transfer = frames.transfer({
        handle: 0,
        message_format: 0,
        delivery_id: i + k,
        delivery_tag: tag,
        settled: false,
        more: false,
      });
      transport.encode(frames.amqp_frame(1, transfer, payload));
    }
    transport.write(socket);
  }
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / n;
}

const n = Number(args.frames);
const rounds: Record<'rhea' | 'pooled', number[]> = { rhea: [], pooled: [] };
const load = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ')[0]!;
const loadBefore = load();
for (let r = 0; r < Number(args.rounds); r++) {
  rounds.rhea.push(round(false, n));
  rounds.pooled.push(round(true, n));
}
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
const r2 = (x: number): number => Math.round(x * 100) / 100;
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'bus-amqp-frames',
      date: new Date().toISOString(),
      node: process.version,
      loadAverage1m: { before: Number(loadBefore), after: Number(load()) },
      framesPerRound: n,
      cpuUsPerFrame: { rhea: r2(median(rounds.rhea)), pooled: r2(median(rounds.pooled)) },
      rounds: { rhea: rounds.rhea.map(r2), pooled: rounds.pooled.map(r2) },
      bytesWritten: bytes,
    },
    null,
    2,
  )}\n`,
);
