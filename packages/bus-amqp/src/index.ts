/**
 * `@hubbub/bus-amqp` — an AMQP 1.0 front for the bus, so the official `@azure/service-bus` SDK
 * (7.9.x, `UseDevelopmentEmulator=true`) sends, receives, settles, schedules, locks sessions and
 * manages rules against Hubbub unchanged. See the README.
 * @module
 */

export { AmqpFrontError, AmqpFrontErrorCode, isAmqpFrontError } from './errors.ts';
export {
  AmqpFront,
  type AmqpFrontEvents,
  type AmqpFrontOptions,
  createAmqpFront,
  DEFAULT_AMQP_PORT,
  DEFAULT_AMQPS_PORT,
} from './front.ts';
