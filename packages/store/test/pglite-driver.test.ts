import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { describeDocumentDriver } from '../src/driver-kit.ts';
import { PgliteDriver } from '../src/drivers/pglite/driver.ts';

// One PGlite in a temporary directory (creating a database costs seconds), a schema per test.
const dir = mkdtempSync(join(tmpdir(), 'hubbub-store-pglite-conformance-'));
const instance = await PGlite.create(join(dir, 'pgdata'));
after(async () => {
  await instance.close();
  rmSync(dir, { recursive: true, force: true });
});
let n = 0;
const open = (schema: string) => Object.assign(new PgliteDriver({ instance, schema }), { schema });
describeDocumentDriver({
  name: 'pglite',
  create: () => open(`s${++n}`),
  reopen: (closed) => open(closed.schema),
  destroy: async (driver) => void (await instance.exec(`DROP SCHEMA "${driver.schema}" CASCADE`)),
});
