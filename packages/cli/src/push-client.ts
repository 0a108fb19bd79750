/**
 * What `hubbub push` speaks: a running Hubbub's Notification Hubs front, as the Azure SDK does —
 * HTTPS trusting the local CA (`<data>/tls/ca.pem`), requests signed with a shared access
 * signature of the full-rights key, Notification Hubs' paths and headers, XML answers for the
 * registration list and the outcome details. Every failure is a coded error: the front's own code
 * (its `x-hubbub-error-code` header) when it answered one, `CLI_PUSH_UNREACHABLE` when nothing
 * (or something that is not the front) answered.
 * @module
 */
import { createHmac } from 'node:crypto';
import { request } from 'node:https';
import { HubbubError } from '@hubbub/kernel';
import { XMLParser } from 'fast-xml-parser';

export interface PushTarget {
  /** `https://127.0.0.1:7443` */
  readonly origin: string;
  readonly hubName: string;
  readonly keyName: string;
  readonly key: string;
  /** PEM of the CA the front's certificate chains to. */
  readonly ca: string | undefined;
  /** Where the target came from, for error messages. */
  readonly from: string;
}

export interface InstallationSummary {
  readonly installationId: string;
  readonly platform: string;
  readonly tags: string[];
  readonly template: string | undefined;
}

export interface OutcomeDetails {
  readonly notificationId: string;
  readonly state: string;
  readonly enqueueTime: string | undefined;
  readonly endTime: string | undefined;
  /** Per platform element (`BrowserOutcomeCounts` …): outcome name → count. */
  readonly counts: Record<string, Record<string, number>>;
}

const API = 'api-version=2020-06';
const MAX_ANSWER = 4 * 1024 * 1024;
const xml = new XMLParser({ ignoreAttributes: true, removeNSPrefix: true, parseTagValue: false, trimValues: true });

/** Parses `Endpoint=sb://host:port/;SharedAccessKeyName=…;SharedAccessKey=…`. */
export function parseConnectionString(text: string): { origin: string; keyName: string; key: string } | undefined {
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const endpoint = fields.get('endpoint');
  const keyName = fields.get('sharedaccesskeyname');
  const key = fields.get('sharedaccesskey');
  if (endpoint === undefined || keyName === undefined || key === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(endpoint.replace(/^sb:/i, 'https:'));
  } catch {
    return undefined;
  }
  return { origin: url.origin, keyName, key };
}

function sasToken(origin: string, keyName: string, key: string): string {
  const sr = encodeURIComponent(`${origin}/`.toLowerCase());
  const se = String(Math.floor(Date.now() / 1000) + 600);
  const sig = createHmac('sha256', Buffer.from(key, 'utf8')).update(`${sr}\n${se}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}&skn=${encodeURIComponent(keyName)}`;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function unreachable(target: PushTarget, why: string, cause?: unknown): HubbubError {
  return new HubbubError(
    'CLI_PUSH_UNREACHABLE',
    `The Notification Hubs front at ${target.origin} (from ${target.from}) ${why}. Is Hubbub running with push on? Point at it with --connection-string, --url or --data.`,
    { detail: { origin: target.origin }, ...(cause === undefined ? {} : { cause }) },
  );
}

function call(target: PushTarget, method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  const url = new URL(`/${encodeURIComponent(target.hubName)}${path}`, target.origin);
  return new Promise<Answer>((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        headers: {
          Authorization: sasToken(target.origin, target.keyName, target.key),
          ...headers,
          ...(body === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(body)) }),
        },
        ...(target.ca === undefined ? {} : { ca: target.ca }),
        timeout: 15_000,
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (text.length > MAX_ANSWER) req.destroy(new Error('the answer is over 4 MiB'));
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on('error', (err) => reject(unreachable(target, `broke off its answer (${err.message})`, err)));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 15 s')));
    req.on('error', (err) => reject(unreachable(target, `could not be reached (${err.message})`, err)));
    req.end(body);
  });
}

/** The front's coded error for a non-success answer. */
function failed(target: PushTarget, answer: Answer): HubbubError {
  const code = answer.headers['x-hubbub-error-code'];
  if (typeof code !== 'string') {
    return unreachable(target, `answered ${answer.status} without a Hubbub error code: it is not Hubbub's front`);
  }
  const detail = /<Detail>([\s\S]*?)<\/Detail>/.exec(answer.body)?.[1] ?? `HTTP ${answer.status}`;
  return new HubbubError(code, detail.replace(/^[A-Z_]+: /, ''), { detail: { status: answer.status } });
}

export interface SendRequest {
  /** `browser`, `fcmv1`, `apple` or `template` (the body is then the properties). */
  readonly format: string;
  readonly body: string;
  /** A tag expression; absent: a broadcast. */
  readonly tags: string | undefined;
}

/** Sends; resolves with the notification id the front assigned. */
export async function sendNotification(target: PushTarget, send: SendRequest): Promise<string> {
  const headers: Record<string, string> = {
    'Content-Type': 'application/json;charset=utf-8',
    'ServiceBusNotification-Format': send.format,
    ...(send.tags === undefined ? {} : { 'ServiceBusNotification-Tags': send.tags }),
  };
  const answer = await call(target, 'POST', `/messages/?${API}`, headers, send.body);
  if (answer.status !== 201) throw failed(target, answer);
  const location = String(answer.headers.location ?? '');
  const id = /\/messages\/([^/?]+)/.exec(location)?.[1];
  if (id === undefined) throw unreachable(target, 'answered a send without a notification Location');
  return decodeURIComponent(id);
}

/** The outcome details; undefined when the front knows no such notification. */
export async function notificationOutcome(target: PushTarget, id: string): Promise<OutcomeDetails | undefined> {
  const answer = await call(target, 'GET', `/messages/${encodeURIComponent(id)}?${API}`);
  if (answer.status === 404) return undefined;
  if (answer.status !== 200) throw failed(target, answer);
  const details = (xml.parse(answer.body) as { NotificationDetails?: Record<string, unknown> }).NotificationDetails;
  if (details === undefined) throw unreachable(target, 'answered outcome details that are not NotificationDetails');
  const counts: Record<string, Record<string, number>> = {};
  for (const [name, value] of Object.entries(details)) {
    if (!name.endsWith('OutcomeCounts')) continue;
    const outcomes = (value as { Outcome?: unknown }).Outcome;
    const platform: Record<string, number> = {};
    for (const o of Array.isArray(outcomes) ? outcomes : [outcomes]) {
      const { Name, Count } = (o ?? {}) as { Name?: string; Count?: string };
      if (Name !== undefined) platform[Name] = Number(Count);
    }
    counts[name] = platform;
  }
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  return {
    notificationId: text(details.NotificationId) ?? id,
    state: text(details.State) ?? 'Unknown',
    enqueueTime: text(details.EnqueueTime),
    endTime: text(details.EndTime),
    counts,
  };
}

/** Every installation (as the registrations feed lists them), or those carrying `tag`. */
export async function listInstallations(target: PushTarget, tag?: string): Promise<InstallationSummary[]> {
  const out: InstallationSummary[] = [];
  const base = tag === undefined ? '/registrations' : `/tags/${encodeURIComponent(tag)}/registrations`;
  let continuation: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const query = `?$top=100&${API}${continuation === undefined ? '' : `&continuationtoken=${encodeURIComponent(continuation)}`}`;
    const answer = await call(target, 'GET', `${base}${query}`);
    if (answer.status !== 200) throw failed(target, answer);
    const feed = (xml.parse(answer.body) as { feed?: { entry?: unknown } }).feed;
    if (feed === undefined) throw unreachable(target, 'answered a registration list that is not an Atom feed');
    const entries = feed.entry === undefined ? [] : Array.isArray(feed.entry) ? feed.entry : [feed.entry];
    for (const entry of entries) {
      const content = ((entry ?? {}) as { content?: Record<string, Record<string, unknown>> }).content ?? {};
      const [kind, d] = Object.entries(content)[0] ?? [];
      const m = /^(\w+?)(Template)?RegistrationDescription$/.exec(kind ?? '');
      if (m === null || d === undefined) continue;
      const tags = typeof d.Tags === 'string' && d.Tags !== '' ? d.Tags.split(',') : [];
      out.push({
        installationId: String(d.RegistrationId ?? ''),
        platform: m[1]!.toLowerCase() === 'apple' ? 'apns' : m[1]!.toLowerCase(),
        tags,
        template: typeof d.TemplateName === 'string' ? d.TemplateName : undefined,
      });
    }
    const next = answer.headers['x-ms-continuationtoken'];
    if (typeof next !== 'string' || next === '') return out;
    continuation = next;
  }
  return out;
}
