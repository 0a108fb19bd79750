/**
 * What the fuzz suite throws at the all-in-one server: raw HTTP requests and WebSocket upgrades
 * aimed at every route family. `{token}` (a fresh connection token of the demo hub), `{sas}`,
 * `{jwt}` and `{tracking}` (valid credentials) are filled in when a case is sent, so that some
 * cases get past authentication.
 * Large fillers are kept as `{ fill: n }` so that a counterexample prints short.
 * @module
 */
import fc from 'fast-check';
import { handshakeFrame, renderFrame, signalRFrame, type WireFrame } from './fuzz-frames.ts';
import type { Vars } from './fuzz-server.ts';
import { upgradeRequest } from './fuzz-wire.ts';

/** `prefix` followed by `fill` letters. */
export type Fill = { fill: number; prefix?: string };
export type Chunk = string | Uint8Array | Fill;
export type Header = readonly [name: string, value: Chunk];

export interface HttpCase {
  readonly method: string;
  readonly target: Chunk;
  readonly version: string;
  readonly headers: readonly Header[];
  readonly body: Chunk;
  /** How the body is framed: a matching Content-Length, valid chunks, or none (it reads as a next request). */
  readonly framing: 'length' | 'chunked' | 'none';
  /** Wait for the first answer before closing, instead of closing right after writing. */
  readonly hold: boolean;
}

export interface UpgradeCase {
  readonly target: Chunk;
  readonly headers: readonly Header[];
  /** Frames written right after the upgrade request, before any answer. */
  readonly frames: readonly WireFrame[];
}

const fill = (max: number) => fc.integer({ min: 1, max }).map((n): Fill => ({ fill: n }));
export const bytesOf = (chunk: Chunk, vars?: Vars): Buffer =>
  typeof chunk === 'string'
    ? Buffer.from(
        vars === undefined
          ? chunk
          : chunk.replace(/\{(token|sas|jwt|tracking)\}/g, (_, name: keyof Vars) => vars[name]),
      )
    : chunk instanceof Uint8Array
      ? Buffer.from(chunk)
      : Buffer.concat([Buffer.from(chunk.prefix ?? ''), Buffer.alloc(chunk.fill, 'a')]);

type Endpoint = readonly [method: string, target: string, authorization?: string];
/** What each route family serves, as a client holding the right credential asks for it. */
const endpoints: readonly Endpoint[] = [
  ['POST', '/hubs/demo/negotiate?negotiateVersion=1'],
  ['GET', '/hubs/demo?id={token}'],
  ['POST', '/hubs/demo?id={token}'],
  ['DELETE', '/hubs/demo?id={token}'],
  ['POST', '/client/negotiate?hub=tracking', 'Bearer {jwt}'],
  ['POST', '/api/negotiate?orderid=1001&token={tracking}'],
  ['GET', '/api/demo-orders'],
  ['POST', '/api/v1/hubs/tracking/:send', 'Bearer {jwt}'],
  ['POST', '/api/v1/hubs/tracking/groups/order-1001/:send', 'Bearer {jwt}'],
  ['PUT', '/api/v1/hubs/tracking/groups/order-1001/users/customer-1001', 'Bearer {jwt}'],
  ['DELETE', '/api/v1/hubs/tracking/users/customer-1001/groups/order-1001', 'Bearer {jwt}'],
  ['POST', '/api/hubs/tracking/:send?api-version=2022-11-01', 'Bearer {jwt}'],
  ['HEAD', '/api/hubs/tracking/connections/c?api-version=2022-11-01', 'Bearer {jwt}'],
  ['POST', '/bus/locations/messages', '{sas}'],
  ['POST', '/bus/locations/messages/head?timeout=0', '{sas}'],
  ['DELETE', '/bus/locations/messages/head?timeout=0', '{sas}'],
  ['DELETE', '/bus/locations/messages/1/tok', '{sas}'],
  ['PUT', '/bus/locations/messages/1/tok', '{sas}'],
  ['GET', '/bus/locations', '{sas}'],
  ['GET', '/bus/$Resources/Queues', '{sas}'],
  ['GET', '/track?order=1001&token={tracking}'],
  ['GET', '/demo'],
  ['GET', '/healthz'],
  ['GET', '/vendor/signalr.min.js'],
  ['GET', '/api/openapi.json'],
  ['GET', '/api/v1/restaurants'],
  ['GET', '/api/v1/restaurants/pike-street-pizza/menu'],
  ['POST', '/api/v1/account'],
  ['POST', '/api/v1/session'],
  ['DELETE', '/api/v1/session'],
  ['POST', '/api/v1/orders'],
  ['GET', '/api/v1/orders?limit=2&cursor=x'],
  ['POST', '/api/v1/orders/o-1/transitions'],
  ['POST', '/api/v1/orders/o-1/cancel'],
  ['POST', '/api/v1/orders/o-1/assignment'],
  ['POST', '/api/v1/orders/o-1/location'],
  ['GET', '/api/v1/restaurants/pike-street-pizza/orders'],
  ['GET', '/api/v1/courier/offers?lat=47.6&lng=-122.3'],
  ['GET', '/api/v1/operations/overview'],
  ['POST', '/api/v1/live/negotiate'],
  ['PUT', '/api/v1/push/installations/0b6c5d2e-9f1a-4c3b-8d7e-6a5f4e3d2c1b'],
  ['DELETE', '/api/v1/push/installations/0b6c5d2e-9f1a-4c3b-8d7e-6a5f4e3d2c1b'],
  ['GET', '/push/vapid-public-key'],
  ['GET', '/sw.js'],
  ['GET', '/store/dbs'],
  ['POST', '/store/dbs/shop/colls/orders/docs'],
  ['GET', '/store/dbs/shop/colls/orders/docs/o1'],
  ['GET', '/hubbub/status', '{sas}'],
];
const routes = [
  ...endpoints.map(([, target]) => target),
  ...['/hubs/x/negotiate', '/hubs/', '/client/?hub=tracking&access_token={jwt}', '/client/', '/api/', '/api/health'],
  ...['/api/v1/hubs/x/users/u', '/api/hubs/x/groups/g/users/u', '/bus/q/messages', '/bus/q/messages/1/tok', '/bus/q'],
  ...['/bus/t/subscriptions/s/messages/head', '/bus/t/subscriptions/s/rules/r', '/track', '/', '/city.json'],
];
const badPercent = '% %Z %ZZ %G0 %E2%82 %C0%AF %ED%A0%80 %FF %00 %2F %25 %% %u0041'.split(' ');
const odd = ['\\', '#', '..', '.', '', ';', '@', ':', '\t', '\x7f'];
/** Bytes that end a request line early or are forbidden in it. */
const lineBreakers = ['\0', '\r', '\n', '\r\n', ' ', '\r\nX: 1'];
const token = fc.stringMatching(/^[A-Za-z0-9._~-]{1,12}$/);

/** A path segment or query value: plain, percent-encoded, badly percent-encoded, raw unicode, odd characters. */
const piece = fc.oneof(
  { weight: 6, arbitrary: token },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }).map(encodeURIComponent) },
  { weight: 4, arbitrary: fc.constantFrom(...badPercent) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom(...odd) },
  { weight: 3, arbitrary: fc.constantFrom('demo', 'tracking', '1001', '{token}', '-1', '1e999', 'NaN', '__proto__') },
);
const queryKeys = ['hub', 'id', 'orderid', 'order', 'negotiateVersion', 'access_token', 'api-version', 'user', 'group'];
const query = fc.oneof(
  fc
    .array(fc.tuple(fc.oneof(fc.constantFrom(...queryKeys), piece), piece), { maxLength: 4 })
    .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`)),
  fc.constantFrom('?', '?&&', '?=', '?hub', '?hub=&hub=', '?id=&id={token}', '#x', '?a=1#b'),
);
const routed = fc
  .record({
    route: fc.constantFrom(...routes),
    swap: fc.option(fc.tuple(fc.nat(), piece), { freq: 2 }),
    extra: fc.array(piece, { maxLength: 2 }),
    query,
  })
  .map(({ route, swap, extra, query }) => {
    const [path = '', given = ''] = route.split('?');
    const segments = path.split('/');
    if (swap !== null) segments[1 + (swap[0] % Math.max(1, segments.length - 1))] = swap[1];
    const q = given === '' ? query : `?${given}${query.replace('?', '&')}`;
    return [...segments, ...extra].join('/') + q;
  });
const oddTargets = ['//', '///', '/\\', '*', '', 'http://[', 'http://a:99999/', 'http://127.0.0.1/healthz', '//x'];
const oddTarget = fc.oneof(
  fc.constantFrom(...oddTargets, 'hubs/demo', 'http://[::1', 'https://x@y/hubs/demo', '/%', '/hubs/%ZZ/negotiate'),
  fc
    .tuple(fc.constantFrom('http://', 'ws://', '//', '/'), fc.string({ unit: 'binary-ascii', maxLength: 30 }))
    .map(([a, b]) => a + b),
  fc
    .tuple(fc.constantFrom(...routes), fc.constantFrom(...lineBreakers))
    .map(([r, b]) => `${r.slice(0, 6)}${b}${r.slice(6)}`),
);

/** Where a very long path or query value starts. */
const longPrefixes = ['/hubs/', '/bus/', '/api/', '/', '/client/negotiate?hub=', '/api/negotiate?orderid=', '/t?x='];

/** Any request target: mostly a route of the server, mangled; sometimes anything at all. */
export const target: fc.Arbitrary<Chunk> = fc.oneof(
  { weight: 16, arbitrary: routed },
  { weight: 4, arbitrary: oddTarget },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 60 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  {
    weight: 1,
    arbitrary: fc.record({ prefix: fc.constantFrom(...longPrefixes), fill: fc.nat(70_000) }),
  },
);

const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND'];
const method = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom(...methods) },
  { weight: 1, arbitrary: fc.constantFrom('get', 'BREW', 'G ET', '', 'POST\0', 'M-SEARCH', 'QUERY') },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Z]{1,10}$/) },
);
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = fc
  .tuple(fc.jsonValue({ maxDepth: 1 }), fc.record({ aud: fc.string(), exp: fc.integer(), nameid: fc.string() }))
  .map(([head, claims]) => `${b64url(head)}.${b64url(claims)}.${b64url('sig')}`);
const sas = fc
  .tuple(piece, piece, fc.oneof(fc.nat().map(String), piece), piece)
  .map(([sr, sig, se, skn]) => `SharedAccessSignature sr=${sr}&sig=${sig}&se=${se}&skn=${skn}`);
const authorization = fc.oneof(
  fc.constantFrom('{sas}', 'Bearer {jwt}'),
  jwt.map((t) => `Bearer ${t}`),
  sas,
  fc.constantFrom(
    'Bearer',
    'Bearer ',
    'Bearer a.b.c',
    'SharedAccessSignature',
    'SharedAccessSignature &&&',
    'Basic Og==',
  ),
  fc.string({ maxLength: 40 }),
);
const printable = fc.stringMatching(/^[\x20-\x7e]{0,30}$/);
/** Headers the parser lets through, so the request reaches a handler with odd values. */
const acceptedHeader: fc.Arbitrary<Header> = fc.oneof(
  fc.tuple(fc.constantFrom('Authorization', 'authorization'), authorization),
  fc.tuple(
    fc.constant('Content-Type'),
    fc.constantFrom('application/json', 'text/plain', 'application/x-www-form', ''),
  ),
  fc.tuple(fc.constant('BrokerProperties'), fc.oneof(fc.json({ maxDepth: 2 }), printable)),
  fc.tuple(fc.constantFrom('Origin', 'Accept', 'Connection', 'Upgrade', 'Access-Control-Request-Method'), printable),
  fc.tuple(fc.constantFrom('X-Requested-With', 'x-ms-client-principal-id', 'x-ms-signalr-user-id'), printable),
  fc.tuple(fc.stringMatching(/^[A-Za-z-]{1,12}$/), printable),
);
/** Headers that break framing or limits: the parser's turn (bad lengths, both framings, huge, control bytes). */
const brokenHeader: fc.Arbitrary<Header> = fc.oneof(
  fc.tuple(
    fc.constant('Content-Length'),
    fc.constantFrom('-1', 'abc', '1e3', ' 5', '99999999999999999999', '0x10', '5, 6', '3'),
  ),
  fc.tuple(fc.constant('Transfer-Encoding'), fc.constantFrom('chunked', 'gzip, chunked', 'chunked, identity', 'x')),
  fc.tuple(fc.constantFrom('Host', 'Expect', 'Origin'), piece),
  fc.tuple(fc.stringMatching(/^[A-Za-z-]{1,12}$/), fc.string({ unit: 'binary', maxLength: 30 })),
  fc.tuple(fc.constant('X-Big'), fill(20_000)),
);
const header = fc.oneof({ weight: 6, arbitrary: acceptedHeader }, { weight: 1, arbitrary: brokenHeader });
const bodies = [
  ...['', '{', 'null', '{"orderid":"1001","lat":47.61,"longitude":-122.32}', '{"target":"location","arguments":[1]}'],
  ...['{"protocol":"json","version":1}\x1e', '{"type":1,"target":"send","arguments":["a","b"]}\x1e', '{"type":6}\x1e'],
];
const body: fc.Arbitrary<Chunk> = fc.oneof(
  { weight: 8, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 512 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 4, arbitrary: fc.constantFrom(...bodies) },
  { weight: 1, arbitrary: fill(2 * 1024 * 1024) },
);

/** A request line: an endpoint as its client sends it (with its credential), or any method on any target. */
const line = fc.oneof(
  fc.tuple(fc.constantFrom(...endpoints), fc.option(query)).map(([[method, path, authorization], q]) => ({
    method,
    target: q === null ? path : path + (path.includes('?') ? q.replace('?', '&') : q),
    credential: authorization === undefined ? [] : [['Authorization', authorization] as const],
  })),
  { weight: 2, arbitrary: fc.record({ method, target, credential: fc.constant([]) }) },
);

export const httpCase: fc.Arbitrary<HttpCase> = fc
  .record({
    line,
    version: fc.oneof({ weight: 9, arbitrary: fc.constant('HTTP/1.1') }, fc.constantFrom('HTTP/1.0', 'HTTP/2.0', '')),
    headers: fc.array(header, { maxLength: 4 }),
    body,
    framing: fc.constantFrom('length', 'length', 'length', 'chunked', 'none'),
    hold: fc.boolean(),
  })
  .map(({ line: { method, target, credential }, headers, ...rest }) => ({
    method,
    target,
    headers: [...credential, ...headers],
    ...rest,
  }));

/** The path of a target, without filling anything in (a REST token's audience). */
export const pathOf = (target: Chunk): string => bytesOf(target).toString('latin1').split('?')[0]!;

export function renderHttp(c: HttpCase, vars: Vars): Buffer {
  const payload = bytesOf(c.body);
  const line = Buffer.concat([
    Buffer.from(`${c.method} `),
    bytesOf(c.target, vars),
    Buffer.from(c.version === '' ? '' : ` ${c.version}`),
  ]);
  const headers = c.headers.map(([name, value]) => Buffer.concat([Buffer.from(`${name}: `), bytesOf(value, vars)]));
  if (c.framing === 'length') headers.push(Buffer.from(`Content-Length: ${payload.length}`));
  if (c.framing === 'chunked') headers.push(Buffer.from('Transfer-Encoding: chunked'));
  const framed =
    c.framing === 'chunked'
      ? Buffer.concat([Buffer.from(`${payload.length.toString(16)}\r\n`), payload, Buffer.from('\r\n0\r\n\r\n')])
      : payload;
  const crlf = Buffer.from('\r\n');
  const head = [line, Buffer.from('Host: 127.0.0.1'), ...headers].flatMap((h) => [h, crlf]);
  return Buffer.concat([...head, crlf, framed]);
}

const wsRoutes = ['/hubs/demo?id={token}', '/hubs/demo', '/hubs/%ZZ', '/client/?hub=tracking&access_token={jwt}'];
export const upgradeCase: fc.Arbitrary<UpgradeCase> = fc.record({
  target: fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...wsRoutes) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...wsRoutes), query).map(([r, q]) => r + q.replace('?', '&')) },
    { weight: 2, arbitrary: target },
  ),
  headers: fc.array(
    fc.oneof(
      header,
      fc.tuple(fc.constantFrom('Sec-WebSocket-Protocol', 'Sec-WebSocket-Extensions', 'Sec-WebSocket-Version'), piece),
      fc.constant(['Sec-WebSocket-Extensions', 'permessage-deflate; client_max_window_bits'] as const),
    ),
    { maxLength: 3 },
  ),
  frames: fc.array(fc.oneof(handshakeFrame, signalRFrame('json'), signalRFrame('messagepack')), { maxLength: 3 }),
});

export function renderUpgrade(c: UpgradeCase, vars: Vars): Buffer {
  const extra = c.headers.map(([name, value]) => `${name}: ${bytesOf(value, vars).toString('latin1')}\r\n`).join('');
  const request = upgradeRequest(bytesOf(c.target, vars).toString('latin1'), extra);
  return Buffer.concat([Buffer.from(request, 'latin1'), ...c.frames.map(renderFrame)]);
}
