/**
 * A local FCM HTTP v1 peer: a Google-style OAuth token endpoint that verifies the service
 * account's JWT bearer assertion (RS256 against the account's public key, `iss`, `aud` = its own
 * URL, `scope`, `iat`/`exp` at most an hour apart) and issues expiring access tokens; and
 * `POST /v1/projects/{project}/messages:send`, which checks the bearer token and the message's
 * shape as FCM does and answers FCM's documented error bodies on demand for a registration token.
 * @module
 */
import { generateKeyPairSync, type KeyObject, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, closeHttpServer, readBody, sendJson, systemClock } from '@hubbub/kernel';
import { verifyJwt } from './jwt.ts';
import { serverFor } from './serve.ts';

/** FCM's error codes (`google.firebase.fcm.v1.FcmError`) with the HTTP and RPC status FCM pairs them with. */
export const fcmErrors = {
  UNREGISTERED: [404, 'NOT_FOUND'],
  INVALID_ARGUMENT: [400, 'INVALID_ARGUMENT'],
  SENDER_ID_MISMATCH: [403, 'PERMISSION_DENIED'],
  QUOTA_EXCEEDED: [429, 'RESOURCE_EXHAUSTED'],
  UNAVAILABLE: [503, 'UNAVAILABLE'],
  INTERNAL: [500, 'INTERNAL'],
  THIRD_PARTY_AUTH_ERROR: [401, 'UNAUTHENTICATED'],
} as const;
export type FcmErrorCode = keyof typeof fcmErrors;

export interface FcmServiceAccount {
  readonly type: 'service_account';
  readonly project_id: string;
  readonly private_key_id: string;
  readonly private_key: string;
  readonly client_email: string;
  readonly token_uri: string;
}

export interface ReceivedFcmMessage {
  readonly projectId: string;
  readonly token: string;
  readonly message: Readonly<Record<string, unknown>>;
  readonly accessToken: string;
}

export interface FcmServerOptions {
  /** Lifetime of the access tokens issued. @default 3600 */
  readonly accessTokenLifetimeSeconds?: number;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Serve https with this certificate and key (PEM) instead of plain http. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export interface FcmServer {
  readonly origin: string;
  /** The token endpoint, `{origin}/token`: what the assertion's `aud` must be. */
  readonly tokenUri: string;
  /** A new service account (its own RSA key) for `projectId`, in the key file's JSON shape. */
  createServiceAccount(projectId?: string): FcmServiceAccount;
  readonly messages: readonly ReceivedFcmMessage[];
  /** Token requests granted and refused (`reason`). */
  readonly tokenRequests: readonly { granted: boolean; reason?: string }[];
  /** Answer sends to `token` with FCM's error body for `code` (`times` sends; default all until cleared). */
  failWith(token: string, code: FcmErrorCode, options?: { times?: number; retryAfter?: string }): void;
  /** Never answer sends to `token`. */
  hang(token: string): void;
  /** Back to accepting sends to `token`. */
  accept(token: string): void;
  /** Forget every access token issued so far: the next sends get 401. */
  revokeAccessTokens(): void;
  /** While on, every send gets 401 whatever its token (a credential revoked for good). */
  refuseAccessTokens(refuse: boolean): void;
  /** Answer the next `times` token requests with `status` (e.g. 503). */
  failTokenRequests(status: number, times?: number): void;
  /** Connections open to the server now (a closed client leaves none). */
  openConnections(): Promise<number>;
  close(): Promise<void>;
}

type Behaviour = { kind: 'hang' } | { kind: 'fail'; code: FcmErrorCode; times: number; retryAfter?: string };

const scope = 'https://www.googleapis.com/auth/firebase.messaging';
const messageFields = new Set([
  'name',
  'data',
  'notification',
  'android',
  'webpush',
  'apns',
  'fcm_options',
  'token',
  'topic',
  'condition',
]);

export async function startFcmServer(options: FcmServerOptions = {}): Promise<FcmServer> {
  const clock = options.clock ?? systemClock;
  const lifetime = options.accessTokenLifetimeSeconds ?? 3600;
  const accounts = new Map<string, { key: KeyObject; keyId: string; projectId: string }>();
  const accessTokens = new Map<string, { projectId: string; expiresAt: number }>();
  const behaviours = new Map<string, Behaviour>();
  const messages: ReceivedFcmMessage[] = [];
  const tokenRequests: { granted: boolean; reason?: string }[] = [];
  const hanging = new Set<ServerResponse>();
  let tokenFailures: { status: number; times: number } | undefined;
  let refuseAll = false;
  let origin = '';

  const grant = async (request: IncomingMessage, response: ServerResponse) => {
    const refuse = (reason: string, status = 400) => {
      tokenRequests.push({ granted: false, reason });
      sendJson(response, status, { error: 'invalid_grant', error_description: reason });
    };
    const form = new URLSearchParams((await readBody(request, 16_384)).toString('utf8'));
    if (tokenFailures !== undefined && tokenFailures.times-- > 0) {
      tokenRequests.push({ granted: false, reason: `told to answer ${tokenFailures.status}` });
      sendJson(response, tokenFailures.status, { error: 'internal_failure' });
      return;
    }
    if (!String(request.headers['content-type']).startsWith('application/x-www-form-urlencoded'))
      return refuse('form body expected');
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer')
      return refuse('unsupported grant_type');
    const assertion = form.get('assertion') ?? '';
    const claimsPart = assertion.split('.')[1] ?? '';
    let iss: unknown;
    try {
      iss = JSON.parse(Buffer.from(claimsPart, 'base64url').toString('utf8')).iss;
    } catch {
      return refuse('assertion is not a JWT');
    }
    const account = typeof iss === 'string' ? accounts.get(iss) : undefined;
    if (account === undefined) return refuse('Invalid grant: account not found', 400);
    const verified = verifyJwt(assertion, 'RS256', account.key);
    if (typeof verified === 'string') return refuse(`Invalid JWT: ${verified}`);
    const { header, claims } = verified;
    const now = Math.floor(clock.now() / 1000);
    if (header.kid !== undefined && header.kid !== account.keyId)
      return refuse('Invalid JWT: kid is not the account key');
    if (claims.aud !== `${origin}/token`) return refuse('Invalid JWT: aud must be the token endpoint');
    if (typeof claims.scope !== 'string' || !claims.scope.split(' ').includes(scope))
      return refuse('Invalid JWT: scope');
    if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number')
      return refuse('Invalid JWT: iat and exp required');
    if (claims.iat > now + 60) return refuse('Invalid JWT: iat in the future');
    if (claims.exp <= now) return refuse('Invalid JWT: expired');
    if (claims.exp - claims.iat > 3600) return refuse('Invalid JWT: exp more than an hour after iat');
    const token = `ya29.${randomBytes(24).toString('base64url')}`;
    accessTokens.set(token, { projectId: account.projectId, expiresAt: clock.now() + lifetime * 1000 });
    tokenRequests.push({ granted: true });
    sendJson(response, 200, { access_token: token, expires_in: lifetime, token_type: 'Bearer' });
  };

  const send = async (request: IncomingMessage, response: ServerResponse, projectId: string) => {
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const access = bearer === undefined ? undefined : accessTokens.get(bearer);
    const body = await readBody(request, 65_536);
    if (access === undefined || access.expiresAt <= clock.now() || refuseAll) {
      return rpcError(response, 401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
    }
    if (access.projectId !== projectId)
      return rpcError(response, 403, 'PERMISSION_DENIED', 'The caller does not have permission');
    const checked = checkMessage(body);
    if (typeof checked === 'string') return fcmError(response, 'INVALID_ARGUMENT', checked);
    const behaviour = behaviours.get(checked.token);
    if (behaviour?.kind === 'hang') {
      hanging.add(response);
      response.on('close', () => hanging.delete(response));
      return;
    }
    if (behaviour?.kind === 'fail') {
      if (--behaviour.times <= 0) behaviours.delete(checked.token);
      return fcmError(response, behaviour.code, `told to fail with ${behaviour.code}`, behaviour.retryAfter);
    }
    messages.push({ projectId, token: checked.token, message: checked.message, accessToken: bearer as string });
    sendJson(response, 200, { name: `projects/${projectId}/messages/${randomUUID()}` });
  };

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const path = request.url ?? '';
    if (request.method === 'POST' && path === '/token') return grant(request, response);
    const match = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(path);
    if (request.method === 'POST' && match !== null) return send(request, response, decodeURIComponent(match[1] ?? ''));
    return false;
  };

  const server: Server = serverFor(handle, options.tls);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  origin = `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    origin,
    tokenUri: `${origin}/token`,
    messages,
    tokenRequests,
    createServiceAccount(projectId = 'hubbub-test') {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const email = `push-${randomUUID().slice(0, 8)}@${projectId}.iam.gserviceaccount.com`;
      const keyId = randomBytes(20).toString('hex');
      accounts.set(email, { key: publicKey, keyId, projectId });
      return {
        type: 'service_account',
        project_id: projectId,
        private_key_id: keyId,
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        client_email: email,
        token_uri: `${origin}/token`,
      };
    },
    failWith(token, code, o = {}) {
      behaviours.set(token, {
        kind: 'fail',
        code,
        times: o.times ?? Number.POSITIVE_INFINITY,
        ...(o.retryAfter === undefined ? {} : { retryAfter: o.retryAfter }),
      });
    },
    hang(token) {
      behaviours.set(token, { kind: 'hang' });
    },
    accept(token) {
      behaviours.delete(token);
    },
    revokeAccessTokens() {
      accessTokens.clear();
    },
    refuseAccessTokens(refuse) {
      refuseAll = refuse;
    },
    failTokenRequests(status, times = 1) {
      tokenFailures = { status, times };
    },
    openConnections() {
      return new Promise<number>((resolve, reject) =>
        server.getConnections((error, n) => (error ? reject(error) : resolve(n))),
      );
    },
    async close() {
      for (const response of hanging) response.destroy();
      await closeHttpServer(server);
    },
  };
}

/** Checks `{message: {...}, validate_only?}` as FCM does; returns the message and its token or why it is refused. */
function checkMessage(body: Buffer): { message: Record<string, unknown>; token: string } | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return 'Invalid JSON payload received.';
  }
  if (typeof parsed !== 'object' || parsed === null) return 'Invalid JSON payload received.';
  for (const key of Object.keys(parsed)) {
    if (key !== 'message' && key !== 'validate_only')
      return `Invalid JSON payload received. Unknown name "${key}": Cannot find field.`;
  }
  const message = (parsed as { message?: unknown }).message;
  if (typeof message !== 'object' || message === null || Array.isArray(message))
    return 'Request contains an invalid argument: message is required.';
  const m = message as Record<string, unknown>;
  for (const key of Object.keys(m))
    if (!messageFields.has(key)) return `Invalid JSON payload received. Unknown name "${key}" at 'message'.`;
  const targets = ['token', 'topic', 'condition'].filter((t) => m[t] !== undefined);
  if (targets.length !== 1) return 'Exactly one of token, topic or condition is required.';
  if (typeof m.token !== 'string' || m.token === '')
    return 'The registration token is not a valid FCM registration token';
  if (m.data !== undefined) {
    if (typeof m.data !== 'object' || m.data === null || Array.isArray(m.data))
      return "Invalid value at 'message.data'";
    for (const [k, v] of Object.entries(m.data)) {
      if (typeof v !== 'string') return `Invalid value at 'message.data[${k}].value' (TYPE_STRING)`;
      if (['from', 'notification', 'message_type'].includes(k) || /^(google|gcm)/.test(k))
        return `Invalid data payload key: ${k}`;
    }
  }
  if (m.notification !== undefined) {
    if (typeof m.notification !== 'object' || m.notification === null) return "Invalid value at 'message.notification'";
    for (const [k, v] of Object.entries(m.notification)) {
      if (!['title', 'body', 'image'].includes(k)) return `Unknown name "${k}" at 'message.notification'`;
      if (typeof v !== 'string') return `Invalid value at 'message.notification.${k}' (TYPE_STRING)`;
    }
  }
  for (const k of ['android', 'webpush', 'apns', 'fcm_options']) {
    if (m[k] !== undefined && (typeof m[k] !== 'object' || m[k] === null || Array.isArray(m[k])))
      return `Invalid value at 'message.${k}'`;
  }
  const android = m.android as { ttl?: unknown } | undefined;
  if (android?.ttl !== undefined && (typeof android.ttl !== 'string' || !/^\d+(\.\d+)?s$/.test(android.ttl))) {
    return "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration)";
  }
  if (Buffer.byteLength(JSON.stringify(m)) > 4096 + 512) return 'Message is too big';
  return { message: m, token: m.token };
}

function fcmError(response: ServerResponse, code: FcmErrorCode, message: string, retryAfter?: string): void {
  const [status, rpc] = fcmErrors[code];
  rpcError(
    response,
    status,
    rpc,
    message,
    [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: code }],
    retryAfter,
  );
}

function rpcError(
  response: ServerResponse,
  status: number,
  rpc: string,
  message: string,
  details?: object[],
  retryAfter?: string,
): void {
  const error =
    details === undefined ? { code: status, message, status: rpc } : { code: status, message, status: rpc, details };
  sendJson(response, status, { error }, retryAfter === undefined ? {} : { 'Retry-After': retryAfter });
}
