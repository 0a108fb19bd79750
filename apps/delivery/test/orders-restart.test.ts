/**
 * `npm start` killed (SIGKILL) while customers are placing orders: every order that got its 202
 * is there after the restart, written by the processor, in a valid status — the bus had it
 * durably (file engine) before the 202, the processor writes it to the store (PGlite) on either
 * side of the kill, and a message it had not completed is delivered again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { runScript } from '@hubbub/test-kit';
import { ORDER_STATUSES } from '../src/orders/index.ts';

const main = new URL('../src/main.ts', import.meta.url).pathname;
const data = mkdtempSync(join(tmpdir(), 'hubbub-orders-restart-'));
after(() => rmSync(data, { recursive: true, force: true }));

function start() {
  const run = runScript(main, ['--port', '0', '--data', data, '--no-simulate'], { env: { HUBBUB_LOG_LEVEL: 'warn' } });
  const ready = waitFor(
    () => {
      const out = run.stdout();
      const url = /Open (http:\/\/\S+)\//.exec(out)?.[1];
      const password = /Demo accounts, password (\S+):/.exec(out)?.[1];
      const seeded = out.includes('Demo accounts are ready');
      return url !== undefined && password !== undefined && seeded ? { url, password } : undefined;
    },
    { timeoutMs: 60_000, what: 'npm start to print its URL and demo password' },
  );
  return { ...run, ready, output: () => run.stdout() + run.stderr() };
}

async function signIn(url: string, password: string): Promise<string> {
  const res = await fetch(`${url}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'customer@example.com', password }),
  });
  assert.equal(res.status, 201);
  return ((await res.json()) as { token: string }).token;
}

it('loses no order that got its 202 when the process is killed, and each is placed after the restart', async () => {
  const first = start();
  const { url, password } = await first.ready;
  const token = await signIn(url, password);
  const accepted = new Set<string>();
  let next = 0;
  let stop = false;
  const placeLoop = async () => {
    while (!stop) {
      const key = `restart-order-${next++}`;
      try {
        const res = await fetch(`${url}/api/v1/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': key },
          body: JSON.stringify({
            restaurantId: '15th-ave-tacos',
            items: [{ itemId: 'al-pastor', quantity: 1 + (next % 3) }],
            deliveryAddress: { lat: 47.62, lng: -122.315 },
          }),
        });
        const body = (await res.json()) as { id: string };
        if (res.status === 202) accepted.add(body.id);
      } catch {
        return; // the server went away mid-request: no 202, nothing promised
      }
    }
  };
  const loops = Array.from({ length: 4 }, placeLoop);
  await waitFor(() => accepted.size >= 60, { timeoutMs: 60_000, what: '60 accepted orders' });
  first.child.kill('SIGKILL');
  await Promise.all(loops);
  stop = true;
  await first.exited;

  const second = start();
  const again = await second.ready;
  const token2 = await signIn(again.url, again.password);
  const missing = await waitFor(
    async () => {
      const left: string[] = [];
      for (const id of accepted) {
        const res = await fetch(`${again.url}/api/v1/orders/${id}`, { headers: { authorization: `Bearer ${token2}` } });
        const order = (await res.json()) as { status?: string };
        if (res.status !== 200 || !ORDER_STATUSES.includes(order.status as never)) left.push(id);
      }
      return left.length === 0 ? [] : undefined;
    },
    {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: `all ${accepted.size} accepted orders to be written after the restart`,
    },
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\n${second.output()}`);
  });
  assert.deepEqual(missing, []);
  second.child.kill('SIGINT');
  assert.equal(await second.exited, 0, second.output());
});
