/**
 * `hubbub push`: runs the push part alone (`serve`), or sends a notification through a running
 * Hubbub's Notification Hubs front, lists its installations, reads a notification's outcome — and
 * says what happened, nothing included.
 * It speaks to the front with `@hubbub/push/client` (re-exported by `@hubbub/system`).
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HubbubError } from '@hubbub/kernel';
import {
  consoleLogger,
  createPushClient,
  DEFAULT_PUSH_PORT,
  isPushError,
  type NotificationDetails,
  type PushClient,
  parseCommandArgs,
  parsePushConnectionString,
  pushOptionsFrom,
  readRunningFile,
  runningFilePath,
  runUntilSignal,
  startPushPart,
  storedPushKeys,
  UsageError,
} from '@hubbub/system';

export const summary =
  'Run the push part alone, send a push notification, list installations, read an outcome (Notification Hubs front)';

const help = `Usage: hubbub push serve [--port N] [--bus URL] [--store URL] [--data DIR]
       hubbub push send (--tag EXPR | --installation ID | --all) [--format F | --template] '<json>'
       hubbub push installations [--tag TAG]
       hubbub push outcome <notification-id>

serve: the push service and its Notification Hubs front, in a process of their own
  --port N             the front's HTTPS port on 127.0.0.1 (default $HUBBUB_PUSH_PORT or ${DEFAULT_PUSH_PORT}; 0: any)
  --bus URL            the bus of delivery jobs (default file://<data>/bus; memory://)
  --store URL          installations and outcomes (default pglite://<data>/store; postgres://…, memory://)
  --data DIR           keys.json (push keys made on first start) and the local CA in tls/ (default
                       $HUBBUB_DATA_DIR or .data)
  Prints the connection string, hub name, CA path and VAPID public key; Ctrl-C drains and stops.
  Settings as for npm start: $HUBBUB_PUSH_HUB, $HUBBUB_VAPID_SUBJECT, $HUBBUB_FCM_SERVICE_ACCOUNT,
  $HUBBUB_APNS_KEY_FILE/_KEY_ID/_TEAM_ID/_TOPIC/_ENDPOINT, $HUBBUB_PUSH_KEY, $HUBBUB_PUSH_LISTEN_KEY,
  $HUBBUB_VAPID_PUBLIC_KEY with $HUBBUB_VAPID_PRIVATE_KEY.

send:
  --tag EXPR           a tag expression ('customer_42 && !muted')
  --installation ID    one installation (the tag $InstallationId:{ID})
  --all                every installation (a broadcast)
  --format F           the native format of the JSON: browser (default), fcmv1, apple
  --template           the JSON is template properties ({"order":"42"}), sent to installations' templates
  --wait S             seconds to wait for the outcome before printing (default 10; 0: do not wait)
Where the front is (first found):
  --connection-string CS   Endpoint=sb://127.0.0.1:PORT/;SharedAccessKeyName=…;SharedAccessKey=…
                           (default $HUBBUB_PUSH_CONNECTION_STRING)
  (a running server's <data>/running.json names its front, hub and CA)
  --url URL            the front (else https://127.0.0.1:${DEFAULT_PUSH_PORT}), signed with the full key of
                       <data>/keys.json
  --hub NAME           the hub (default $HUBBUB_PUSH_HUB or hubbub)
  --ca FILE            the CA to trust (default <data>/tls/ca.pem)
  --data DIR           the running server's data directory (default $HUBBUB_DATA_DIR or .data)
`;

const flags = {
  port: { type: 'string' },
  bus: { type: 'string' },
  store: { type: 'string' },
  tag: { type: 'string' },
  installation: { type: 'string' },
  all: { type: 'boolean' },
  format: { type: 'string' },
  template: { type: 'boolean' },
  wait: { type: 'string' },
  'connection-string': { type: 'string' },
  url: { type: 'string' },
  hub: { type: 'string' },
  ca: { type: 'string' },
  data: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = { [K in keyof typeof flags]?: (typeof flags)[K] extends { type: 'boolean' } ? boolean : string };

const FORMATS = ['browser', 'fcmv1', 'apple'];
const env = (name: string) => (process.env[name]?.trim() ? process.env[name] : undefined);

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, flags, true);
  const v = values as Values;
  if (v.help || positionals.length === 0) {
    process.stdout.write(help);
    return v.help ? 0 : 1;
  }
  const [action, ...rest] = positionals;
  switch (action) {
    case 'serve':
      if (rest.length > 0) throw new UsageError(`hubbub push serve takes no arguments, got '${rest.join(' ')}'`);
      return serve(v);
    case 'send':
      return send(v, rest);
    case 'installations':
      if (rest.length > 0) throw new UsageError(`hubbub push installations takes no arguments, got '${rest[0]}'`);
      return installations(v);
    case 'outcome':
      if (rest.length !== 1) throw new UsageError('hubbub push outcome takes one notification id');
      return outcome(v, rest[0]!);
    default:
      throw new UsageError(`unknown push command '${action}': serve, send, installations or outcome`);
  }
}

/** `hubbub push serve`: the push part alone until Ctrl-C. */
async function serve(v: Values): Promise<number> {
  const portText = v.port ?? env('HUBBUB_PUSH_PORT') ?? String(DEFAULT_PUSH_PORT);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError(`--port: '${portText}' is not a port number.`);
  }
  const { push, keys } = pushOptionsFrom({}, process.env);
  const part = await startPushPart({
    dataDir: resolve(v.data ?? env('HUBBUB_DATA_DIR') ?? '.data'),
    port,
    ...(v.bus === undefined ? {} : { busUrl: v.bus }),
    ...(v.store === undefined ? {} : { storeUrl: v.store }),
    ...(push === false ? {} : { push }),
    ...(keys === undefined ? {} : { keys }),
    logger: consoleLogger({}, { part: 'push' }),
  });
  process.stdout.write(
    [
      `Notification Hubs front: https://127.0.0.1:${part.port}/${part.hubName}`,
      `Connection string: ${part.connectionString}`,
      `Hub name: ${part.hubName}`,
      `CA: ${part.caPath}  (the client's ca option, or NODE_EXTRA_CA_CERTS for the Azure SDK)`,
      `VAPID public key: ${part.vapidPublicKey}`,
      '',
    ].join('\n'),
  );
  return runUntilSignal(part, 'Press Ctrl-C to stop.\n');
}

/** Where the front is, from the flags, the environment, running.json or the data directory's keys. */
interface Target {
  readonly connectionString: string;
  readonly hubName: string;
  readonly ca: string | undefined;
  /** Where it came from, for error messages. */
  readonly from: string;
}

function target(v: Values): Target {
  const dataDir = resolve(v.data ?? env('HUBBUB_DATA_DIR') ?? '.data');
  const running = v.url === undefined ? readRunningFile(dataDir)?.push : undefined;
  const hubName = v.hub ?? env('HUBBUB_PUSH_HUB') ?? running?.hubName ?? 'hubbub';
  const caPath = v.ca ?? running?.caPath ?? join(dataDir, 'tls', 'ca.pem');
  let ca: string | undefined;
  if (v.ca !== undefined || existsSync(caPath)) {
    try {
      ca = readFileSync(caPath, 'utf8');
    } catch (err) {
      throw new UsageError(`--ca: '${caPath}' cannot be read (${(err as Error).message})`, { cause: err });
    }
  }
  const cs = v['connection-string'] ?? env('HUBBUB_PUSH_CONNECTION_STRING') ?? running?.connectionString;
  if (cs !== undefined) {
    try {
      parsePushConnectionString(cs);
    } catch (err) {
      throw new UsageError(
        'the connection string must be Endpoint=sb://HOST:PORT/;SharedAccessKeyName=NAME;SharedAccessKey=KEY',
        { cause: err },
      );
    }
    const from =
      v['connection-string'] !== undefined
        ? '--connection-string'
        : env('HUBBUB_PUSH_CONNECTION_STRING') !== undefined
          ? '$HUBBUB_PUSH_CONNECTION_STRING'
          : runningFilePath(dataDir);
    return { connectionString: cs, hubName, ca, from };
  }
  const keys = storedPushKeys(dataDir);
  if (keys === undefined) {
    throw new UsageError(
      `no push key: ${join(dataDir, 'keys.json')} has none. Give --connection-string (printed by npm start), or --data for the server's data directory.`,
    );
  }
  const url = v.url ?? `https://127.0.0.1:${DEFAULT_PUSH_PORT}`;
  let host: string;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:') throw new Error('not https');
    host = parsed.host;
  } catch (err) {
    throw new UsageError(`--url: '${url}' is not an https URL (the front speaks TLS only)`, { cause: err });
  }
  return {
    connectionString: `Endpoint=sb://${host}/;SharedAccessKeyName=DefaultFullSharedAccessSignature;SharedAccessKey=${keys.full}`,
    hubName,
    ca,
    from: v.url === undefined ? `the default ${url} and ${join(dataDir, 'keys.json')}` : '--url',
  };
}

/** Codes that mean the front was not reached (or not the front): the message says where it came from. */
const notReached = new Set(['PUSH_UNREACHABLE', 'PUSH_CERTIFICATE_UNTRUSTED', 'PUSH_UNEXPECTED_RESPONSE']);

/** Runs `work` with a client of the front, closed after; a front not reached names where it came from. */
async function withClient<T>(v: Values, work: (client: PushClient) => Promise<T>): Promise<T> {
  const t = target(v);
  const client = createPushClient({
    connectionString: t.connectionString,
    hubName: t.hubName,
    ...(t.ca === undefined ? {} : { ca: t.ca }),
  });
  try {
    return await work(client);
  } catch (err) {
    if (isPushError(err) && notReached.has(err.code)) {
      throw new HubbubError(
        err.code,
        `${err.message} (the front came from ${t.from}). Is Hubbub running with push on (npm start, hubbub push serve)? Point at it with --connection-string, --url, --ca or --data.`,
        { cause: err, ...(err.detail === undefined ? {} : { detail: err.detail }) },
      );
    }
    throw err;
  } finally {
    await client.close();
  }
}

/** The outcome, or undefined when the front knows no such notification. */
async function outcomeOf(client: PushClient, id: string): Promise<NotificationDetails | undefined> {
  try {
    return await client.getNotificationOutcome(id);
  } catch (err) {
    if (isPushError(err, 'PUSH_NOT_FOUND')) return undefined;
    throw err;
  }
}

async function send(v: Values, rest: string[]): Promise<number> {
  if (rest.length !== 1) throw new UsageError(`hubbub push send takes one JSON argument, got ${rest.length}`);
  const chosen = [v.tag !== undefined, v.installation !== undefined, v.all === true].filter(Boolean).length;
  if (chosen !== 1) throw new UsageError('say whom to send to: exactly one of --tag, --installation or --all');
  if (v.template && v.format !== undefined) throw new UsageError('--template and --format exclude each other');
  const format = v.template ? 'template' : (v.format ?? 'browser');
  if (!v.template && !FORMATS.includes(format)) {
    throw new UsageError(`--format: '${format}' is not one of ${FORMATS.join(', ')}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(rest[0]!);
  } catch (err) {
    throw new UsageError(`the notification is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (v.template && (typeof json !== 'object' || json === null || Array.isArray(json))) {
    throw new UsageError('with --template the JSON is an object of properties ({"order":"42"})');
  }
  const waitSeconds = Number(v.wait ?? '10');
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0 || waitSeconds > 600) {
    throw new UsageError(`--wait: '${v.wait}' is not a number of seconds from 0 to 600`);
  }
  const to =
    v.tag !== undefined
      ? `tag expression '${v.tag}'`
      : v.installation !== undefined
        ? `installation '${v.installation}'`
        : 'every installation';
  const notification =
    format === 'template'
      ? { format: 'template' as const, properties: json as Record<string, string> }
      : {
          format: format === 'apple' ? ('apns' as const) : (format as 'browser' | 'fcmv1'),
          body: JSON.stringify(json),
        };
  const sendTarget =
    v.tag !== undefined
      ? { kind: 'tags' as const, expression: v.tag }
      : v.installation !== undefined
        ? { kind: 'installation' as const, installationId: v.installation }
        : { kind: 'broadcast' as const };
  return withClient(v, async (client) => {
    const { notificationId: id } = await client.send(notification, sendTarget);
    process.stdout.write(`Queued notification ${id} (${format}) to ${to}.\n`);
    if (waitSeconds === 0) return 0;
    const deadline = Date.now() + waitSeconds * 1000;
    let details = await outcomeOf(client, id);
    while (details !== undefined && !finished(details) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      details = await outcomeOf(client, id);
    }
    process.stdout.write(`${describe(id, details)}\n`);
    return 0;
  });
}

async function installations(v: Values): Promise<number> {
  const list = await withClient(v, async (client) => {
    const all = [];
    for await (const i of client.installations(v.tag === undefined ? {} : { tag: v.tag })) all.push(i);
    return all;
  });
  if (list.length === 0) {
    process.stdout.write(v.tag === undefined ? 'No installations.\n' : `No installation carries the tag '${v.tag}'.\n`);
    return 0;
  }
  for (const i of list) {
    const tags = i.tags.length === 0 ? '-' : i.tags.join(',');
    process.stdout.write(
      `${i.installationId}\t${i.platform}\t${tags}${i.template === undefined ? '' : `\ttemplate ${i.template.name}`}\n`,
    );
  }
  process.stdout.write(`${list.length} installation${list.length === 1 ? '' : 's'}.\n`);
  return 0;
}

async function outcome(v: Values, id: string): Promise<number> {
  const details = await withClient(v, (client) => outcomeOf(client, id));
  process.stdout.write(`${describe(id, details)}\n`);
  return details === undefined ? 1 : 0;
}

const finished = (d: NotificationDetails) => !['Enqueued', 'Processing'].includes(d.state);

/** Notification Hubs' names, as its outcome details say them. */
const platformNames: Record<string, string> = { browser: 'Browser', fcmv1: 'FcmV1', apns: 'Apns' };
const countNames: Record<string, string> = {
  success: 'Success',
  gone: 'ExpiredChannel',
  invalid: 'BadChannel',
  throttled: 'Throttled',
  expired: 'Expired',
  failed: 'PnsInterfaceError',
};

/** One paragraph saying what became of a notification. */
function describe(id: string, d: NotificationDetails | undefined): string {
  if (d === undefined) return `No notification '${id}' is known (never sent, or finished more than a day ago).`;
  if (d.state === 'NoTargetFound')
    return `Nothing was sent: no installation matched (notification ${id}, NoTargetFound).`;
  const lines = [`Notification ${id}: ${d.state}.`];
  for (const [platform, counts] of Object.entries(d.counts)) {
    const text = Object.entries(counts ?? {})
      .filter(([, n]) => n > 0)
      .map(([name, n]) => `${countNames[name] ?? name} ${n}`)
      .join(', ');
    if (text !== '') lines.push(`  ${platformNames[platform] ?? platform}: ${text}`);
  }
  if (d.state === 'Completed' && lines.length === 1) lines.push('  no delivery was counted');
  if (!finished(d)) lines.push(`  still ${d.state}: run 'hubbub push outcome ${id}' later.`);
  return lines.join('\n');
}
