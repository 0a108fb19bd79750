/**
 * What the bus commands (`send`, `receive`, `peek`, `dlq`) talk to: the HTTP API of a running
 * Hubbub (`http://…`, SAS-signed when a key is given) or a bus opened in this process
 * (`file://DIR`, `memory://`).
 * @module
 */
import {
  type Bus,
  type BusOverview,
  busOverview,
  createSasToken,
  openBus,
  type ReceivedMessage,
  readBrokerProperties,
  type SasKey,
  writeBrokerProperties,
} from '@hubbub/bus';
import { HubbubError } from '@hubbub/kernel';
import { parseKey, runningFilePath, STATUS_PATH, type SystemStatus, storedBusKey, UsageError } from '@hubbub/system';
import { dataDirFrom, locate, runningSystem, whereToPoint } from './locate.ts';

export { parseKey };

/** A message as the commands print it (one JSON object per line). */
export interface CliMessage {
  sequenceNumber: number;
  messageId?: string;
  subject?: string;
  contentType?: string;
  correlationId?: string;
  sessionId?: string;
  deliveryCount: number;
  enqueuedTime?: string;
  state?: string;
  deadLetterReason?: string;
  deadLetterErrorDescription?: string;
  applicationProperties: Record<string, unknown>;
  /** JSON bodies parsed, text as a string, bytes as base64 (then `bodyEncoding: 'base64'`). */
  body: unknown;
  bodyEncoding?: 'base64';
}

export interface OutgoingMessage {
  body: Buffer;
  contentType?: string;
  messageId?: string;
  subject?: string;
  correlationId?: string;
  sessionId?: string;
  to?: string;
  replyTo?: string;
  timeToLiveMs?: number;
  applicationProperties: Record<string, string | number | boolean>;
}

/** A received message that may still need settling. */
export interface Received {
  message: CliMessage;
  /** The original bytes and fields, for resubmission. */
  outgoing: OutgoingMessage;
  complete(): Promise<void>;
  abandon(): Promise<void>;
}

export interface BusTarget {
  send(entity: string, message: OutgoingMessage): Promise<void>;
  /** One message, waiting up to `timeoutSeconds`; `lock` = peek-lock (settle it), else receive-and-delete. */
  receive(entity: string, lock: boolean, timeoutSeconds: number): Promise<Received | undefined>;
  peek(entity: string, count: number, fromSequenceNumber: number): Promise<CliMessage[]>;
  /** Every entity with its counts (`GET /bus`). */
  overview(): Promise<BusOverview>;
  /**
   * The hubs and functions of the running system this bus is part of (`GET /hubbub/status`);
   * `undefined` for a bus on its own (`hubbub bus`, `file://`, `memory://`).
   */
  status(): Promise<SystemStatus | undefined>;
  close(): Promise<void>;
}

export const DEFAULT_BUS_URL = 'http://127.0.0.1:7071/bus';

/**
 * Opens the bus at `url`; `hint` ends the error when an HTTP bus cannot be reached (how to point
 * the command elsewhere).
 */
export async function openTarget(url: string, key: SasKey | undefined, hint = ''): Promise<BusTarget> {
  if (url.startsWith('http://') || url.startsWith('https://'))
    return new HttpTarget(url.replace(/\/+$/, ''), key, hint);
  if (url.startsWith('file://') || url.startsWith('memory:')) return new DirectTarget(await openBus({ url }));
  throw new UsageError(`--url must be http://…, file://DIR or memory://, got '${url}'`);
}

// ── helpers ───────────────────────────────────────────────────────────────────────────────────

const isJson = (type: string | undefined): boolean =>
  type !== undefined && /^application\/(?:[\w.+-]+\+)?json\b/i.test(type);
const isText = (type: string | undefined): boolean => type !== undefined && /^text\//i.test(type);

function presentBody(
  bytes: Buffer,
  contentType: string | undefined,
  textual: boolean,
): Pick<CliMessage, 'body' | 'bodyEncoding'> {
  if (isJson(contentType)) {
    try {
      return { body: JSON.parse(bytes.toString('utf8')) };
    } catch {
      // fall through: show it as text or bytes
    }
  }
  if (textual || isText(contentType) || isJson(contentType)) return { body: bytes.toString('utf8') };
  return { body: bytes.toString('base64'), bodyEncoding: 'base64' };
}

const entityUrl = (entity: string): string => entity.split('/').map(encodeURIComponent).join('/');

/** Strips what a dead-lettering added, so a resubmitted message looks like the original. */
function cleanProperties(props: Record<string, unknown>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(props)) {
    if (k === 'DeadLetterReason' || k === 'DeadLetterErrorDescription') continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (typeof v === 'bigint') out[k] = Number(v);
  }
  return out;
}

// ── HTTP ──────────────────────────────────────────────────────────────────────────────────────

interface HttpError {
  code?: string;
  message?: string;
}

class HttpTarget implements BusTarget {
  readonly #base: string;
  readonly #key: SasKey | undefined;
  readonly #hint: string;

  constructor(base: string, key: SasKey | undefined, hint: string) {
    this.#base = base;
    this.#key = key;
    this.#hint = hint;
  }

  /** The system's root: the bus's base URL without its `/bus`. */
  get #root(): string {
    return this.#base.replace(/\/bus$/, '');
  }

  async #fetch(
    path: string,
    init: Omit<RequestInit, 'headers'> & { headers?: Record<string, string> },
  ): Promise<Response> {
    // A path starting with '//' is on the system's root rather than under the bus's base path.
    const url = path.startsWith('//') ? `${this.#root}${path.slice(1)}` : `${this.#base}${path}`;
    const resource = path.startsWith('//') ? url : this.#base;
    const headers: Record<string, string> = { ...init.headers };
    if (this.#key !== undefined) headers.authorization = createSasToken(resource, this.#key, Date.now() / 1000 + 600);
    let res: Response;
    try {
      res = await fetch(url, { ...init, headers });
    } catch (err) {
      throw new HubbubError('CLI_BUS_UNREACHABLE', `Cannot reach the bus at ${this.#base}. ${this.#hint}`.trim(), {
        cause: err,
        detail: { url: this.#base },
      });
    }
    if (res.status >= 400) {
      const text = await res.text();
      let body: HttpError = {};
      try {
        body = JSON.parse(text) as HttpError;
      } catch {
        body = { message: text };
      }
      const message = body.message ?? `HTTP ${res.status}`;
      const keyHint =
        res.status === 401 ? ' Sign with the bus key: --key NAME=KEY or $HUBBUB_BUS_KEY (the server prints it).' : '';
      throw new RemoteError(body.code ?? `HTTP_${res.status}`, `${message}${keyHint}`, res.status);
    }
    return res;
  }

  async send(entity: string, m: OutgoingMessage): Promise<void> {
    const bp = writeBrokerProperties({
      messageId: m.messageId,
      subject: m.subject,
      correlationId: m.correlationId,
      sessionId: m.sessionId,
      to: m.to,
      replyTo: m.replyTo,
      timeToLive: m.timeToLiveMs,
    });
    const headers: Record<string, string> = { brokerproperties: JSON.stringify(bp) };
    if (m.contentType !== undefined) headers['content-type'] = m.contentType;
    for (const [k, v] of Object.entries(m.applicationProperties)) {
      headers[k] = typeof v === 'string' ? JSON.stringify(v) : String(v);
    }
    await (
      await this.#fetch(`/${entityUrl(entity)}/messages`, { method: 'POST', headers, body: m.body })
    ).arrayBuffer();
  }

  async receive(entity: string, lock: boolean, timeoutSeconds: number): Promise<Received | undefined> {
    const res = await this.#fetch(`/${entityUrl(entity)}/messages/head?timeout=${timeoutSeconds}`, {
      method: lock ? 'POST' : 'DELETE',
    });
    if (res.status === 204) return undefined;
    const bytes = Buffer.from(await res.arrayBuffer());
    const bp = JSON.parse(res.headers.get('brokerproperties') ?? '{}') as Record<string, unknown>;
    const contentType = res.headers.get('content-type') ?? undefined;
    const props: Record<string, unknown> = {};
    const skip = new Set([
      'brokerproperties',
      'content-type',
      'content-length',
      'location',
      'date',
      'connection',
      'keep-alive',
      'transfer-encoding',
    ]);
    res.headers.forEach((value, name) => {
      if (skip.has(name)) return;
      try {
        props[name] = JSON.parse(value);
      } catch {
        props[name] = value;
      }
    });
    const location = res.headers.get('location');
    const settle = async (method: 'DELETE' | 'PUT'): Promise<void> => {
      if (location === null) return;
      const basePath = new URL(this.#base).pathname.replace(/\/+$/, '');
      const path = new URL(location).pathname.slice(basePath.length);
      await (await this.#fetch(path, { method })).arrayBuffer();
    };
    // REST counts the delivery it answers (1 on the first); the CLI prints the library's count (0).
    const message = fromBrokerProperties(bp, 'received', props, presentBody(bytes, contentType, false));
    if (contentType !== undefined) message.contentType = contentType;
    return {
      message,
      outgoing: outgoingFrom(message, bytes, contentType),
      complete: () => settle('DELETE'),
      abandon: () => settle('PUT'),
    };
  }

  async peek(entity: string, count: number, from: number): Promise<CliMessage[]> {
    const res = await this.#fetch(`/${entityUrl(entity)}/messages?count=${count}&fromSequenceNumber=${from}`, {
      method: 'GET',
    });
    const entries = (await res.json()) as Array<{
      Body: string;
      BodyEncoding?: string;
      BrokerProperties: Record<string, unknown>;
      UserProperties: Record<string, unknown>;
    }>;
    return entries.map((e) => {
      const bytes = Buffer.from(e.Body, e.BodyEncoding === 'base64' ? 'base64' : 'utf8');
      const type = e.BrokerProperties.ContentType as string | undefined;
      return fromBrokerProperties(
        e.BrokerProperties,
        'peeked',
        e.UserProperties,
        presentBody(bytes, type, e.BodyEncoding !== 'base64'),
      );
    });
  }

  async overview(): Promise<BusOverview> {
    return (await (await this.#fetch('/', { method: 'GET' })).json()) as BusOverview;
  }

  async status(): Promise<SystemStatus | undefined> {
    try {
      return (await (await this.#fetch(`/${STATUS_PATH}`, { method: 'GET' })).json()) as SystemStatus;
    } catch (err) {
      if (err instanceof RemoteError && err.status === 404) return undefined;
      throw err;
    }
  }

  async close(): Promise<void> {}
}

/** An error answered by the bus HTTP API, with the API's code (`BUS_ENTITY_NOT_FOUND` …) and status. */
export class RemoteError extends HubbubError {
  constructor(code: string, message: string, status: number) {
    super(code, message, { status });
  }
}

function fromBrokerProperties(
  bp: Record<string, unknown>,
  delivery: 'received' | 'peeked',
  props: Record<string, unknown>,
  body: Pick<CliMessage, 'body' | 'bodyEncoding'>,
): CliMessage {
  const r = readBrokerProperties(bp, delivery);
  const m: CliMessage = {
    sequenceNumber: Number(r.sequenceNumber),
    deliveryCount: r.deliveryCount,
    applicationProperties: props,
    ...body,
  };
  const set = <K extends keyof CliMessage>(k: K, v: CliMessage[K] | undefined): void => {
    if (v !== undefined) m[k] = v;
  };
  set('messageId', r.messageId);
  set('subject', r.subject);
  set('contentType', r.contentType);
  set('correlationId', r.correlationId);
  set('sessionId', r.sessionId);
  set('enqueuedTime', r.enqueuedTime?.toISOString());
  set('state', r.state);
  set('deadLetterReason', r.deadLetterReason);
  set('deadLetterErrorDescription', r.deadLetterErrorDescription);
  return m;
}

function outgoingFrom(m: CliMessage, bytes: Buffer, contentType: string | undefined): OutgoingMessage {
  const out: OutgoingMessage = { body: bytes, applicationProperties: cleanProperties(m.applicationProperties) };
  if (contentType !== undefined) out.contentType = contentType;
  if (m.messageId !== undefined) out.messageId = m.messageId;
  if (m.subject !== undefined) out.subject = m.subject;
  if (m.correlationId !== undefined) out.correlationId = m.correlationId;
  if (m.sessionId !== undefined) out.sessionId = m.sessionId;
  return out;
}

// ── direct (in-process bus) ───────────────────────────────────────────────────────────────────

class DirectTarget implements BusTarget {
  readonly #bus: Bus;
  constructor(bus: Bus) {
    this.#bus = bus;
  }

  async send(entity: string, m: OutgoingMessage): Promise<void> {
    const sender = this.#bus.createSender(entity);
    const type = m.contentType;
    let body: unknown = m.body;
    if (isJson(type)) {
      try {
        body = JSON.parse(m.body.toString('utf8'));
      } catch {
        body = m.body;
      }
    } else if (isText(type)) body = m.body.toString('utf8');
    await sender.send({
      body,
      ...(type === undefined ? {} : { contentType: type }),
      ...(m.messageId === undefined ? {} : { messageId: m.messageId }),
      ...(m.subject === undefined ? {} : { subject: m.subject }),
      ...(m.correlationId === undefined ? {} : { correlationId: m.correlationId }),
      ...(m.sessionId === undefined ? {} : { sessionId: m.sessionId }),
      ...(m.to === undefined ? {} : { to: m.to }),
      ...(m.replyTo === undefined ? {} : { replyTo: m.replyTo }),
      ...(m.timeToLiveMs === undefined ? {} : { timeToLive: m.timeToLiveMs }),
      applicationProperties: m.applicationProperties,
    });
    await sender.close();
  }

  async receive(entity: string, lock: boolean, timeoutSeconds: number): Promise<Received | undefined> {
    const receiver = this.#bus.createReceiver(entity, { receiveMode: lock ? 'peekLock' : 'receiveAndDelete' });
    const [got] = await receiver.receiveMessages(1, { maxWaitTimeMs: timeoutSeconds * 1000 });
    if (got === undefined) {
      await receiver.close();
      return undefined;
    }
    const message = fromReceived(got.toJSON(), Buffer.from(got.bodyBytes));
    return {
      message,
      outgoing: outgoingFrom(message, Buffer.from(got.bodyBytes), got.contentType),
      complete: async () => {
        if (lock) await got.complete();
      },
      abandon: async () => {
        if (lock) await got.abandon();
      },
    };
  }

  async peek(entity: string, count: number, from: number): Promise<CliMessage[]> {
    const receiver = this.#bus.createReceiver(entity);
    const got = await receiver.peekMessages(count, { fromSequenceNumber: BigInt(from) });
    await receiver.close();
    return got.map((m) => fromReceived(m.toJSON(), Buffer.from(m.bodyBytes)));
  }

  overview(): Promise<BusOverview> {
    return busOverview(this.#bus);
  }

  async status(): Promise<undefined> {
    return undefined;
  }

  async close(): Promise<void> {
    await this.#bus.close();
  }
}

function fromReceived(r: ReceivedMessage, bytes: Buffer): CliMessage {
  const props: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r.applicationProperties)) {
    props[k] = typeof v === 'bigint' ? Number(v) : v instanceof Date ? v.toISOString() : v;
  }
  const textual = typeof r.body === 'string';
  const m: CliMessage = {
    sequenceNumber: Number(r.sequenceNumber),
    deliveryCount: r.deliveryCount,
    enqueuedTime: r.enqueuedTime.toISOString(),
    state: r.state,
    applicationProperties: props,
    ...(r.body instanceof Uint8Array
      ? presentBody(bytes, undefined, false)
      : presentBody(bytes, r.contentType, textual)),
  };
  if (r.messageId !== undefined) m.messageId = r.messageId;
  if (r.subject !== undefined) m.subject = r.subject;
  if (r.contentType !== undefined) m.contentType = r.contentType;
  if (r.correlationId !== undefined) m.correlationId = r.correlationId;
  if (r.sessionId !== undefined) m.sessionId = r.sessionId;
  if (r.deadLetterReason !== undefined) m.deadLetterReason = r.deadLetterReason;
  if (r.deadLetterErrorDescription !== undefined) m.deadLetterErrorDescription = r.deadLetterErrorDescription;
  return m;
}

// ── shared command options ────────────────────────────────────────────────────────────────────

/** Options every bus client command takes. */
export const targetOptions = {
  url: { type: 'string' },
  key: { type: 'string' },
  data: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const URL_HELP = `  --url URL        where the bus is: http://host:port/bus, file://DIR or memory:// (default
                   $HUBBUB_BUS_URL, else the running Hubbub of the data directory, else
                   ${DEFAULT_BUS_URL})
  --key NAME=KEY   sign requests with this shared access key (default $HUBBUB_BUS_KEY, else the
                   running Hubbub's key, else the one in <data>/keys.json)
  --data DIR       the data directory of the running Hubbub (default $HUBBUB_DATA_DIR or .data);
                   npm start and hubbub start write its URLs and keys to <data>/running.json`;

export const usage = (lines: string): string => `${lines}\n${URL_HELP}\n`;

/**
 * Opens the target the flags name: `--url`, then `$HUBBUB_BUS_URL`, then the running Hubbub of the
 * data directory (its `running.json`), then {@link DEFAULT_BUS_URL}; the key likewise (`--key`,
 * `$HUBBUB_BUS_KEY`, the running Hubbub's, then `<data>/keys.json`).
 */
export function targetFrom(values: {
  url?: string | undefined;
  key?: string | undefined;
  data?: string | undefined;
}): Promise<BusTarget> {
  const dataDir = dataDirFrom(values.data);
  const running = runningSystem(dataDir);
  const id = (text: string) => text;
  const url = locate({ name: 'url', value: values.url }, ['HUBBUB_BUS_URL'], id, running, (r) => r.bus.url);
  const key =
    locate(
      { name: 'key', value: values.key === undefined ? undefined : parseKey(values.key) },
      ['HUBBUB_BUS_KEY'],
      parseKey,
      running,
      (r) => r.bus.key,
    )?.value ?? storedBusKey(dataDir);
  const where =
    url === undefined
      ? `No running Hubbub was found (${runningFilePath(dataDir)}), so the command tried the default.`
      : `The URL came from ${url.from}.`;
  return openTarget(
    url?.value ?? DEFAULT_BUS_URL,
    key,
    `${where} ${whereToPoint('--url URL', 'HUBBUB_BUS_URL', dataDir)}`,
  );
}

/** A positive integer flag. */
export function intFlag(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got '${value}'`);
  return n;
}

export const printJson = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};
