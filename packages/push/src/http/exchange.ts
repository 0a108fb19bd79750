/**
 * One request to the Notification Hubs front after routing and authorization: the parts of it the
 * handlers read (method, query, headers, the body as strict UTF-8 or JSON) and what they answer
 * with (absolute locations, coded not-found errors).
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PushError, type PushErrorCode } from '../errors.ts';
import type { PushService } from '../service.ts';
import { invalidRequest } from './reply.ts';

/** What the front needs of the push service. */
export type NotificationHubsBackend = Pick<
  PushService,
  | 'upsertInstallation'
  | 'patchInstallation'
  | 'getInstallation'
  | 'deleteInstallation'
  | 'listInstallations'
  | 'send'
  | 'testSend'
  | 'cancelScheduled'
  | 'getNotificationOutcome'
>;

export const apiVersion = '2020-06';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface ExchangeInit {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly url: URL;
  /** The hub name as configured. */
  readonly hub: string;
  /** `https://host:port` locations are written with. */
  readonly origin: string;
  readonly service: NotificationHubsBackend;
  readonly body: Buffer | undefined;
}

export class Exchange {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly url: URL;
  readonly hub: string;
  readonly origin: string;
  readonly service: NotificationHubsBackend;
  readonly body: Buffer | undefined;
  readonly method: string;

  constructor(init: ExchangeInit) {
    this.request = init.request;
    this.response = init.response;
    this.url = init.url;
    this.hub = init.hub;
    this.origin = init.origin;
    this.service = init.service;
    this.body = init.body;
    this.method = init.request.method ?? 'GET';
  }

  /** One header's value; a header sent twice (Node joins most with `, `) is refused for the ones that name targets. */
  header(name: string): string | undefined {
    const value = this.request.headers[name.toLowerCase()];
    if (Array.isArray(value)) throw invalidRequest(`The header ${name} is given more than once.`, name);
    return value;
  }

  /** The body as UTF-8 text; malformed UTF-8 is refused rather than replaced. */
  text(): string {
    if (this.body === undefined || this.body.length === 0) return '';
    try {
      return utf8.decode(this.body);
    } catch (cause) {
      throw invalidRequest('The request body is not valid UTF-8.', 'body', cause);
    }
  }

  json(): unknown {
    const text = this.text();
    if (text === '') throw invalidRequest('The request body is empty; JSON was expected.', 'body');
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw invalidRequest(`The request body is not valid JSON: ${(cause as Error).message}`, 'body', cause);
    }
  }

  /** `https://host:port/{hub}/{path}?api-version=2020-06`: absolute, as the SDK needs. */
  location(path: string): string {
    return `${this.origin}/${encodeURIComponent(this.hub)}/${path}?api-version=${apiVersion}`;
  }

  notFound(message: string, code: PushErrorCode = 'PUSH_NOT_FOUND'): PushError {
    return new PushError(code, message, { status: 404 });
  }
}
