/**
 * The REST API's errors: one class, stable `DELIVERY_*` codes, an HTTP status per code. Tests and
 * clients match on `code` and `detail.field`, never on the message.
 * @module
 */
import { CodedError, codeGuard } from '@hubbub/kernel';

export const DeliveryErrorStatus = {
  /** The body does not match the route's schema (`detail.field`, the first bad field; `detail.issues`, all). */
  DELIVERY_INVALID_BODY: 400,
  /** The body is not JSON. */
  DELIVERY_INVALID_JSON: 400,
  /** A body was sent without `Content-Type: application/json`. */
  DELIVERY_UNSUPPORTED_MEDIA_TYPE: 415,
  /** A query parameter is invalid (`detail.field`). */
  DELIVERY_INVALID_QUERY: 400,
  /** The paging cursor is malformed or belongs to another listing. */
  DELIVERY_INVALID_CURSOR: 400,
  /** `POST /api/v1/orders` without an `Idempotency-Key` header. */
  DELIVERY_IDEMPOTENCY_KEY_REQUIRED: 400,
  /** The `Idempotency-Key` is not 8–128 visible ASCII characters. */
  DELIVERY_INVALID_IDEMPOTENCY_KEY: 400,
  /** The `Idempotency-Key` was used by this customer for an order with another body (`detail.orderId`). */
  DELIVERY_IDEMPOTENCY_KEY_REUSED: 422,
  /** The order does not fit the restaurant's menu or area (`detail.field`, e.g. `items[0].itemId`). */
  DELIVERY_INVALID_ORDER: 422,
  /** No session: no bearer token or session cookie, or one that is forged or expired (`detail.reason`). */
  DELIVERY_UNAUTHORIZED: 401,
  /** Sign-in with an unknown email or a wrong password (which of the two is not said). */
  DELIVERY_INVALID_CREDENTIALS: 401,
  /** The account's role may not do this (`detail.role`). */
  DELIVERY_FORBIDDEN: 403,
  /** A cookie-authenticated change from another origin (`detail.origin`). */
  DELIVERY_CROSS_ORIGIN: 403,
  /** No such order, restaurant or route — or one the caller may not see (`detail.resource`). */
  DELIVERY_NOT_FOUND: 404,
  /** The method is not served on this path (`Allow` lists those that are). */
  DELIVERY_METHOD_NOT_ALLOWED: 405,
  /** The order's status does not allow this transition (`detail.from`, `detail.to`). */
  DELIVERY_INVALID_TRANSITION: 409,
  /** The order kept changing under this transition; retry. */
  DELIVERY_CONFLICT: 409,
  /** Another courier took the order first (`detail.id`). */
  DELIVERY_ORDER_TAKEN: 409,
  /** A courier's position for an order it is not delivering now (`detail.status`). */
  DELIVERY_NOT_ON_DELIVERY: 409,
  /** An account with this email exists. */
  DELIVERY_EMAIL_TAKEN: 409,
  /** The push installation id belongs to another account (`detail.installationId`); subscribe with a new id. */
  DELIVERY_PUSH_INSTALLATION_TAKEN: 409,
  /** `If-Match` named an etag that is no longer the order's. */
  DELIVERY_PRECONDITION_FAILED: 412,
  /** The store or the bus could not be reached; nothing was accepted. */
  DELIVERY_UNAVAILABLE: 503,
  /** The server runs without its push service, so browsers cannot subscribe to notifications. */
  DELIVERY_PUSH_UNAVAILABLE: 503,
} as const;

export type DeliveryErrorCode = keyof typeof DeliveryErrorStatus;

export class DeliveryError extends CodedError<DeliveryErrorCode> {
  static readonly statuses = DeliveryErrorStatus;
}

export const isDeliveryError = codeGuard(DeliveryError);

export const notFound = (resource: string, id?: string): DeliveryError =>
  new DeliveryError('DELIVERY_NOT_FOUND', `No such ${resource}${id === undefined ? '' : ` '${id.slice(0, 64)}'`}.`, {
    detail: { resource },
  });
