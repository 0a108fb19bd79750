/**
 * Push errors: one class, stable codes. Callers and tests match on `code`, never on message text.
 * Bad factory options are the kernel's `KERNEL_INVALID_OPTION`.
 * @module
 */
import { CodedError, codeGuard } from '@hubbub/kernel';

/** Every code a push operation fails with (add new ones here, with a line in docs/errors.md). */
export const PushErrorCode = {
  /** The installation names a platform Hubbub does not deliver to. */
  UnknownPlatform: 'PUSH_UNKNOWN_PLATFORM',
  /** The push channel is malformed for its platform (`detail.reason`). */
  InvalidChannel: 'PUSH_INVALID_CHANNEL',
  /** The rendered payload is over the platform's limit (`detail.limit`, `detail.size`). */
  PayloadTooLarge: 'PUSH_PAYLOAD_TOO_LARGE',
  /** A delivery was handed to a provider after its `close()`. */
  ProviderClosed: 'PUSH_PROVIDER_CLOSED',
  /** The certificate and key given to the Notification Hubs front are not usable; the cause is chained. */
  TlsUnavailable: 'PUSH_TLS_UNAVAILABLE',
  /** A platform Hubbub knows but this service has no provider for (`detail.platform`). */
  PlatformNotConfigured: 'PUSH_PLATFORM_NOT_CONFIGURED',
  /** An installation field is missing or malformed (`detail.field`). */
  InvalidInstallation: 'PUSH_INVALID_INSTALLATION',
  /** A tag is empty, too long, has a character outside `A-Za-z0-9_@#.:-`, or there are too many (`detail.tag`, `detail.reason`). */
  InvalidTag: 'PUSH_INVALID_TAG',
  /** No installation with that id (`detail.installationId`). */
  InstallationNotFound: 'PUSH_INSTALLATION_NOT_FOUND',
  /** A JSON Patch operation is malformed or names an unsupported path (`detail.index`, `detail.path`). */
  InvalidPatch: 'PUSH_INVALID_PATCH',
  /** A tag expression does not parse (`detail.position`, 0-based). */
  TagExpressionInvalid: 'PUSH_TAG_EXPRESSION_INVALID',
  /** A tag expression has more tags than allowed: 20 with only `||`, 6 otherwise (`detail.tags`, `detail.limit`). */
  TagExpressionTooComplex: 'PUSH_TAG_EXPRESSION_TOO_COMPLEX',
  /** A template body is not JSON or XML, or its headers are malformed (`detail.template`). */
  TemplateInvalidBody: 'PUSH_TEMPLATE_INVALID_BODY',
  /** A template expression does not parse (`detail.template`, `detail.expression`, `detail.position`). */
  TemplateSyntax: 'PUSH_TEMPLATE_SYNTAX',
  /** A notification is malformed: format, body, properties, headers or target (`detail.field`). */
  InvalidNotification: 'PUSH_INVALID_NOTIFICATION',
  /** A scheduled time is not a time or is too far ahead (`detail.maxAheadMs`). */
  InvalidSchedule: 'PUSH_INVALID_SCHEDULE',
  /** The service is not started, or closed. */
  Closed: 'PUSH_CLOSED',
  /** Notification Hubs API: the shared access signature is missing, malformed, wrongly signed, expired or for another hub. */
  Unauthorized: 'PUSH_UNAUTHORIZED',
  /** Notification Hubs API: the key's policy lacks the right the route needs (`Listen`, `Send`, `Manage`). */
  Forbidden: 'PUSH_FORBIDDEN',
  /** Notification Hubs API: a header, query parameter or body is malformed (`detail.field`). */
  InvalidRequest: 'PUSH_INVALID_REQUEST',
  /** Notification Hubs API: no such hub, route, notification or registration. */
  NotFound: 'PUSH_NOT_FOUND',
  /** Notification Hubs API: the route does not take this method (the `Allow` header lists those it takes). */
  MethodNotAllowed: 'PUSH_METHOD_NOT_ALLOWED',
  /** Notification Hubs API: a route the SDK has that Hubbub does not serve (`detail.route`). */
  NotSupported: 'PUSH_NOT_SUPPORTED',
  /** Notification Hubs API: `If-Match` names an ETag the registration no longer has (`detail.etag` is the current one). */
  PreconditionFailed: 'PUSH_PRECONDITION_FAILED',
  /** Notification Hubs API: the front could not listen on its host and port (`detail.host`, `detail.port`; the cause is chained). */
  ListenFailed: 'PUSH_LISTEN_FAILED',
  /** Push client: the front could not be reached — refused, timed out, cut off, not TLS (`detail.origin`, `detail.reason`; the cause is chained). */
  Unreachable: 'PUSH_UNREACHABLE',
  /** Push client: the front's certificate is not trusted — the local CA was not given as `ca` (`detail.reason`). */
  CertificateUntrusted: 'PUSH_CERTIFICATE_UNTRUSTED',
  /** Push client: what answered is not a Notification Hubs front — no Hubbub error code, or a body not of the expected shape (`detail.status`). */
  UnexpectedResponse: 'PUSH_UNEXPECTED_RESPONSE',
} as const;

export type PushErrorCode = (typeof PushErrorCode)[keyof typeof PushErrorCode];

/** A push failure with a stable {@link PushErrorCode}. */
export class PushError extends CodedError<PushErrorCode> {}

export const isPushError = codeGuard(PushError);
