/** The one engine URL table: known schemes open lazily, anything else names the choices. */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { engineScheme, openBus } from '../src/index.ts';

it('opens memory:// and file://DIR buses, and refuses other URLs naming the choices', async () => {
  await using memory = await openBus('memory://');
  await memory.admin.createQueue('q');
  await memory.createSender('q').send({ body: 'x' });
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-engines-'));
  try {
    const file = await openBus(`file://${dir}`);
    await file.admin.createQueue('q');
    await file.close();
    assert.ok(readdirSync(dir).length > 0, 'the file engine wrote its log');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const url of ['nats://127.0.0.1:4222', 'http://x/bus', 'memory', '', '::']) {
    assert.throws(() => engineScheme('bus', url), { code: 'KERNEL_INVALID_OPTION' }, url);
  }
  await assert.rejects(openBus('file://'), { code: 'KERNEL_INVALID_OPTION' });
});
