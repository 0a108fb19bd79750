/**
 * Azure SignalR connection strings: `Endpoint=http://host:port;AccessKey=…;Version=1.0;` with the
 * optional `Port=` and `ClientEndpoint=`. Keys are case-insensitive, as in Azure's parser; unknown
 * keys are ignored; only access-key authentication is supported.
 * @module
 */
import { HubError, HubErrorCode } from '../errors.ts';

export interface ConnectionString {
  /** Origin (and path prefix, if any) the REST API and servers use, without a trailing slash. */
  readonly endpoint: string;
  /** Origin clients are sent to by negotiate; `endpoint` when not given. */
  readonly clientEndpoint: string;
  /** HMAC key for tokens and upstream signatures (used as UTF-8 bytes). */
  readonly accessKey: string;
  readonly version: string;
}

function invalid(message: string, field?: string): HubError {
  return new HubError(HubErrorCode.InvalidConnectionString, message, field === undefined ? {} : { detail: { field } });
}

/** Parses and validates a connection string; throws HUB_INVALID_CONNECTION_STRING naming the bad field. */
export function parseConnectionString(text: string): ConnectionString {
  if (typeof text !== 'string' || text.trim() === '') throw invalid('The connection string is empty.');
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw invalid(`Malformed segment '${part.trim()}': expected 'Key=Value'.`);
    const key = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (fields.has(key)) throw invalid(`'${part.slice(0, eq).trim()}' appears more than once.`, key);
    fields.set(key, value);
  }
  const authType = fields.get('authtype');
  if (authType !== undefined && authType.toLowerCase() !== 'accesskey') {
    throw invalid(`AuthType '${authType}' is not supported; use an AccessKey.`, 'AuthType');
  }
  const version = fields.get('version') ?? '1.0';
  if (!/^1\.\d+$/.test(version)) throw invalid(`Version '${version}' is not supported; expected 1.x.`, 'Version');
  const accessKey = fields.get('accesskey');
  if (accessKey === undefined || accessKey === '') throw invalid('AccessKey is required.', 'AccessKey');
  const port = fields.get('port');
  if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) > 0 && Number(port) < 65_536)) {
    throw invalid(`Port '${port}' is not a port number.`, 'Port');
  }
  const endpoint = normalizeEndpoint(fields.get('endpoint'), 'Endpoint', port);
  const client = fields.get('clientendpoint');
  const clientEndpoint = client === undefined ? endpoint : normalizeEndpoint(client, 'ClientEndpoint', undefined);
  return { endpoint, clientEndpoint, accessKey, version };
}

/** Writes a connection string that {@link parseConnectionString} reads back. */
export function formatConnectionString(options: { endpoint: string; accessKey: string; clientEndpoint?: string }) {
  const endpoint = normalizeEndpoint(options.endpoint, 'Endpoint', undefined);
  if (options.accessKey === '' || options.accessKey.includes(';')) {
    throw invalid('AccessKey must be non-empty and contain no semicolon.', 'AccessKey');
  }
  const client =
    options.clientEndpoint === undefined
      ? ''
      : `ClientEndpoint=${normalizeEndpoint(options.clientEndpoint, 'ClientEndpoint', undefined)};`;
  return `Endpoint=${endpoint};AccessKey=${options.accessKey};Version=1.0;${client}`;
}

function normalizeEndpoint(value: string | undefined, field: string, port: string | undefined): string {
  if (value === undefined || value === '') throw invalid(`${field} is required.`, field);
  let url: URL;
  try {
    url = new URL(value);
  } catch (err) {
    throw new HubError(HubErrorCode.InvalidConnectionString, `${field} '${value}' is not a URL.`, {
      cause: err,
      detail: { field },
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(`${field} must be an http or https URL, got '${value}'.`, field);
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw invalid(`${field} must not carry a query, fragment or credentials.`, field);
  }
  if (port !== undefined) url.port = port;
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
