import { sql, type Kysely, type Migration } from 'kysely';
import { binary } from './types.js';

/** Tables whose changes the XKS read model (directory, material caches) must see. */
const READ_MODEL_TABLES = ['keystores', 'credentials', 'keys', 'key_versions', 'meta'];

/**
 * The audit log (hash-chained, see crypto/audit-chain.ts), its head, and the key usage
 * aggregate that the same transaction keeps up to date.
 *
 * SQLite only, on top: the log is append-only for the application (triggers refuse UPDATE
 * and DELETE; someone with the file can still drop them, which is what the chain is for),
 * and a data generation counter moved by triggers on the tables the XKS read model uses.
 * Servers poll PRAGMA data_version to see other processes' commits; audit appends from
 * other processes (the CLI, other workers, the audit writer thread) move data_version too,
 * and without the counter every audit commit would throw away the directory's caches.
 * A new table that the XKS path reads needs the same triggers.
 */
export function audit(binaryType: 'blob' | 'bytea'): Migration {
  const bin = binary(binaryType);
  // SQLite: INTEGER PRIMARY KEY makes seq the rowid (appends go to the end of the table).
  const big = binaryType === 'blob' ? 'integer' : 'bigint';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('audit_log')
        .addColumn('seq', big, (c) => c.primaryKey())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text')
        .addColumn('keystore', 'text')
        .addColumn('kms_request_id', 'text')
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('prev', bin, (c) => c.notNull())
        .addColumn('mac', bin, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
      await db.schema.createIndex('audit_log_key').on('audit_log').columns(['key_id', 'seq']).execute();
      await db.schema
        .createTable('audit_head')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('seq', big, (c) => c.notNull())
        .addColumn('mac', bin, (c) => c.notNull())
        .addColumn('head_mac', bin, (c) => c.notNull())
        .addCheckConstraint('audit_head_single_row', sql`id = 1`)
        .execute();
      await db.schema
        .createTable('audit_key_usage')
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('keystore', 'text', (c) => c.notNull())
        .addColumn('kms_key_arn', 'text', (c) => c.notNull())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('operation', 'text', (c) => c.notNull())
        .addColumn('kms_operation', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('count', big, (c) => c.notNull())
        .addColumn('first_at', 'text', (c) => c.notNull())
        .addColumn('last_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_key_usage_pk', ['key_id', 'keystore', 'kms_key_arn', 'principal', 'operation', 'kms_operation', 'outcome'])
        .execute();

      if (binaryType !== 'blob') return;
      for (const op of ['UPDATE', 'DELETE']) {
        await sql
          .raw(`CREATE TRIGGER audit_log_no_${op.toLowerCase()} BEFORE ${op} ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`)
          .execute(db);
      }
      await sql.raw('CREATE TABLE data_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)').execute(db);
      await sql.raw('INSERT INTO data_generation (id, n) VALUES (1, 0)').execute(db);
      for (const table of READ_MODEL_TABLES) {
        for (const op of ['INSERT', 'UPDATE', 'DELETE']) {
          await sql
            .raw(`CREATE TRIGGER ${table}_generation_${op.toLowerCase()} AFTER ${op} ON ${table} BEGIN UPDATE data_generation SET n = n + 1 WHERE id = 1; END`)
            .execute(db);
        }
      }
    },
  };
}
