/**
 * The serverless /client endpoint for pages on another origin: a negotiate redirect (a cluster's
 * hub node, or Azure's own service) makes the browser ask a node that may never have served the
 * hub before, starting with a preflight that carries no token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSignalRService, type SignalRService } from '../src/index.ts';

describe('the serverless /client endpoint across origins', () => {
  let service: SignalRService;
  let url: string;

  before(async () => {
    service = createSignalRService({ keys: ['cors-test-key-0123456789abcdefghijklmnopq'] });
    ({ url } = await service.listen());
  });
  after(() => service.close());

  it("answers a preflight for a hub it has not served yet, reflecting the page's origin", async () => {
    const response = await fetch(`${url}/client/negotiate?hub=fresh&negotiateVersion=1`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://app.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization, x-requested-with, x-signalr-user-agent',
      },
    });
    await response.arrayBuffer();
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-origin'), 'http://app.example');
    assert.equal(response.headers.get('access-control-allow-credentials'), 'true');
    assert.equal(service.hubServer.findHub('fresh'), undefined, 'a preflight makes no hub');
  });

  it('lets the page read the refusal of a negotiate without a valid token', async () => {
    const response = await fetch(`${url}/client/negotiate?hub=fresh2&negotiateVersion=1`, {
      method: 'POST',
      headers: { Origin: 'http://app.example', Authorization: 'Bearer nope' },
    });
    await response.arrayBuffer();
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('access-control-allow-origin'), 'http://app.example');
    assert.equal(service.hubServer.findHub('fresh2'), undefined);
  });
});
