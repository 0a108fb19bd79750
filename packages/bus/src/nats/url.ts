/**
 * NATS bus URLs: `nats://host:4222[,host2:4222…][?namespace=NAME&replicas=N]`.
 * @module
 */
import { BusError } from '../errors.ts';

export function invalidOption(option: string, message: string): BusError {
  return new BusError('BUS_INVALID_OPTION', `${option}: ${message}`, { detail: { option } });
}

/** `nats://a:4222,b:4222` (or `nats://a:4222,nats://b:4222`) → the client's server list. */
export function parseServers(url: string): string[] {
  if (typeof url !== 'string' || !url.startsWith('nats://')) {
    throw invalidOption('url', `a NATS bus URL looks like nats://host:4222, got ${JSON.stringify(url)}`);
  }
  const list = url
    .slice('nats://'.length)
    .split('?')[0]!
    .split(',')
    .map((s) => s.replace(/^nats:\/\//, '').replace(/\/+$/, ''))
    .filter((s) => s.length > 0);
  if (list.length === 0) throw invalidOption('url', `${JSON.stringify(url)} names no server (nats://HOST:4222)`);
  for (const s of list) {
    if (!/^[A-Za-z0-9.\-[\]:]+$/.test(s)) throw invalidOption('url', `bad server ${JSON.stringify(s)}`);
  }
  return list;
}
