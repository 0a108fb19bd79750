/**
 * Orders, accounts and the versioned REST API of Hubbub Delivery: mount {@link deliveryApiPart}
 * in `startSystem({ parts })`; the processor is the function app's `processOrder`.
 * @module
 */
import type { AppPartContext } from '@hubbub/system';
import { createDeliveryApi, type DeliveryApi, type DeliveryApiOptions } from './api.ts';

export { accountIdOf, createAccounts, type Principal } from './accounts.ts';
export { createDeliveryApi, type DeliveryApi, type DeliveryApiOptions } from './api.ts';
export { type DemoAccount, demoAccounts, seedDemoAccounts } from './demo.ts';
export { type ArrivalRecord, type ArrivingEvent, createDispatch, type Dispatch } from './dispatch.ts';
export { NOTIFICATIONS, PROCESSING, SUBMITTED } from './entities.ts';
export { DeliveryError, type DeliveryErrorCode, DeliveryErrorStatus, isDeliveryError } from './errors.ts';
export { createLiveOrders, LIVE_HUB, type LiveStatus, mayWatch, ORDER_STATUS_TARGET, orderGroup } from './live.ts';
export { openApiDocument } from './openapi.ts';
export { orderIdOf } from './orders.ts';
export { defaultScrypt, hashPassword, verifyPassword } from './passwords.ts';
export {
  createPushInstallations,
  type PushInstallations,
  type PushInstallationsOptions,
  type PushInstallationView,
  type PushSubscriptionBody,
} from './push.ts';
export { demoRestaurants } from './restaurants.ts';
export * from './rules.ts';

/** The API as an app part of the all-in-one server, on the system's bus and store. */
export function deliveryApiPart(
  options: Omit<DeliveryApiOptions, 'bus' | 'store' | 'cache' | 'url' | 'logger' | 'push' | 'signalR'> = {},
): (context: AppPartContext) => DeliveryApi {
  return ({ bus, store, cache, url, logger, push, signalR }) =>
    createDeliveryApi({
      ...options,
      bus,
      store,
      cache,
      url,
      logger: logger.child({ part: 'delivery-api' }),
      ...(push === undefined ? {} : { push }),
      signalR,
    });
}
