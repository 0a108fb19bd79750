/** `hubbub hub`, run as a process: it prints its URL and connection string, serves the REST API, and stops on SIGTERM. */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { hubbub } from '@hubbub/test-kit';
import * as signalR from '@microsoft/signalr';
import { SignJWT } from 'jose';

const key = 'cli-hub-key-0123456789abcdefghijklmnopqrstu';

/** `hubbub hub …` with no connection string in the environment unless `env` gives one. */
const start = (args: string[], env: Record<string, string> = {}) =>
  hubbub(['hub', ...args], {
    HUBBUB_SIGNALR_CONNECTION_STRING: undefined,
    AzureSignalRConnectionString: undefined,
    ...env,
  });

async function ready(run: ReturnType<typeof start>) {
  const match = await waitFor(
    () =>
      /listening on (\S+)\nConnectionString: (\S+)/.exec(run.stdout()) ??
      (run.child.exitCode !== null ? assert.fail(run.stderr()) : null),
    { timeoutMs: 20_000, what: 'hubbub hub to print its address' },
  );
  return { url: match[1]!, connectionString: match[2]! };
}

async function stop(child: ChildProcess, exited: Promise<number | null>) {
  child.kill('SIGTERM');
  return exited;
}

describe('hubbub hub', () => {
  it('serves the REST API with the given connection string and stops on SIGTERM', async () => {
    const run = start([
      '--port',
      '0',
      '--connection-string',
      `Endpoint=http://127.0.0.1;AccessKey=${key};Version=1.0;`,
    ]);
    try {
      const { url, connectionString } = await ready(run);
      assert.match(
        connectionString,
        new RegExp(`^Endpoint=${url};AccessKey=${key.replace(/[+/=]/g, '\\$&')};Version=1\\.0;$`),
      );
      assert.equal((await fetch(`${url}/api/health`, { method: 'HEAD' })).status, 200);
      const target = `${url}/api/hubs/chat/:send?api-version=2022-06-01`;
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setAudience(target)
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(key));
      const sent = await fetch(target, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ Target: 'm', Arguments: [] }),
      });
      assert.equal(sent.status, 202);
      assert.equal((await fetch(target, { method: 'POST', body: '{}' })).status, 401);
    } finally {
      assert.equal(await stop(run.child, run.exited), 0);
    }
    assert.match(run.stdout(), /Stopped\./);
  });

  it('reads HUBBUB_SIGNALR_CONNECTION_STRING, or makes a key when none is given', async () => {
    const fromEnv = start(['--port', '0'], {
      HUBBUB_SIGNALR_CONNECTION_STRING: `Endpoint=http://127.0.0.1;AccessKey=${key};`,
    });
    try {
      assert.match((await ready(fromEnv)).connectionString, new RegExp(`AccessKey=${key};`));
    } finally {
      await stop(fromEnv.child, fromEnv.exited);
    }
    const generated = start(['--port', '0']);
    try {
      const { connectionString } = await ready(generated);
      assert.match(connectionString, /AccessKey=[A-Za-z0-9+/]{43}=;/);
    } finally {
      await stop(generated.child, generated.exited);
    }
  });

  it('posts connection events to --upstream', async () => {
    const events: string[] = [];
    const receiver = createServer((request, response) => {
      events.push(`${request.headers['x-asrs-category']}/${request.headers['x-asrs-event']} ${request.url}`);
      request.resume();
      response.writeHead(200).end();
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const upstream = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/{hub}/{event}`;
    const run = start([
      '--port',
      '0',
      '--connection-string',
      `Endpoint=http://127.0.0.1;AccessKey=${key};`,
      '--upstream',
      upstream,
    ]);
    try {
      const { url } = await ready(run);
      const aud = `${url}/client/?hub=chat`;
      const token = await new SignJWT({ 'asrs.s.uid': 'cli-user' })
        .setProtectedHeader({ alg: 'HS256' })
        .setAudience(aud)
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(key));
      const client = new signalR.HubConnectionBuilder()
        .withUrl(aud, { accessTokenFactory: () => token })
        .configureLogging(signalR.LogLevel.None)
        .build();
      await client.start();
      await waitFor(() => events.includes('connections/connected /hooks/chat/connected'));
      await client.stop();
      await waitFor(() => events.includes('connections/disconnected /hooks/chat/disconnected'));
    } finally {
      await stop(run.child, run.exited);
      receiver.closeAllConnections();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });

  it('exits 1 with a clear error for a bad port or connection string', async () => {
    const badPort = start(['--port', 'x']);
    assert.equal(await badPort.exited, 1);
    assert.match(badPort.stderr(), /--port/);
    const badUpstream = start(['--port', '0', '--upstream', 'ftp://nowhere/{event}']);
    assert.equal(await badUpstream.exited, 1);
    assert.match(badUpstream.stderr(), /KERNEL_INVALID_OPTION/);
    const badCs = start(['--connection-string', 'Endpoint=http://h;Version=1.0']);
    assert.equal(await badCs.exited, 1);
    assert.match(badCs.stderr(), /HUB_INVALID_CONNECTION_STRING/);
  });

  it('exits 1 with SYSTEM_PORT_IN_USE naming --port when the port is taken', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = holder.address() as AddressInfo;
      const taken = start(['--connection-string', `Endpoint=http://127.0.0.1:${port};AccessKey=${key};Version=1.0;`]);
      assert.equal(await taken.exited, 1);
      assert.match(
        taken.stderr(),
        new RegExp(`Port ${port} on 127\\.0\\.0\\.1 is in use.*--port N.*\\[SYSTEM_PORT_IN_USE\\]`),
      );
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });

  it('exits 1 naming the choices for a backplane it does not know, or a cluster node on 0.0.0.0 without --public-url', async () => {
    const badBackplane = start(['--port', '0', '--backplane', 'nats://127.0.0.1:4222']);
    assert.equal(await badBackplane.exited, 1);
    assert.match(badBackplane.stderr(), /KERNEL_INVALID_OPTION/);
    assert.match(badBackplane.stderr(), /redis:\/\//);
    const noUrl = start(['--port', '0', '--host', '0.0.0.0', '--backplane', 'redis://127.0.0.1:6379']);
    assert.equal(await noUrl.exited, 1);
    assert.match(noUrl.stderr(), /--public-url/);
  });
});
