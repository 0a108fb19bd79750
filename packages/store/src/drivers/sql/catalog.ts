/**
 * Databases and containers in SQL: the `databases` and `containers` tables, and a container's
 * items table created and dropped with it (under the schema's advisory lock, so that two processes
 * changing the catalog at once do not race on DDL).
 * @module
 */
import type { CatalogOp, CatalogResults, ContainerDefinition, DatabaseDefinition } from '../../driver.ts';
import { conflict, notFound } from '../../errors.ts';
import type { SqlExecutor } from './executor.ts';
import { containerDdl, lockStatement, type Names } from './schema.ts';

export async function runCatalog(x: SqlExecutor, n: Names, op: CatalogOp): Promise<CatalogResults[CatalogOp['op']]> {
  switch (op.op) {
    case 'createDatabase': {
      const { rows } = await x.query(
        `INSERT INTO ${n.databases} (id, created) VALUES ($1::text, $2::bigint) ON CONFLICT DO NOTHING RETURNING id`,
        [op.id, op.created],
      );
      if (rows.length === 0) throw conflict(`The database '${op.id}'`, { database: op.id });
      return { id: op.id, created: op.created };
    }
    case 'deleteDatabase':
      return x.transaction(async (q) => {
        await q(lockStatement, [`hubbub-store:${n.schema}`]);
        const { rows } = await q(`SELECT serial::text AS serial FROM ${n.containers} WHERE database = $1::text`, [
          op.id,
        ]);
        for (const r of rows) await q(`DROP TABLE IF EXISTS ${n.items(r.serial as string)}`);
        const gone = await q(`DELETE FROM ${n.databases} WHERE id = $1::text RETURNING id`, [op.id]);
        if (gone.rows.length === 0) throw notFound(`The database '${op.id}'`, { database: op.id });
        return undefined;
      });
    case 'listDatabases': {
      const { rows } = await x.query(`SELECT id, created::text AS created FROM ${n.databases} ORDER BY id`);
      return rows.map((r): DatabaseDefinition => ({ id: r.id as string, created: Number(r.created) }));
    }
    case 'createContainer':
      return x.transaction(async (q) => {
        await q(lockStatement, [`hubbub-store:${n.schema}`]);
        const { database, id } = op.definition;
        const db = await q(`SELECT 1 FROM ${n.databases} WHERE id = $1::text`, [database]);
        if (db.rows.length === 0) throw notFound(`The database '${database}'`, { database });
        const { rows } = await q(
          `INSERT INTO ${n.containers} (database, id, definition) VALUES ($1::text, $2::text, $3::jsonb)
           ON CONFLICT DO NOTHING RETURNING serial::text AS serial`,
          [database, id, JSON.stringify(op.definition)],
        );
        if (rows.length === 0) throw conflict(`The container '${id}'`, { database, container: id });
        const serial = rows[0]!.serial as string;
        for (const ddl of containerDdl(n, serial)) await q(ddl);
        return { ...op.definition, handle: serial };
      });
    case 'deleteContainer':
      return x.transaction(async (q) => {
        await q(lockStatement, [`hubbub-store:${n.schema}`]);
        const { rows } = await q(
          `DELETE FROM ${n.containers} WHERE database = $1::text AND id = $2::text RETURNING serial::text AS serial`,
          [op.database, op.id],
        );
        if (rows.length === 0) throw notFound(`The container '${op.id}'`, { database: op.database, container: op.id });
        await q(`DROP TABLE IF EXISTS ${n.items(rows[0]!.serial as string)}`);
        return undefined;
      });
    default: {
      if (op.database !== undefined) {
        const db = await x.query(`SELECT 1 FROM ${n.databases} WHERE id = $1::text`, [op.database]);
        if (db.rows.length === 0) throw notFound(`The database '${op.database}'`, { database: op.database });
      }
      const { rows } = await x.query(
        `SELECT serial::text AS serial, definition FROM ${n.containers}
         WHERE $1::text IS NULL OR database = $1::text ORDER BY database, id`,
        [op.database ?? null],
      );
      return rows.map((r) => ({
        ...(r.definition as Omit<ContainerDefinition, 'handle'>),
        handle: r.serial as string,
      }));
    }
  }
}
