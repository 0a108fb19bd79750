/**
 * `@hubbub/tls`: the local CA that Hubbub's TLS ports (the Notification Hubs front, the AMQP
 * front's AMQPS port) share — made once per data directory, trusted through `NODE_EXTRA_CA_CERTS`.
 * @module
 */
export { isTlsError, TlsError, TlsErrorCode } from './errors.ts';
export { ensureLocalCa, type LocalCa, type LocalCaOptions } from './local-ca.ts';
