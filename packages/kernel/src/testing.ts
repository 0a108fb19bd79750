/**
 * `@hubbub/kernel/testing`: what the tests of every package need at the HTTP boundary — raw bytes
 * on a socket, so that malformed request lines, targets and headers reach a server unmodified
 * (fetch and node:http would refuse or normalise them).
 * @module
 */
import { connect, type Socket } from 'node:net';

export interface RawExchangeOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** A loopback address to connect from (each has its own per-address budgets). */
  localAddress?: string;
  /** Called on each chunk the server sends, e.g. to reset the connection mid-answer. */
  onData?: (socket: Socket) => void;
}

/** Writes `bytes` and resolves with everything the server answered once the connection closes. */
export function rawExchange(
  port: number,
  bytes: string | Uint8Array,
  options: RawExchangeOptions = {},
): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({
      port,
      host: options.host ?? '127.0.0.1',
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    });
    let text = '';
    socket.on('data', (d) => {
      text += d;
      options.onData?.(socket);
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(text));
    socket.write(bytes);
  });
}
