export { type BackoffOptions, backoffDelay } from './backoff.ts';
export { type Clock, ManualClock, systemClock, type TimerHandle } from './clock.ts';
export {
  AbortedError,
  CodedError,
  codeGuard,
  HubbubError,
  type HubbubErrorOptions,
  InvalidOptionError,
  isHubbubError,
} from './errors.ts';
export { type EventMap, TypedEmitter } from './events.ts';
export {
  decodePathSegment,
  HttpError,
  ignoreBody,
  internalError,
  queryParam,
  readBody,
  refuseUpgrade,
  requestTarget,
  sendError,
  sendJson,
  statusText,
} from './http.ts';
export {
  createHttpServer,
  destroyOnError,
  type GuardedRequestHandler,
  type GuardOptions,
  guardRequest,
  guardUpgrade,
  type HttpServerOptions,
  type RequestHandler,
  type ServerLimits,
  type UpgradeHandler,
} from './http-guard.ts';
export { closeHttpServer } from './http-server.ts';
export { type IdSource, randomIds, sequentialIds } from './ids.ts';
export {
  type ConsoleLoggerOptions,
  createConsoleLogger,
  type Logger,
  type LogLevel,
  logsAt,
  silentLogger,
} from './logger.ts';
export { packageRoot } from './package-root.ts';
export { type Mount, mountParts, type Part } from './part.ts';
export { createRateLimiter, type RateLimiter, type RateLimitOptions } from './rate-limit.ts';
export {
  grantsRight,
  parseSasToken,
  type SasRight,
  type SasToken,
  sasSignature,
  sasSignatureMatches,
  signSasToken,
} from './sas.ts';
export { type WaitForOptions, waitFor } from './wait-for.ts';
