/**
 * The function path's hand-off (bench/function-path): CPU of the host thread's share of one location's hand-off to an
 * invocation worker thread and back, old form against new, in a tight loop (the thread never sleeps,
 * so no wake-up cost is in it and the load matters less than in run.ts):
 *
 *   request:  the trigger metadata built on the host (`rpcMetadataOf`, ~20 RPC objects) and the
 *             request serialised for postMessage  vs  17 flat fields (`metadataFieldsOf`) serialised
 *   response: the worker's answer deserialised, its SignalR output JSON-parsed and checked on the
 *             host  vs  deserialised with the output prepared by the worker (checked and encoded)
 *             and checked as `EncodedInvocation`'s constructor checks it for `Hub.sendEncoded`
 *
 * `v8.serialize` / `v8.deserialize` stand in for postMessage's structured clone (the same serializer).
 *
 *   node --import tsx --conditions=source packages/functions/bench/hand-off.bench.ts [--n 200000]
 * @module
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { deserialize, serialize } from 'node:v8';
import { metadataFieldsOf, rpcMetadataOf } from '../src/extensions/service-bus/messages.ts';
import { prepareSignalROutput } from '../src/extensions/signalr/bindings.ts';
import { locationMessage } from './location.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '200000' } } });
const n = Number(values.n);

const message = locationMessage();
const bodyText = JSON.stringify({ orderid: 'bench-7', storeid: 7, courierid: '12345.5', lat: 47.6, longitude: -122.3 });
const location = {
  orderid: 'bench-7',
  storeid: 7,
  courierid: '12345.5',
  lat: 47.6,
  longitude: -122.3,
  timestamp: new Date().toISOString(),
};
const output = ['order-bench-7', 'operations'].map((groupName) => ({
  target: 'location',
  groupName,
  arguments: [location],
}));
const invocationId = randomUUID();

const oldRequest = () =>
  serialize({
    t: 'invoke',
    id: 1,
    fn: 0,
    request: {
      invocationId,
      inputData: [{ name: 'message', data: { json: bodyText } }],
      triggerMetadata: rpcMetadataOf(message),
    },
  });
const newRequest = () =>
  serialize({
    t: 'invoke',
    id: 1,
    fn: 0,
    request: {
      invocationId,
      inputData: [{ name: 'message', data: { json: bodyText } }],
      deferredMetadata: { serviceBusFields: metadataFieldsOf(message) },
    },
  });

const done = (data: unknown) => ({
  t: 'done',
  id: 1,
  response: { invocationId, outputData: [{ name: 'signalR', data }], returnValue: {} },
});
const oldAnswer = serialize(done({ json: JSON.stringify(output) }));
const newAnswer = serialize(
  done({ prepared: prepareSignalROutput(output, { functionName: 'f', binding: 'signalR' }) }),
);
let sink = 0;
const oldResponse = () => {
  const got = deserialize(oldAnswer) as ReturnType<typeof done>;
  const items = JSON.parse((got.response.outputData[0]!.data as { json: string }).json) as typeof output;
  // What the host's binding does with each item before the hub send: check it, build the message.
  for (const o of items) {
    if (typeof o.target !== 'string' || !Array.isArray(o.arguments)) throw new Error('bad');
    sink += [{ target: o.target, arguments: o.arguments, groupName: o.groupName }].length;
  }
};
const newResponse = () => {
  const got = deserialize(newAnswer) as ReturnType<typeof done>;
  const prepared = (got.response.outputData[0]!.data as { prepared: { items: { target: string; json: string }[] } })
    .prepared;
  // EncodedInvocation's checks (the functions package does not depend on the hub's).
  for (const item of prepared.items) {
    const { json } = item;
    if (!json.startsWith('{"type":1,"target":') || !json.endsWith('}') || json.includes('\x1e')) throw new Error('bad');
    sink += json.length + item.target.length;
  }
};

function measure(name: string, fn: () => unknown): number {
  for (let i = 0; i < 20_000; i++) fn(); // warm-up
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  const used = process.cpuUsage(t0);
  const us = (used.user + used.system) / n;
  process.stderr.write(`[hand-off] ${name}: ${us.toFixed(2)} µs\n`);
  return Math.round(us * 100) / 100;
}

const result: Record<string, number> = {};
for (let round = 0; round < 3; round++) {
  for (const [name, fn] of [
    ['requestOld', oldRequest],
    ['requestNew', newRequest],
    ['responseOld', oldResponse],
    ['responseNew', newResponse],
  ] as const) {
    const us = measure(name, fn);
    result[name] = Math.min(result[name] ?? Number.POSITIVE_INFINITY, us);
  }
}
process.stdout.write(
  `${JSON.stringify({ bench: 'functions/hand-off', n, node: process.version, bestOf3UsPerLocation: result, requestBytes: { old: oldRequest().length, new: newRequest().length }, responseBytes: { old: oldAnswer.length, new: newAnswer.length }, sink: sink > 0 })}\n`,
);
