/**
 * `npm run simulate -w apps/delivery -- [options]`: drives the demo couriers along their routes and
 * sends each position to queue `locations` of a running Hubbub through its bus HTTP API.
 * @module
 */
import { parseArgs } from 'node:util';
import { createSasToken, type SasKey } from '@hubbub/bus';
import { cityRoutes } from './city.ts';
import { type LocationMessage, runSimulator } from './simulator.ts';

const help = `Usage: npm run simulate -w apps/delivery -- [options]

Moves the couriers of the demo orders (1001, 1002, 1003) along their routes and sends each
position to a queue of a running Hubbub, as the seed's test script does (label "driveby",
content type application/json).

  --url URL          bus HTTP API (default $HUBBUB_BUS_URL or http://127.0.0.1:7071/bus)
  --key NAME=KEY     shared access key to sign requests with (default $HUBBUB_BUS_KEY)
  --queue NAME       queue to send to (default locations)
  --order ID         only this order (repeatable; default all)
  --interval MS      time between two positions of a courier (default 1000)
  --speed M/S        courier speed in metres per second (default 8)
  --loop             start over when a courier arrives (stop with Ctrl+C)
  -h, --help         this help
`;

/** Sends one location message to `queue` through the bus HTTP API at `base`. */
export function httpSender(base: string, queue: string, key?: SasKey): (m: LocationMessage) => Promise<void> {
  const url = `${base.replace(/\/+$/, '')}/${encodeURIComponent(queue)}/messages`;
  return async (message) => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      brokerproperties: JSON.stringify({ Label: 'driveby' }),
    };
    if (key !== undefined) headers.authorization = createSasToken(base, key, Date.now() / 1000 + 600);
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(message) });
    if (res.status >= 300) throw new Error(`sending to ${url} answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  };
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got '${text}'`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      queue: { type: 'string', default: 'locations' },
      order: { type: 'string', multiple: true },
      interval: { type: 'string' },
      speed: { type: 'string' },
      loop: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const base = values.url ?? process.env.HUBBUB_BUS_URL ?? 'http://127.0.0.1:7071/bus';
  const keyText = values.key ?? process.env.HUBBUB_BUS_KEY;
  let key: SasKey | undefined;
  if (keyText) {
    const eq = keyText.indexOf('=');
    if (eq <= 0) throw new Error(`--key must be name=key, got '${keyText}'`);
    key = { name: keyText.slice(0, eq), key: keyText.slice(eq + 1) };
  }
  const routes = cityRoutes().filter((r) => values.order === undefined || values.order.includes(r.orderid));
  if (routes.length === 0) throw new Error(`no demo order ${values.order?.join(', ')}; there are 1001, 1002, 1003`);

  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  // A referenced timer keeps the process alive between positions (the system clock's are unref'd).
  const clock = {
    now: () => Date.now(),
    setTimeout(callback: () => void, ms: number) {
      const timer = setTimeout(callback, ms);
      return { cancel: () => clearTimeout(timer) };
    },
  };
  const send = httpSender(base, values.queue, key);
  process.stdout.write(
    `Sending positions of order ${routes.map((r) => r.orderid).join(', ')} to ${base}/${values.queue}\n`,
  );
  const result = await runSimulator({
    routes,
    intervalMs: positive('interval', values.interval, 1000),
    speedMps: positive('speed', values.speed, 8),
    loop: values.loop,
    signal: abort.signal,
    clock,
    send: async (m) => {
      await send(m);
      process.stdout.write(`${m.timestamp}  order ${m.orderid}  ${m.lat.toFixed(5)}, ${m.longitude.toFixed(5)}\n`);
    },
  });
  process.stdout.write(`Sent ${result.sent} positions; ${result.arrived} couriers arrived.\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`simulate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
