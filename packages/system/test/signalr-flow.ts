/**
 * The flow the `signalr-app` fixture was written for, shared by the tests that run it against
 * different hubs: the official client negotiates as user "ada" through the `negotiate` function,
 * then `broadcast` sends to all, users, a group (after a group action) and the connection.
 */
import assert from 'node:assert/strict';
import { waitFor } from '@hubbub/kernel';
import * as signalR from '@microsoft/signalr';

/** Negotiates through the app and returns the connection info it answered. */
export async function negotiateAsAda(base: string): Promise<{ url: string; accessToken: string }> {
  const negotiate = await fetch(`${base}/api/negotiate`, {
    method: 'POST',
    headers: { 'x-ms-client-principal-id': 'ada' },
  });
  return (await negotiate.json()) as { url: string; accessToken: string };
}

/** Connects with `info` and asserts ada receives exactly what the broadcast addresses to her. */
export async function assertBroadcastReachesAda(base: string, info: { url: string; accessToken: string }) {
  const received: unknown[] = [];
  const client = new signalR.HubConnectionBuilder()
    .withUrl(info.url, { accessTokenFactory: () => info.accessToken })
    .configureLogging(signalR.LogLevel.None)
    .build();
  client.on('status', (value: unknown) => received.push(value));
  await client.start();
  try {
    const res = await fetch(`${base}/api/broadcast`, {
      method: 'POST',
      body: JSON.stringify([
        { target: 'status', arguments: ['to-all'] },
        { target: 'status', arguments: ['to-ada'], userId: 'ada' },
        { target: 'status', arguments: ['to-bob'], userId: 'bob' },
        { action: 'add', userId: 'ada', groupName: 'order-1' },
        { target: 'status', arguments: ['to-group'], groupName: 'order-1' },
        { target: 'status', arguments: ['to-connection'], connectionId: client.connectionId },
      ]),
    });
    assert.equal(res.status, 202);
    await waitFor(() => received.length >= 4);
    assert.deepEqual(received, ['to-all', 'to-ada', 'to-group', 'to-connection']);
  } finally {
    await client.stop();
  }
}
