import * as signalR from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { createHubServer, type HubServer, type HubServerOptions } from '../src/index.ts';

export const transports = {
  WebSockets: signalR.HttpTransportType.WebSockets,
  ServerSentEvents: signalR.HttpTransportType.ServerSentEvents,
  LongPolling: signalR.HttpTransportType.LongPolling,
} as const;

export type TransportName = keyof typeof transports;
export type ProtocolName = 'json' | 'messagepack';

/** Every transport × protocol pair the official client can use (no MessagePack over SSE). */
export const matrix: Array<{ transport: TransportName; protocol: ProtocolName }> = [
  { transport: 'WebSockets', protocol: 'json' },
  { transport: 'WebSockets', protocol: 'messagepack' },
  { transport: 'ServerSentEvents', protocol: 'json' },
  { transport: 'LongPolling', protocol: 'json' },
  { transport: 'LongPolling', protocol: 'messagepack' },
];

export async function startHub(options: HubServerOptions = {}): Promise<{ server: HubServer; url: string }> {
  const server = createHubServer(options);
  const { url } = await server.listen();
  return { server, url };
}

export interface ClientOptions {
  transport?: TransportName;
  protocol?: ProtocolName;
  accessToken?: string;
  stateful?: boolean;
  reconnect?: boolean;
  skipNegotiation?: boolean;
}

export function buildClient(url: string, options: ClientOptions = {}): signalR.HubConnection {
  const builder = new signalR.HubConnectionBuilder()
    .withUrl(url, {
      transport: transports[options.transport ?? 'WebSockets'],
      ...(options.accessToken === undefined ? {} : { accessTokenFactory: () => options.accessToken! }),
      ...(options.skipNegotiation ? { skipNegotiation: true } : {}),
    })
    .configureLogging(signalR.LogLevel.None);
  if (options.protocol === 'messagepack') builder.withHubProtocol(new MessagePackHubProtocol());
  if (options.stateful) builder.withStatefulReconnect();
  if (options.reconnect) builder.withAutomaticReconnect([0, 50, 100, 200]);
  return builder.build();
}

/** A promise resolved by the next call of the returned callback. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A gate in front of token checks for `userId`: while closed, every negotiate and upgrade (a reconnect too) waits. */
export function authGate(userId: string) {
  let gate: Promise<void> | undefined;
  let release = () => {};
  let waiting = 0;
  return {
    auth: {
      verify: async () => {
        waiting++;
        await gate;
        return { userId, claims: {} };
      },
    },
    close() {
      const d = deferred();
      gate = d.promise;
      release = () => d.resolve();
    },
    open() {
      gate = undefined;
      release();
    },
    get waiting() {
      return waiting;
    },
  };
}
