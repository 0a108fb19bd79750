// startPushPart: the push part alone over its own bus and store — a send through its front is
// delivered; a taken port fails with PUSH_LISTEN_FAILED and leaves nothing open (the PGlite
// directory it had opened can be opened again at once).
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { createPushClient, startPushPart } from '../src/index.ts';

const data = mkdtempSync(join(tmpdir(), 'hubbub-push-alone-'));
const other = mkdtempSync(join(tmpdir(), 'hubbub-push-alone-'));
const ecdh = createECDH('prime256v1');
ecdh.generateKeys();

describe('startPushPart', () => {
  after(() => {
    rmSync(data, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  });

  it('serves the push part on its own bus and store; a taken port fails and closes what it opened', async () => {
    const part = await startPushPart({ dataDir: data, port: 0 });
    const pushes: IncomingMessage[] = [];
    const endpoint = createServer((req, res) => {
      pushes.push(req);
      req.resume().on('end', () => res.writeHead(201).end());
    });
    await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
    try {
      assert.equal(part.hubName, 'hubbub');
      assert.match(part.listenConnectionString, /SharedAccessKeyName=DefaultListenSharedAccessSignature;/);
      await using push = createPushClient({
        connectionString: part.connectionString,
        hubName: part.hubName,
        ca: readFileSync(part.caPath),
      });
      const { notificationId } = await push.send(
        { format: 'browser', body: 'hi' },
        {
          kind: 'handle',
          platform: 'browser',
          channel: {
            endpoint: `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/sub`,
            p256dh: ecdh.getPublicKey().toString('base64url'),
            auth: randomBytes(16).toString('base64url'),
          },
        },
      );
      await waitFor(() => pushes.length === 1, { timeoutMs: 20_000, what: `the push of ${notificationId}` });
      // another data directory's part on the taken port: its PGlite store and file bus opened, then let go
      await assert.rejects(startPushPart({ dataDir: other, port: part.port }), { code: 'PUSH_LISTEN_FAILED' });
    } finally {
      await part.close();
      await new Promise((r) => endpoint.close(r));
    }
    // both directories' PGlite stores and file buses open again at once: nothing was left holding them
    for (const dir of [data, other]) await (await startPushPart({ dataDir: dir, port: 0 })).close();
  });
});
