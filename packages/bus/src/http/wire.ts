/**
 * The Service Bus REST message format: a body, a `BrokerProperties` JSON header for system
 * properties (`broker-properties.ts`), and one header per application (custom) property.
 * @module
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { PropertyValue } from '../message.ts';

/** Headers that are HTTP plumbing, never custom properties. */
const plumbing = new Set([
  'accept',
  'accept-charset',
  'accept-encoding',
  'accept-language',
  'authorization',
  'brokerproperties',
  'cache-control',
  'connection',
  'content-encoding',
  'content-length',
  'content-type',
  'cookie',
  'date',
  'expect',
  'forwarded',
  'host',
  'keep-alive',
  'origin',
  'pragma',
  'proxy-authorization',
  'referer',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
  'via',
]);

const isPlumbing = (name: string): boolean =>
  plumbing.has(name) || name.startsWith('x-forwarded-') || name.startsWith('x-ms-') || name.startsWith('sec-');

/** A custom-property header value: `"quoted"` is a string, numbers and true/false are typed, anything else a string. */
export function parsePropertyValue(raw: string): PropertyValue {
  const text = raw.trim();
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) {
    try {
      return JSON.parse(text) as string;
    } catch {
      return text.slice(1, -1);
    }
  }
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text)) {
    const n = Number(text);
    if (Number.isSafeInteger(n) || !/^-?\d+$/.test(text)) return n;
    return BigInt(text);
  }
  return text;
}

export function customHeadersToProperties(headers: IncomingHttpHeaders): Record<string, PropertyValue> | undefined {
  let props: Record<string, PropertyValue> | undefined;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || isPlumbing(name)) continue;
    props ??= {};
    props[name] = parsePropertyValue(Array.isArray(value) ? value.join(', ') : value);
  }
  return props;
}

/** Encodes a property value for a response header (strings and dates quoted, as Service Bus does). */
export function formatPropertyValue(value: PropertyValue): string {
  if (value === null) return 'null';
  if (value instanceof Date) return JSON.stringify(value.toUTCString());
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/** Header-safe property name: only token characters survive as a header. */
export const isHeaderName = (name: string): boolean => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name);

const isJsonType = (contentType: string): boolean => /^application\/(?:[\w.+-]+\+)?json\b/i.test(contentType);
const isTextType = (contentType: string): boolean => /^text\//i.test(contentType);

/**
 * The body a sender gave over HTTP: JSON content types that parse become JSON values, text
 * types strings, everything else bytes.
 */
export function decodeBody(bytes: Buffer, contentType: string | undefined): unknown {
  if (contentType !== undefined && isJsonType(contentType) && bytes.length > 0) {
    try {
      return JSON.parse(bytes.toString('utf8'));
    } catch {
      return bytes;
    }
  }
  if (contentType !== undefined && isTextType(contentType)) return bytes.toString('utf8');
  return bytes;
}

/** The bytes a receiver gets: raw bytes as is, strings UTF-8, other values as JSON. */
export function encodeBody(body: unknown): Buffer {
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body === undefined) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(body) ?? '', 'utf8');
}
