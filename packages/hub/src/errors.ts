/**
 * Hub errors. `status` is the HTTP status a transport request answers with.
 * @module
 */
import { CodedError } from '@hubbub/kernel';

export const HubErrorCode = {
  /** Missing, malformed, expired or wrongly signed access token. */
  Unauthorized: 'HUB_UNAUTHORIZED',
  /** The token is valid but names a different user than the connection's. */
  Forbidden: 'HUB_FORBIDDEN',
  /** No connection with that id or token (it never existed, expired or closed). */
  ConnectionNotFound: 'HUB_CONNECTION_NOT_FOUND',
  /** No hub with that name is served here. */
  HubNotFound: 'HUB_NOT_FOUND',
  /** No REST API route has this path (`/api/hubs/{hub}/…`). */
  RouteNotFound: 'HUB_ROUTE_NOT_FOUND',
  /** A REST API route has this path, but not for this method (`Allow` lists them). */
  MethodNotAllowed: 'HUB_METHOD_NOT_ALLOWED',
  /** A transport request is malformed: no id, wrong method, switching transports, bad body. */
  BadRequest: 'HUB_BAD_REQUEST',
  /** A second transport request for a connection that already has one. */
  Conflict: 'HUB_CONFLICT',
  /** The handshake was malformed, named an unknown protocol or version, or timed out. */
  Handshake: 'HUB_HANDSHAKE_FAILED',
  /** A frame could not be parsed or exceeded the size limit; the connection is closed. */
  InvalidMessage: 'HUB_INVALID_MESSAGE',
  /** The client stayed silent for longer than the client timeout. */
  ClientTimeout: 'HUB_CLIENT_TIMEOUT',
  /** The connection's outbound buffer stayed over its bound; it was closed. */
  SlowConsumer: 'HUB_SLOW_CONSUMER',
  /** A server-to-client invocation failed or the connection closed before answering. */
  InvocationFailed: 'HUB_INVOCATION_FAILED',
  /** The server, hub or connection is closed. */
  Closed: 'HUB_CLOSED',
  /** An Azure SignalR connection string is malformed or names something unsupported. */
  InvalidConnectionString: 'HUB_INVALID_CONNECTION_STRING',
  /** An upstream webhook failed, timed out or answered with an error status. */
  UpstreamFailed: 'HUB_UPSTREAM_FAILED',
  /** The backplane's server (Redis) cannot be reached or dropped the call; nothing was sent. */
  BackplaneUnavailable: 'HUB_BACKPLANE_UNAVAILABLE',
  /** Too many backplane publishes are waiting for their server; nothing was sent. Retry later. */
  BackplaneOverloaded: 'HUB_BACKPLANE_OVERLOADED',
} as const;
export type HubErrorCode = (typeof HubErrorCode)[keyof typeof HubErrorCode];

const statusOf: Partial<Record<HubErrorCode, number>> = {
  HUB_UNAUTHORIZED: 401,
  HUB_FORBIDDEN: 403,
  HUB_CONNECTION_NOT_FOUND: 404,
  HUB_NOT_FOUND: 404,
  HUB_ROUTE_NOT_FOUND: 404,
  HUB_METHOD_NOT_ALLOWED: 405,
  HUB_BAD_REQUEST: 400,
  HUB_CONFLICT: 409,
  HUB_UPSTREAM_FAILED: 502,
  HUB_BACKPLANE_UNAVAILABLE: 503,
  HUB_BACKPLANE_OVERLOADED: 503,
};

export class HubError extends CodedError<HubErrorCode> {
  static readonly statuses: Readonly<Partial<Record<HubErrorCode, number>>> = statusOf;
}
