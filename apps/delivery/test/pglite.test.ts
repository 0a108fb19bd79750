/**
 * The REST API and the processor on the embedded default store, PGlite in a temporary directory:
 * a customer signs up and orders, the processor writes the order, the restaurant accepts it with
 * the etag it read.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { pizza, startApiSystem } from './api-client.ts';

it('orders on PGlite: the processor writes through the cosmosDB output, transitions use the etag', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-delivery-pglite-'));
  try {
    await using api = await startApiSystem({ storeUrl: `pglite://${dir}` });
    const { token } = await api.signUp('pglite@example.com');
    const created = await api.call('POST', '/api/v1/orders', {
      token,
      body: pizza(3),
      headers: { 'idempotency-key': 'pglite-order-1' },
    });
    assert.equal(created.status, 202);
    const order = await api.processed(token, created.body.id);
    assert.equal(order.body.totalCents, 3 * 1400 + 299);
    const restaurant = await api.signIn('pike-street-pizza@example.com');
    const accepted = await api.call('POST', `/api/v1/orders/${created.body.id}/transitions`, {
      token: restaurant,
      body: { to: 'accepted' },
      headers: { 'if-match': order.headers.get('etag')! },
    });
    assert.equal(accepted.status, 200);
    assert.notEqual(accepted.headers.get('etag'), order.headers.get('etag'));
    const list = await api.call('GET', '/api/v1/orders', { token });
    assert.deepEqual(
      list.body.items.map((o: { id: string; status: string }) => [o.id, o.status]),
      [[created.body.id, 'accepted']],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
