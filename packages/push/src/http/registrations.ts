/**
 * Notification Hubs' legacy registrations (Atom XML) over installations: a registration is the
 * installation whose id is its registration id — platform and channel, tags, and for a template
 * registration one template (named by `TemplateName`, else `template`). So a device registered
 * either way is reached by the same sends, and an installation reads as a registration (of its
 * first template, when it has several). `Browser`, `FcmV1` and `Apple` registrations and their
 * `Template` kinds are served; the SDK dispatches on the exact element name. ETags are a digest of
 * the stored installation; `If-Match` on update and delete is checked (412 on a mismatch).
 * @module
 */
import { createHash, randomUUID } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { PushError } from '../errors.ts';
import type { Installation, InstallationInput, Platform } from '../model.ts';
import type { Exchange } from './exchange.ts';
import { invalidRequest, replyEmpty, replyXml } from './reply.ts';
import { escapeXml } from './xml.ts';

const kinds = new Map<string, Platform>([
  ['Browser', 'browser'],
  ['FcmV1', 'fcmv1'],
  ['Apple', 'apns'],
]);
const kindOf: Record<Platform, string> = { browser: 'Browser', fcmv1: 'FcmV1', apns: 'Apple' };
const sbNamespace = 'http://schemas.microsoft.com/netservices/2010/10/servicebus/connect';
const atom = 'http://www.w3.org/2005/Atom';
const maxPage = 100;

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
});

/** `POST /{hub}/registrationIDs`: a fresh id, named by an absolute `Location`. Nothing is stored until it is used. */
export function serveRegistrationId(x: Exchange): void {
  replyEmpty(x.response, 201, { Location: x.location(`registrations/${randomUUID()}`) });
}

/** `POST /{hub}/registrations` (create) and `GET` (list, `$top`, `$filter`, `continuationtoken`). */
export async function serveRegistrations(x: Exchange): Promise<void> {
  if (x.method === 'POST') return upsert(x, randomUUID(), false);
  const filter = parseFilter(x.url.searchParams.get('$filter'));
  return list(x, filter.platform === undefined ? {} : { platform: filter.platform }, filter.matches);
}

/** `GET /{hub}/tags/{tag}/registrations`. */
export function serveTagRegistrations(x: Exchange, tag: string): Promise<void> {
  return list(x, { tag }, () => true);
}

/** `PUT` (create or update, `If-Match` checked when given), `GET`, `DELETE` (`If-Match`) on `/{hub}/registrations/{id}`. */
export async function serveRegistration(x: Exchange, id: string): Promise<void> {
  if (x.method === 'PUT') return upsert(x, id, true);
  const current = await x.service.getInstallation(id);
  if (current === undefined) throw x.notFound(`No registration '${id.slice(0, 64)}'.`);
  if (x.method === 'GET') return replyXml(x.response, 200, entryXml(x, current), { ETag: `"${etagOf(current)}"` });
  checkIfMatch(x, current);
  await x.service.deleteInstallation(id);
  return replyEmpty(x.response, 200);
}

async function upsert(x: Exchange, id: string, checkEtag: boolean): Promise<void> {
  const input = parseEntry(x.text(), id);
  if (checkEtag && x.header('If-Match') !== undefined) {
    const current = await x.service.getInstallation(id);
    if (current === undefined) throw x.notFound(`No registration '${id.slice(0, 64)}' to update.`);
    checkIfMatch(x, current);
  }
  const stored = await x.service.upsertInstallation(input);
  replyXml(x.response, 200, entryXml(x, stored), { ETag: `"${etagOf(stored)}"` });
}

function checkIfMatch(x: Exchange, current: Installation): void {
  const given = x.header('If-Match');
  if (given === undefined || given.trim() === '*') return;
  if (given.trim().replace(/^W\//, '').replace(/^"|"$/g, '') !== etagOf(current)) {
    throw new PushError('PUSH_PRECONDITION_FAILED', 'The registration changed since that ETag was read.', {
      status: 412,
      detail: { etag: etagOf(current) },
    });
  }
}

export function etagOf(installation: Installation): string {
  return createHash('sha256').update(JSON.stringify(installation)).digest('base64url').slice(0, 16);
}

/** The installation a registration entry describes. */
export function parseEntry(text: string, id: string): InstallationInput {
  if (text === '') throw invalidRequest('The registration is empty; an Atom entry was expected.', 'body');
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw invalidRequest('Document type declarations are not accepted.', 'body');
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(text, true) as Record<string, unknown>;
  } catch (cause) {
    throw invalidRequest(`The registration is not well-formed XML: ${(cause as Error).message}`, 'body', cause);
  }
  const content = (doc.entry as Record<string, unknown> | undefined)?.content;
  if (typeof content !== 'object' || content === null)
    throw invalidRequest('The registration must be an Atom <entry> with a <content>.', 'body');
  const names = Object.keys(content).filter((k) => k.endsWith('RegistrationDescription'));
  const match = /^(\w+?)(Template)?RegistrationDescription$/.exec(names[0] ?? '');
  const platform = match === null ? undefined : kinds.get(match[1]!);
  if (names.length !== 1 || platform === undefined) {
    throw new PushError(
      'PUSH_UNKNOWN_PLATFORM',
      `'${(names[0] ?? 'none').slice(0, 64)}' is not a registration Hubbub serves.`,
      {
        status: 400,
        detail: { platform: names[0] ?? null },
      },
    );
  }
  const d = (content as Record<string, unknown>)[names[0]!] as Record<string, unknown>;
  if (typeof d !== 'object' || d === null) throw invalidRequest('The registration description is empty.', 'body');
  const field = (name: string) => (typeof d[name] === 'string' ? (d[name] as string) : undefined);
  const pushChannel =
    platform === 'browser'
      ? { endpoint: field('Endpoint'), p256dh: field('P256DH'), auth: field('Auth') }
      : field(platform === 'fcmv1' ? 'FcmV1RegistrationId' : 'DeviceToken');
  const tags = field('Tags')
    ?.split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  const input: Record<string, unknown> = { installationId: id, platform, pushChannel };
  if (tags !== undefined && tags.length > 0) input.tags = tags;
  if (match![2] !== undefined) {
    const body = field('BodyTemplate');
    if (body === undefined) throw invalidRequest('A template registration needs a BodyTemplate.', 'BodyTemplate');
    input.templates = { [field('TemplateName') || 'template']: { body, headers: apnsHeaders(d.ApnsHeaders) } };
  }
  return input as unknown as InstallationInput;
}

function apnsHeaders(value: unknown): Record<string, string> {
  const items = (value as { ApnsHeader?: unknown } | undefined)?.ApnsHeader;
  const list = Array.isArray(items) ? items : items === undefined ? [] : [items];
  const headers: Record<string, string> = {};
  for (const item of list as { Header?: unknown; Value?: unknown }[]) {
    if (typeof item?.Header === 'string' && typeof item.Value === 'string' && item.Header !== '__proto__')
      headers[item.Header] = item.Value;
  }
  return headers;
}

/** `Field eq 'value'` clauses joined by `and`, as `listRegistrationsByChannel` writes them. */
function parseFilter(filter: string | null): { platform?: Platform; matches: (i: Installation) => boolean } {
  if (filter === null || filter.trim() === '') return { matches: () => true };
  const clauses = new Map<string, string>();
  for (const clause of filter.split(/\s+and\s+/i)) {
    const m = /^\s*(\w+)\s+eq\s+'([^']*)'\s*$/i.exec(clause);
    if (m === null)
      throw invalidRequest(`The $filter clause '${clause.slice(0, 64)}' is not "Field eq 'value'".`, '$filter');
    clauses.set(m[1]!.toLowerCase(), m[2]!);
  }
  const channel = (i: Installation) => (typeof i.pushChannel === 'string' ? i.pushChannel : undefined);
  const token = clauses.get('fcmv1registrationid') ?? clauses.get('devicetoken');
  if (token !== undefined) {
    const platform: Platform = clauses.has('devicetoken') ? 'apns' : 'fcmv1';
    return { platform, matches: (i) => channel(i)?.toLowerCase() === token.toLowerCase() };
  }
  const endpoint = clauses.get('endpoint');
  if (endpoint !== undefined) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(endpoint);
    } catch (cause) {
      throw invalidRequest('The $filter Endpoint is not URL-encoded.', '$filter', cause);
    }
    return {
      platform: 'browser',
      matches: (i) => typeof i.pushChannel === 'object' && i.pushChannel.endpoint === decoded,
    };
  }
  throw invalidRequest(
    'The $filter names no field Hubbub filters on (FcmV1RegistrationId, DeviceToken, Endpoint).',
    '$filter',
  );
}

async function list(
  x: Exchange,
  query: { tag?: string; platform?: Platform },
  matches: (i: Installation) => boolean,
): Promise<void> {
  const top = x.url.searchParams.get('$top');
  const limit = top === null ? maxPage : Number(top);
  if (!Number.isInteger(limit) || limit < 1) throw invalidRequest('$top must be a positive whole number.', '$top');
  const after = x.url.searchParams.get('continuationtoken') ?? undefined;
  const page = await x.service.listInstallations({
    ...query,
    limit: Math.min(limit, maxPage),
    ...(after === undefined ? {} : { after }),
  });
  const entries = page.installations.filter(matches).map((i) => entryXml(x, i));
  const headers: Record<string, string> = page.next === undefined ? {} : { 'x-ms-continuationtoken': page.next };
  replyXml(
    x.response,
    200,
    `<feed xmlns="${atom}"><title type="text">Registrations</title><id>${escapeXml(x.location('registrations'))}</id>` +
      `<updated>${new Date().toISOString()}</updated>${entries.join('')}</feed>`,
    headers,
  );
}

function entryXml(x: Exchange, i: Installation): string {
  const [templateName, template] = Object.entries(i.templates)[0] ?? [];
  const kind = `${kindOf[i.platform]}${template === undefined ? '' : 'Template'}RegistrationDescription`;
  const el = (name: string, value: string | undefined) =>
    value === undefined ? '' : `<${name}>${escapeXml(value)}</${name}>`;
  const channel =
    typeof i.pushChannel === 'string'
      ? el(i.platform === 'fcmv1' ? 'FcmV1RegistrationId' : 'DeviceToken', i.pushChannel)
      : el('Endpoint', i.pushChannel.endpoint) + el('P256DH', i.pushChannel.p256dh) + el('Auth', i.pushChannel.auth);
  const tags = i.tags;
  const templateXml =
    template === undefined
      ? ''
      : `<BodyTemplate><![CDATA[${template.body.replaceAll(']]>', ']]]]><![CDATA[>')}]]></BodyTemplate>${el('TemplateName', templateName)}`;
  const self = escapeXml(x.location(`registrations/${encodeURIComponent(i.installationId)}`));
  return (
    `<entry xmlns="${atom}"><id>${self}</id><title type="text">${escapeXml(i.installationId)}</title>` +
    `<updated>${escapeXml(i.lastUpdate)}</updated><link rel="self" href="${self}"/>` +
    `<content type="application/xml"><${kind} xmlns="${sbNamespace}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">` +
    el('ExpirationTime', i.expirationTime) +
    el('RegistrationId', i.installationId) +
    el('ETag', etagOf(i)) +
    (tags.length === 0 ? '' : el('Tags', tags.join(','))) +
    channel +
    templateXml +
    `</${kind}></content></entry>`
  );
}
