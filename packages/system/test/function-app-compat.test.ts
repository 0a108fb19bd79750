/**
 * The compatibility suite: function apps written as the public samples are (bidirectional chat
 * over the signalRTrigger, serverless chat with auth reading its page by a relative path, disabled
 * functions, an app with unsupported bindings, HTTP streaming) run on the whole system as
 * `hubbub functions` runs them — keys unchecked as under Core Tools — driven by the official
 * SignalR client and plain HTTP.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClientToken, createServerToken } from '@hubbub/hub';
import { type Logger, silentLogger, waitFor } from '@hubbub/kernel';
import * as signalR from '@microsoft/signalr';
import { startSystem } from '../src/index.ts';
import { fixture } from './function-apps.ts';

function client(url: string, accessToken: string) {
  return new signalR.HubConnectionBuilder()
    .withUrl(url, { accessTokenFactory: () => accessToken })
    .configureLogging(signalR.LogLevel.None)
    .build();
}

async function negotiate(base: string, headers: Record<string, string>) {
  const res = await fetch(`${base}/api/negotiate`, { method: 'POST', headers });
  assert.equal(res.status, 200);
  return (await res.json()) as { url: string; accessToken: string };
}

describe('function apps as the samples are, on the whole system', () => {
  it('bidirectional chat: client invocations reach signalRTrigger functions through the upstream', async () => {
    await using system = await startSystem({
      port: 0,
      logger: silentLogger,
      app: { dir: fixture('bidirectional-chat'), enforceKeys: false },
    });
    const info = await negotiate(system.url, { 'x-ms-signalr-userid': 'ada' });
    const ada = client(info.url, info.accessToken);
    const got: unknown[] = [];
    ada.on('newMessage', (m: unknown) => got.push(m));
    ada.on('newConnection', (m: unknown) => got.push(m));
    await ada.start();
    try {
      await waitFor(() => got.length === 1);
      assert.deepEqual(got.shift(), { connectionId: ada.connectionId, userId: 'ada' });
      await ada.invoke('broadcast', 'hi');
      await waitFor(() => got.length === 1);
      assert.deepEqual(got.shift(), { sender: 'ada', text: 'hi' });
      assert.equal(((await ada.invoke('echo', 'x')) as { echo: string }).echo, 'x');
      await assert.rejects(ada.invoke('fail'), /The chat refused this message\./);
      // Forged upstream requests from outside are refused.
      const forged = await fetch(`${system.url}/runtime/webhooks/signalr`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-asrs-connection-id': ada.connectionId ?? '',
          'x-asrs-hub': 'simplechat',
          'x-asrs-category': 'messages',
          'x-asrs-event': 'broadcast',
          'x-asrs-signature': `sha256=${'A'.repeat(64)}`,
        },
        body: JSON.stringify({ type: 1, target: 'broadcast', arguments: ['forged'] }),
      });
      assert.equal(forged.status, 401);
    } finally {
      await ada.stop();
    }
  });

  it('serverless chat with auth: its page by a relative path, negotiate without a key, the configured AccessKey honoured', async () => {
    const configuredKey = 'ServerlessChatConfiguredKey0123456789ABCDEF';
    await using system = await startSystem({
      port: 0,
      logger: silentLogger,
      app: { dir: fixture('serverless-chat-auth'), enforceKeys: false, useConfiguredSignalRKey: true },
    });
    const page = await fetch(`${system.url}/api/index`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Serverless chat<\/title>/);

    const info = await negotiate(system.url, { 'x-ms-client-principal-name': 'lin' });
    const lin = client(info.url, info.accessToken);
    const got: unknown[] = [];
    lin.on('newMessage', (m: unknown) => got.push(m));
    await lin.start();
    // A separate backend signs a client token with the key the app configured: the hub accepts it.
    const backendToken = await createClientToken({ url: info.url, accessKey: configuredKey, userId: 'backend-user' });
    const other = client(info.url, backendToken);
    await other.start();
    try {
      const sent = await fetch(`${system.url}/api/messages`, {
        method: 'POST',
        headers: { 'x-ms-client-principal-name': 'ada' },
        body: JSON.stringify({ recipient: 'lin', text: 'private' }),
      });
      assert.equal(sent.status, 202);
      await waitFor(() => got.length === 1);
      assert.deepEqual(got.shift(), { recipient: 'lin', text: 'private', sender: 'ada' });
      // And the REST API takes the backend's server tokens signed with it.
      const restUrl = `${system.url}/api/hubs/chat/:send?api-version=2022-06-01`;
      const rest = await fetch(restUrl, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await createServerToken({ audience: restUrl, accessKey: configuredKey })}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ target: 'newMessage', arguments: [{ text: 'from the backend' }] }),
      });
      assert.equal(rest.status, 202);
      await waitFor(() => got.length === 1);
      assert.deepEqual(got.shift(), { text: 'from the backend' });
    } finally {
      await Promise.all([lin.stop(), other.stop()]);
    }
  });

  it('keys are checked when asked for (--enforce-keys)', async () => {
    await using system = await startSystem({
      port: 0,
      logger: silentLogger,
      app: { dir: fixture('serverless-chat-auth'), enforceKeys: true },
    });
    assert.equal((await fetch(`${system.url}/api/negotiate`, { method: 'POST' })).status, 401);
    assert.equal((await fetch(`${system.url}/api/index`)).status, 200);
    // Without useConfiguredSignalRKey (npm start), the app's AccessKey signs nothing here.
    const url = `${system.url}/client/?hub=chat`;
    const token = await createClientToken({ url, accessKey: 'ServerlessChatConfiguredKey0123456789ABCDEF' });
    const refused = await fetch(`${system.url}/client/negotiate?hub=chat&negotiateVersion=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(refused.status, 401);
  });

  it('disabled functions, and an app with unsupported bindings whose other functions run', async () => {
    const skipped: string[] = [];
    const errors: string[] = [];
    const logger: Logger = {
      ...silentLogger,
      error: (_f, message) => errors.push(String(message)),
      child: () => logger,
    };
    await using partly = await startSystem({
      port: 0,
      logger,
      app: {
        dir: fixture('partly-supported'),
        enforceKeys: false,
        onSkipped: (name, err) => skipped.push(`${name}:${err.code}`),
      },
    });
    assert.deepEqual(
      partly.functions?.functions.map((f) => f.name),
      ['hello', 'goodbye'],
    );
    assert.deepEqual(skipped, [
      'saveToSql:FUNCTIONS_UNKNOWN_BINDING',
      'fromEventHub:FUNCTIONS_UNKNOWN_BINDING',
      'needsSetting:FUNCTIONS_INVALID_SETTING',
    ]);
    assert.ok(errors.some((m) => m.includes('saveToSql')));
    assert.equal(await (await fetch(`${partly.url}/api/goodbye`)).text(), 'goodbye');
    await assert.rejects(
      startSystem({ port: 0, logger: silentLogger, app: { dir: fixture('partly-supported'), strict: true } }),
      { code: 'FUNCTIONS_UNKNOWN_BINDING' },
    );

    await using disabled = await startSystem({
      port: 0,
      logger: silentLogger,
      app: { dir: fixture('disabled-app') },
      settings: { AzureWebJobs_byEnvironment_Disabled: 'true' },
    });
    assert.deepEqual(
      disabled.functions?.functions.map((f) => f.name),
      ['alive', 'enabledByFile', 'byShellSafeName'],
    );
  });

  it('HTTP streaming: a streamed upload and a streamed response', async () => {
    await using system = await startSystem({ port: 0, logger: silentLogger, app: { dir: fixture('http-stream') } });
    const body = Buffer.alloc(512 * 1024, 3);
    const up = await fetch(`${system.url}/api/upload`, { method: 'POST', body });
    assert.equal(((await up.json()) as { bytes: number }).bytes, body.length);
    const ticker = await fetch(`${system.url}/api/ticker`);
    const reader = ticker.body!.getReader();
    const first = await reader.read();
    assert.equal(Buffer.from(first.value!).toString(), 'first\n');
    await fetch(`${system.url}/api/release`, { method: 'POST' });
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += Buffer.from(r.value).toString();
    assert.equal(rest, 'last\n');
  });
});
