/**
 * Micro-benchmark: write + parse of a small Invocation (what a hub fans out for every broadcast),
 * Hubbub's codecs against the official client's (`@microsoft/signalr` JsonHubProtocol,
 * `@microsoft/signalr-protocol-msgpack` MessagePackHubProtocol) as the in-run baseline.
 * Also times write alone (the fan-out path encodes once) and parse alone (every client message).
 * Bounded by time per case; the order of cases alternates over rounds. Prints JSON. Run:
 *   node --import tsx packages/hub-protocol/bench/codec.bench.ts [--ms 300] [--rounds 3]
 */
import { parseArgs } from 'node:util';
import { type HubMessage as ClientHubMessage, JsonHubProtocol, NullLogger } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { type HubMessage, jsonProtocol, messagePackProtocol } from '../src/index.ts';

const { values } = parseArgs({
  options: { ms: { type: 'string', default: '300' }, rounds: { type: 'string', default: '3' } },
});
const budgetMs = Number(values.ms);
const rounds = Number(values.rounds);

/** A typical server→client broadcast: a courier's position for one order. */
const message: HubMessage = {
  type: 1,
  target: 'courierMoved',
  arguments: [{ orderId: 'o-1842', lat: 52.52001, lng: 13.40495, heading: 270, at: '2026-11-21T23:00:00Z' }],
};
const clientMessage = message as unknown as ClientHubMessage;

const officialJson = new JsonHubProtocol();
const officialMsgpack = new MessagePackHubProtocol();
const logger = NullLogger.instance;

const jsonBytes = jsonProtocol.writeMessage(message);
const jsonText = new TextDecoder().decode(jsonBytes);
const jsonBuffer = Buffer.from(jsonText, 'utf8');
const msgpackBytes = messagePackProtocol.writeMessage(message);
const msgpackBuffer = new Uint8Array(msgpackBytes).buffer;

type Case = () => unknown;
/**
 * [ours, official] per measurement. The official JSON codec speaks strings; a server built on it
 * must still turn them into and out of bytes, so its "bytes" rows add Node's cheapest UTF-8
 * conversions (`Buffer.from`, `buf.toString`). The "strings only" row leaves them out.
 */
const cases: Record<string, readonly [Case, Case]> = {
  'json write+parse (bytes)': [
    () => jsonProtocol.parseMessages(jsonProtocol.writeMessage(message)),
    () =>
      officialJson.parseMessages(
        Buffer.from(officialJson.writeMessage(clientMessage) as string, 'utf8').toString('utf8'),
        logger,
      ),
  ],
  'json write+parse (official strings only)': [
    () => jsonProtocol.parseMessages(jsonProtocol.writeMessage(message)),
    () => officialJson.parseMessages(officialJson.writeMessage(clientMessage) as string, logger),
  ],
  'json write (bytes)': [
    () => jsonProtocol.writeMessage(message),
    () => Buffer.from(officialJson.writeMessage(clientMessage) as string, 'utf8'),
  ],
  'json parse (bytes)': [
    () => jsonProtocol.parseMessages(jsonBytes),
    () => officialJson.parseMessages(jsonBuffer.toString('utf8'), logger),
  ],
  'json parse (string)': [
    () => jsonProtocol.parseMessages(jsonText),
    () => officialJson.parseMessages(jsonText, logger),
  ],
  'messagepack write+parse': [
    () => messagePackProtocol.parseMessages(messagePackProtocol.writeMessage(message)),
    () => officialMsgpack.parseMessages(officialMsgpack.writeMessage(clientMessage) as ArrayBuffer, logger),
  ],
  'messagepack write': [
    () => messagePackProtocol.writeMessage(message),
    () => officialMsgpack.writeMessage(clientMessage),
  ],
  'messagepack parse': [
    () => messagePackProtocol.parseMessages(msgpackBytes),
    () => officialMsgpack.parseMessages(msgpackBuffer, logger),
  ],
};

let sink: unknown;
/** Operations per second over `budgetMs`, in batches of 1,000 so the clock is read rarely. */
function opsPerSec(run: Case): number {
  for (let i = 0; i < 10_000; i++) sink = run(); // warm-up
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(budgetMs) * 1_000_000n;
  let now = start;
  let count = 0;
  while (now < deadline) {
    for (let i = 0; i < 1000; i++) sink = run();
    count += 1000;
    now = process.hrtime.bigint();
  }
  return count / (Number(now - start) / 1e9);
}

const best: Record<string, { ours: number; official: number }> = {};
for (let round = 0; round < rounds; round++) {
  for (const [name, [ours, official]] of Object.entries(cases)) {
    const pair =
      round % 2 === 0 ? [opsPerSec(ours), opsPerSec(official)] : [opsPerSec(official), opsPerSec(ours)].reverse();
    const entry = best[name] ?? { ours: 0, official: 0 };
    best[name] = entry;
    entry.ours = Math.max(entry.ours, pair[0] ?? 0);
    entry.official = Math.max(entry.official, pair[1] ?? 0);
  }
}

const results: Record<string, unknown> = {};
for (const [name, { ours, official }] of Object.entries(best)) {
  results[name] = {
    hubbubOpsPerSec: Math.round(ours),
    officialOpsPerSec: Math.round(official),
    hubbubNsPerOp: Math.round(1e9 / ours),
    officialNsPerOp: Math.round(1e9 / official),
    speedup: Math.round((ours / official) * 100) / 100,
  };
}
console.log(
  JSON.stringify(
    {
      bench: 'hub-protocol codec',
      node: process.version,
      budgetMsPerCase: budgetMs,
      rounds,
      messageBytes: { json: jsonBytes.length, messagepack: msgpackBytes.length },
      results,
    },
    null,
    2,
  ),
);
if (sink === 1) console.log('unreachable');
