// pglite://DIR: data on disk across restarts, and one owner process per directory — a live owner
// is refused, a dead or killed one is taken over, and what it acknowledged is still there.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { lockContent, ownerGone } from '../src/drivers/pglite/lock.ts';
import { createStore } from '../src/index.ts';

const root = mkdtempSync(join(tmpdir(), 'hubbub-store-pglite-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function orders(url: string) {
  const store = createStore({ url });
  const { database } = await store.databases.createIfNotExists({ id: 'shop' });
  const { container } = await database.containers.createIfNotExists({ id: 'orders', partitionKey: '/customerId' });
  return { store, orders: container };
}

describe('pglite://DIR', () => {
  it('keeps data across close and reopen; a second open of the directory is refused', async () => {
    const dir = join(root, 'a');
    const first = await orders(`pglite://${dir}`);
    await first.orders.items.create({ id: 'o1', customerId: 'c1', n: 1 });
    const second = createStore({ url: `pglite://${dir}` });
    await assert.rejects(second.start(), (err: { code?: string; detail?: { pid?: number } }) => {
      assert.equal(err.code, 'STORE_DIR_LOCKED');
      assert.equal(err.detail?.pid, process.pid);
      return true;
    });
    await first.store.close();
    const again = await orders(`pglite://${dir}`);
    assert.equal((await again.orders.item('o1', 'c1').read()).resource?.n, 1);
    assert.equal(again.store.driverKind, 'pglite');
    await again.store.close();
  });

  it('refuses a live owner process and takes over from a killed one, keeping what it acknowledged', async () => {
    const dir = join(root, 'b');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'pglite-owner.ts'), dir],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise((resolve) => child.on('exit', resolve));
    try {
      const etag = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          const m = /ready (\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.on('exit', (code) => reject(new Error(`the owner exited with ${code}`)));
      });
      const refused = createStore({ url: `pglite://${dir}` });
      await assert.rejects(refused.start(), (err: { code?: string; detail?: { pid?: number } }) => {
        assert.equal(err.code, 'STORE_DIR_LOCKED');
        assert.equal(err.detail?.pid, child.pid);
        return true;
      });
      child.kill('SIGKILL');
      await exited;
      const taker = await orders(`pglite://${dir}`);
      const { resource, etag: current } = await taker.orders.item('from-child', 'c1').read();
      assert.equal(resource?.pid, child.pid);
      assert.equal(current, etag);
      await taker.store.close();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('takes over a LOCK naming a process that no longer runs, or holding garbage', async () => {
    for (const [name, content] of [
      ['c', '2147483646 12345\n'],
      ['d', 'not a lock'],
    ] as const) {
      const dir = join(root, name);
      const first = await orders(`pglite://${dir}`);
      await first.store.close();
      writeFileSync(join(dir, 'LOCK'), content);
      const again = await orders(`pglite://${dir}`);
      await again.orders.items.create({ id: 'o1', customerId: 'c1' });
      await again.store.close();
    }
  });

  it('judges owners: this process runs, a reused pid (another start time) and a missing pid do not', () => {
    assert.equal(ownerGone(lockContent()), false);
    const [pid] = lockContent().trim().split(' ');
    assert.equal(ownerGone(`${pid} 1`), true);
    assert.equal(ownerGone('2147483646'), true);
    assert.equal(ownerGone(''), true);
  });

  it('pglite:// without a directory keeps the database in memory', async () => {
    const { store, orders: o } = await orders('pglite://');
    await o.items.create({ id: 'o1', customerId: 'c1' });
    assert.equal((await o.items.readAll().fetchAll()).resources.length, 1);
    await store.close();
  });
});
