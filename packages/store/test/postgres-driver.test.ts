import { describeDocumentDriver } from '../src/driver-kit.ts';
import { PostgresDriver } from '../src/drivers/postgres/driver.ts';
import { testDatabase } from './postgres.ts';

const db = await testDatabase();
const open = (schema: string) => Object.assign(new PostgresDriver({ connectionString: db.url, schema }), { schema });
describeDocumentDriver({
  name: 'postgres',
  ...(db.unavailable === undefined ? {} : { unavailable: db.unavailable }),
  create: () => open(db.schema()),
  reopen: (closed) => open(closed.schema),
  destroy: (driver) => db.drop(driver.schema),
});
