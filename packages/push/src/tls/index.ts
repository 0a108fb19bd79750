/**
 * `@hubbub/push/tls`: the local CA that Hubbub's TLS ports (the Notification Hubs front, the AMQP
 * front) share.
 * @module
 */
export { ensureLocalCa, type LocalCa, type LocalCaOptions } from './local-ca.ts';
