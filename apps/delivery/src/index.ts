/**
 * @hubbub/delivery — the food-delivery reference app. `deliveryApp` tells the all-in-one server
 * what to mount: the function app, the tracking page's files, the queues and hubs it uses.
 * @module
 */
export { type DeliveryApp, deliveryApp } from './app.ts';
export {
  type ArrivalEstimate,
  type ArrivalOptions,
  type ArrivingThreshold,
  estimateArrival,
  type Fix,
  isArriving,
  metersLeft,
  recentSpeed,
} from './arrival.ts';
export { type City, cityFile, cityRoutes, loadCity } from './city.ts';
export * from './orders/index.ts';
export {
  customerTag,
  installationTemplates,
  NOTIFIED_STATUSES,
  ORDER_STATUS_TEMPLATE,
  type OrderNotification,
  type OrderStatusEvent,
  orderNotification,
  orderUrl,
  type PushTemplate,
  TEMPLATE_PROPERTIES,
} from './push-templates.ts';
export {
  type CourierRoute,
  distanceMeters,
  type LatLng,
  type LocationMessage,
  pointAlong,
  routeLength,
  runSimulator,
  type SimulatorOptions,
  type SimulatorResult,
} from './simulator.ts';
export { createStreetRouter, memoizedRouter, type StreetRouter, type StreetRouterOptions } from './streets.ts';
export { createTrackingToken, TRACKING_KEY_SETTING, trackingLink, verifyTrackingToken } from './tracking.ts';
