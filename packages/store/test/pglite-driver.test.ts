import { after } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { describeDocumentDriver } from '../src/driver-kit.ts';
import { PgliteDriver } from '../src/drivers/pglite/driver.ts';

// One PGlite (in memory; creating a database costs seconds) shared by the tests, a schema each.
const instance = await PGlite.create();
after(() => instance.close());
let n = 0;
const open = (schema: string) => Object.assign(new PgliteDriver({ instance, schema }), { schema });
describeDocumentDriver({
  name: 'pglite',
  create: () => open(`s${++n}`),
  reopen: (closed) => open(closed.schema),
  destroy: async (driver) => void (await instance.exec(`DROP SCHEMA "${driver.schema}" CASCADE`)),
});
