/**
 * `hubbub store`: runs the document store and its HTTP API alone, or looks into a store —
 * its databases and containers with item counts, a query, one item.
 * @module
 */
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { closeHttpServer, createHttpServer, HttpError, sendError } from '@hubbub/kernel';
import {
  consoleLogger,
  createStoreAt,
  createStoreHttpHandler,
  engineScheme,
  loadKeys,
  parseCommandArgs,
  runUntilSignal,
  storedStoreKey,
  UsageError,
} from '@hubbub/system';
import { localReader, remoteReader, type StoreReader } from '../store-client.ts';

export const summary = 'Run the document store (Cosmos DB shape) and its HTTP API on its own, or query it';

const help = `Usage: hubbub store [serve] [options]                 run the store and its HTTP API
       hubbub store databases [options]              databases, containers and item counts
       hubbub store query <db> <container> <sql> [--param @name=value …] [--partition-key PK]
       hubbub store read <db> <container> <id> [--partition-key PK]

  --url URL          the store: pglite://DIR (default pglite://<data>/store), postgres://…, memory://
  --endpoint URL     look into a running server's store over its HTTP API instead
                     (http://127.0.0.1:7071/store), signed with --key, $HUBBUB_STORE_KEY or the
                     key in <data>/keys.json
  --data DIR         where the PGlite store and the key live (default $HUBBUB_DATA_DIR or .data)
  --partition-key PK the partition key value (read: default the id; query: default all partitions)
  --param @n=value   a query parameter (repeatable); the value is JSON when it parses, else text
serve:
  --port N           port (default $PORT or 7071; 0 picks a free one)
  --host H           interface (default 127.0.0.1)
  --base-path P      path the API is served under (default /store)
  --key KEY          master key requests are signed with (base64, 32+ bytes; default $HUBBUB_STORE_KEY);
                     required with a --host beyond loopback. Without one, a key is generated into
                     <data>/keys.json on first start and printed.

A pglite:// directory has one owner: while \`npm start\` or \`hubbub store\` runs on it, opening
it fails with STORE_DIR_LOCKED — look through the server instead (--endpoint).
serve prints {"listening":"http://host:port/store"} when ready and stops on SIGINT / SIGTERM.
The other commands print JSON.
`;

const flags = {
  url: { type: 'string' },
  data: { type: 'string' },
  'partition-key': { type: 'string' },
  endpoint: { type: 'string' },
  param: { type: 'string', multiple: true },
  port: { type: 'string' },
  host: { type: 'string' },
  'base-path': { type: 'string' },
  key: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = { [K in keyof typeof flags]?: (typeof flags)[K] extends { multiple: true } ? string[] : string } & {
  help?: boolean;
};

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, flags, true);
  const v = values as Values;
  if (v.help) {
    process.stdout.write(help);
    return 0;
  }
  const [action = 'serve', ...rest] = positionals;
  const dataDir = resolve(v.data ?? process.env.HUBBUB_DATA_DIR ?? '.data');
  const url = v.url ?? `pglite://${join(dataDir, 'store')}`;
  engineScheme('store', url);
  switch (action) {
    case 'serve':
      if (rest.length > 0) throw new UsageError(`hubbub store serve takes no arguments, got '${rest.join(' ')}'`);
      return serve(v, url, dataDir);
    case 'databases':
      if (rest.length > 0) throw new UsageError(`hubbub store databases takes no arguments, got '${rest.join(' ')}'`);
      return withReader(v, url, dataDir, async (reader) => {
        print({ databases: await reader.databases() });
        return 0;
      });
    case 'query': {
      const [db, container, sql, ...extra] = rest;
      if (sql === undefined || extra.length > 0)
        throw new UsageError('usage: hubbub store query <db> <container> "<sql>"');
      const parameters = (v.param ?? []).map(parseParam);
      return withReader(v, url, dataDir, async (reader) => {
        print(await reader.query(db!, container!, { query: sql, parameters }, v['partition-key']));
        return 0;
      });
    }
    case 'read': {
      const [db, container, id, ...extra] = rest;
      if (id === undefined || extra.length > 0) throw new UsageError('usage: hubbub store read <db> <container> <id>');
      return withReader(v, url, dataDir, async (reader) => {
        const item = await reader.read(db!, container!, id, v['partition-key'] ?? id);
        if (item === undefined) {
          process.stderr.write(`hubbub: no item '${id}' in ${db}/${container}\n`);
          return 1;
        }
        print(item);
        return 0;
      });
    }
    default:
      throw new UsageError(`unknown hubbub store command '${action}': serve, databases, query or read`);
  }
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** `@name=value`: the value as JSON when it parses (numbers, true, "quoted"), else as text. */
function parseParam(text: string): { name: string; value: unknown } {
  const eq = text.indexOf('=');
  if (!text.startsWith('@') || eq < 2) throw new UsageError(`--param must be @name=value, got '${text}'`);
  const raw = text.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    /* text */
  }
  return { name: text.slice(0, eq), value };
}

/** Runs `work` on the store of `--endpoint` (over HTTP), or on the store `url` names, opened here and closed after. */
async function withReader(
  v: Values,
  url: string,
  dataDir: string,
  work: (reader: StoreReader) => Promise<number>,
): Promise<number> {
  if (v.endpoint !== undefined) {
    if (!/^https?:\/\/[^/]+/.test(v.endpoint))
      throw new UsageError(`--endpoint must be an http(s) URL, got '${v.endpoint}'`);
    const key = v.key ?? (process.env.HUBBUB_STORE_KEY || undefined) ?? storedStoreKey(dataDir);
    if (key === undefined)
      throw new UsageError(`--endpoint needs the store key: --key, $HUBBUB_STORE_KEY or ${dataDir}/keys.json`);
    return work(remoteReader(v.endpoint, key));
  }
  const store = await createStoreAt(url);
  try {
    return await work(localReader(store));
  } finally {
    await store.close();
  }
}

async function serve(v: Values, url: string, dataDir: string): Promise<number> {
  const portText = v.port ?? process.env.PORT ?? '7071';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be 0…65535, got '${portText}'`);
  const host = v.host ?? '127.0.0.1';
  const basePath = v['base-path'] ?? '/store';
  if (basePath !== '' && (!basePath.startsWith('/') || basePath.endsWith('/')))
    throw new UsageError("--base-path must start with '/' and not end with one");
  const given = v.key ?? (process.env.HUBBUB_STORE_KEY || undefined);
  if (given === undefined && !['127.0.0.1', 'localhost', '::1'].includes(host)) {
    throw new UsageError(`--host ${host} makes the store reachable from other machines: give its key with --key`);
  }
  if (given === undefined || url.startsWith('pglite://')) mkdirSync(dataDir, { recursive: true });
  const key = loadKeys(
    given === undefined ? dataDir : undefined,
    given === undefined ? {} : { store: given },
    [],
  ).store;

  const logger = consoleLogger({}, { part: 'store' });
  const store = await createStoreAt(url, { logger });
  await store.start();
  const api = createStoreHttpHandler(store, {
    key,
    basePath,
    onError: (err, req) => logger.error({ err, method: req.method, url: req.url }, 'store request failed'),
  });
  const server = createHttpServer({
    request: (req, res) => {
      if (!api.handleRequest(req, res)) {
        sendError(res, new HttpError('KERNEL_NOT_FOUND', 404, 'Not found.', { detail: { basePath } }));
      }
      return true;
    },
    onError: (err, req) => logger.error({ err, method: req.method, url: req.url }, 'request failed'),
  });
  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(port, host, () => {
        server.off('error', fail);
        ok();
      });
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  process.stdout.write(`${JSON.stringify({ listening: `http://${shownHost}:${address.port}${basePath}` })}\n`);
  if (given === undefined) process.stdout.write(`Store key: ${key}  (--key, or $HUBBUB_STORE_KEY)\n`);

  return runUntilSignal(
    {
      async close() {
        await closeHttpServer(server);
        await store.close();
      },
    },
    '',
  );
}
