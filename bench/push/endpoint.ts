/**
 * The push endpoint of the push benchmark, in its own process so that its work (VAPID
 * verification and decryption of every push) does not run on the senders' CPU: the local RFC 8030
 * endpoint of `@hubbub/push/testing` over https with a certificate from the local CA.
 * @module
 */

import { type PushEndpoint, startPushEndpoint } from '@hubbub/push/testing';
import { serveIpc } from '../lib/ipc.ts';

export type EndpointApi = {
  /** Starts the endpoint with `cert`/`key` and makes `subscriptions` subscriptions; returns them. */
  start(args: {
    cert: string;
    key: string;
    subscriptions: number;
  }): Promise<{ endpoint: string; p256dh: string; auth: string }[]>;
  /** Pushes received and decrypted, and pushes refused, so far. */
  counts(args: null): { received: number; refused: number; cpuUs: number };
  exit(args: null): null;
};

let endpoint: PushEndpoint | undefined;
let received = 0;

serveIpc<EndpointApi>({
  async start({ cert, key, subscriptions }) {
    endpoint = await startPushEndpoint({ tls: { cert, key }, record: false });
    const out = [];
    for (let i = 0; i < subscriptions; i++) {
      const sub = endpoint.subscribe({ onMessage: () => void received++ });
      out.push({ endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth });
    }
    return out;
  },
  counts() {
    const cpu = process.cpuUsage();
    return { received, refused: endpoint?.refused.length ?? 0, cpuUs: cpu.user + cpu.system };
  },
  exit() {
    setTimeout(() => process.exit(0), 10);
    return null;
  },
});
