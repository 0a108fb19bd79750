/**
 * HTTP streaming (`app.setup({ enableHttpStream: true })`), done as the Azure Functions host does
 * it: the library starts an HTTP proxy of its own (its `getCapabilities` answers `HttpUri`), the
 * host forwards each request there with an `x-ms-invocation-id` header while it invokes the
 * function, and the library answers the forwarded request with the function's response — request
 * and response bodies flow as streams, never buffered whole. The proxy binds 127.0.0.1 (the library
 * would listen on every interface), once per copy of the library, for the life of the process.
 * @module
 */
import { request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, Server as NetServer } from 'node:net';
import { Transform } from 'node:stream';
import type { ProgrammingModel } from '../../core-types.ts';
import { FunctionsError } from '../../errors.ts';

/** The library's proxy: where to forward requests, and a way to see its side of each exchange. */
interface LibraryProxy {
  readonly port: number;
  /** Resolves with the library's side of the forwarded request of `invocationId`. */
  exchange(invocationId: string): Promise<ServerResponse>;
}

const proxies = new WeakMap<ProgrammingModel, Promise<LibraryProxy>>();

/** Starts (once) the library's proxy of `model`, listening on 127.0.0.1. */
export function libraryProxy(model: ProgrammingModel): Promise<LibraryProxy> {
  let proxy = proxies.get(model);
  if (proxy === undefined) {
    proxy = startProxy(model);
    proxies.set(model, proxy);
  }
  return proxy;
}

async function startProxy(model: ProgrammingModel): Promise<LibraryProxy> {
  if (model.getCapabilities === undefined) {
    throw new FunctionsError('FUNCTIONS_UNSUPPORTED', 'This @azure/functions has no HTTP streaming proxy.');
  }
  // The library calls `server.listen(callback)` synchronously inside getCapabilities: bind it to loopback.
  const proto = NetServer.prototype as unknown as { listen: (...args: unknown[]) => unknown };
  const listen = proto.listen;
  let server: Server | undefined;
  let capabilities: Promise<Record<string, string>>;
  proto.listen = function (this: Server, ...args: unknown[]) {
    if (args.length === 1 && typeof args[0] === 'function') {
      server = this;
      return listen.call(this, 0, '127.0.0.1', args[0]);
    }
    return listen.apply(this, args);
  };
  try {
    capabilities = model.getCapabilities({});
  } finally {
    proto.listen = listen;
  }
  await capabilities;
  if (server === undefined) throw new FunctionsError('FUNCTIONS_UNSUPPORTED', 'The library started no HTTP proxy.');
  server.unref();
  const waiting = new Map<string, (res: ServerResponse) => void>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const id = req.headers['x-ms-invocation-id'];
    const exchange = typeof id === 'string' ? waiting.get(id) : undefined;
    // Only this host forwards here: anything else on loopback is cut off at once.
    if (exchange === undefined) res.destroy();
    else exchange(res);
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    exchange: (invocationId) =>
      new Promise((resolve) => {
        waiting.set(invocationId, (res) => {
          waiting.delete(invocationId);
          resolve(res);
        });
      }),
  };
}

const hopByHop = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'te',
  'trailer',
  'host',
  'content-length',
]);

/** Bytes through, failing with FUNCTIONS_PAYLOAD_TOO_LARGE once more than `limit` passed. */
function limited(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > limit) {
        done(
          new FunctionsError('FUNCTIONS_PAYLOAD_TOO_LARGE', `Request body exceeds ${limit} bytes.`, {
            detail: { limit },
          }),
        );
      } else done(null, chunk);
    },
  });
}

export interface StreamedExchange {
  /** Settles once the response is written through, or rejects (nothing written yet) with the failure. */
  readonly done: Promise<void>;
  /** Ends the exchange once the invocation settled: an empty 200 if the function set no response, or the failure. */
  finish(failure: unknown): void;
  /** Set once the request body passed the limit (FUNCTIONS_PAYLOAD_TOO_LARGE): what the caller is told. */
  readonly refused: FunctionsError | undefined;
}

/**
 * Forwards `req` to the library's proxy for `invocationId` and pipes the library's answer to `res`.
 * Call `finish` when the invocation settled.
 */
export async function forward(
  proxy: LibraryProxy,
  invocationId: string,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  maxBodyBytes: number,
): Promise<StreamedExchange> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && !hopByHop.has(name)) headers[name] = value;
  }
  headers['x-ms-invocation-id'] = invocationId;
  headers['x-forwarded-host'] = url.host;
  headers['x-forwarded-proto'] = url.protocol.replace(/:$/, '');
  const library = proxy.exchange(invocationId);
  const outgoing = httpRequest({
    host: '127.0.0.1',
    port: proxy.port,
    method: req.method ?? 'GET',
    path: `${url.pathname}${url.search}`,
    headers,
  });
  let failed: ((err: unknown) => void) | undefined;
  let refused: FunctionsError | undefined;
  const done = new Promise<void>((resolve, reject) => {
    failed = reject;
    outgoing.on('error', reject);
    outgoing.on('response', (answer) => {
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value !== undefined && name !== 'connection' && name !== 'keep-alive' && name !== 'x-ms-invocation-id')
          out[name] = value;
      }
      res.writeHead(answer.statusCode ?? 200, out);
      answer.pipe(res);
      answer.on('error', () => res.destroy());
      res.on('finish', resolve);
      res.on('close', () => {
        if (!res.writableFinished) outgoing.destroy();
        resolve();
      });
    });
  });
  done.catch(() => undefined);
  res.on('close', () => {
    if (!res.writableFinished) outgoing.destroy();
  });
  const method = (req.method ?? 'GET').toUpperCase();
  if (method === 'GET' || method === 'HEAD') {
    req.resume();
    outgoing.end();
  } else {
    const limit = limited(maxBodyBytes);
    limit.on('error', (err) => {
      refused = err as FunctionsError;
      outgoing.destroy();
      failed?.(err);
    });
    req.pipe(limit).pipe(outgoing);
  }
  const serverSide = await Promise.race([library, done.then(() => undefined)]);
  return {
    done,
    get refused() {
      return refused;
    },
    finish(failure) {
      if (serverSide === undefined) return;
      if (failure !== undefined) {
        if (!serverSide.headersSent) failed?.(failure);
        serverSide.destroy();
        outgoing.destroy();
        if (res.headersSent) res.destroy();
      } else if (!serverSide.headersSent) {
        serverSide.writeHead(200, { 'content-length': '0' }).end();
      }
    },
  };
}
