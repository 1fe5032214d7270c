import { sql, type Kysely, type Migration } from 'kysely';
import { binary } from './types.js';

/**
 * Audit chains, archive anchors and a protected usage aggregate (see docs/security.md).
 *
 * - audit_log: one chain per writer, primary key (chain, seq); existing records become the
 *   root chain 'main'. Rows keep only what verification and time-bounded reads need (chain,
 *   seq, at, body, prev, mac): the old key/key-store/request-id/kind columns were copies of
 *   the signed body used as filters, and a filter on an unsigned copy can be edited to hide a
 *   record, so filters now read the verified body.
 * - audit_head: one head per chain.
 * - audit_anchor: per chain, where the records left after an archive continue from.
 * - audit_key_usage: per chain (so writers never share a row), each row MAC'd; rows copied
 *   from before have no MAC and are rebuilt from the verified records on the next open.
 *
 * SQLite: the append-only triggers come back; a DELETE is allowed only for records at or
 * before the chain's archive anchor (which the archive writes in the same transaction).
 */
export function auditChains(binaryType: 'blob' | 'bytea'): Migration {
  const bin = binary(binaryType);
  const big = binaryType === 'blob' ? 'integer' : 'bigint';
  const sqlite = binaryType === 'blob';
  return {
    async up(db: Kysely<unknown>) {
      if (sqlite) {
        await sql.raw('DROP TRIGGER IF EXISTS audit_log_no_update').execute(db);
        await sql.raw('DROP TRIGGER IF EXISTS audit_log_no_delete').execute(db);
      }
      await db.schema
        .createTable('audit_log_v5')
        .addColumn('chain', 'text', (c) => c.notNull())
        .addColumn('seq', big, (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('prev', bin, (c) => c.notNull())
        .addColumn('mac', bin, (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_log_v5_pk', ['chain', 'seq'])
        .execute();
      await sql.raw("INSERT INTO audit_log_v5 (chain, seq, at, body, prev, mac) SELECT 'main', seq, at, body, prev, mac FROM audit_log").execute(db);
      await db.schema.dropTable('audit_log').execute();
      await sql.raw('ALTER TABLE audit_log_v5 RENAME TO audit_log').execute(db);
      await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();

      await db.schema
        .createTable('audit_head_v5')
        .addColumn('chain', 'text', (c) => c.primaryKey())
        .addColumn('seq', big, (c) => c.notNull())
        .addColumn('mac', bin, (c) => c.notNull())
        .addColumn('head_mac', bin, (c) => c.notNull())
        .execute();
      await sql.raw("INSERT INTO audit_head_v5 (chain, seq, mac, head_mac) SELECT 'main', seq, mac, head_mac FROM audit_head").execute(db);
      await db.schema.dropTable('audit_head').execute();
      await sql.raw('ALTER TABLE audit_head_v5 RENAME TO audit_head').execute(db);

      await db.schema
        .createTable('audit_anchor')
        .addColumn('chain', 'text', (c) => c.primaryKey())
        .addColumn('seq', big, (c) => c.notNull())
        .addColumn('mac', bin, (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('usage', 'text', (c) => c.notNull())
        .addColumn('anchor_mac', bin, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('audit_key_usage_v5')
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('keystore', 'text', (c) => c.notNull())
        .addColumn('kms_key_arn', 'text', (c) => c.notNull())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('operation', 'text', (c) => c.notNull())
        .addColumn('kms_operation', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('chain', 'text', (c) => c.notNull())
        .addColumn('count', big, (c) => c.notNull())
        .addColumn('first_at', 'text', (c) => c.notNull())
        .addColumn('last_at', 'text', (c) => c.notNull())
        .addColumn('mac', bin)
        .addPrimaryKeyConstraint('audit_key_usage_v5_pk', ['key_id', 'keystore', 'kms_key_arn', 'principal', 'operation', 'kms_operation', 'outcome', 'chain'])
        .execute();
      await sql
        .raw(
          "INSERT INTO audit_key_usage_v5 (key_id, keystore, kms_key_arn, principal, operation, kms_operation, outcome, chain, count, first_at, last_at, mac) SELECT key_id, keystore, kms_key_arn, principal, operation, kms_operation, outcome, 'main', count, first_at, last_at, NULL FROM audit_key_usage",
        )
        .execute(db);
      await db.schema.dropTable('audit_key_usage').execute();
      await sql.raw('ALTER TABLE audit_key_usage_v5 RENAME TO audit_key_usage').execute(db);

      if (!sqlite) return;
      await sql.raw("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END").execute(db);
      await sql
        .raw(
          "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log WHEN OLD.seq > coalesce((SELECT seq FROM audit_anchor WHERE chain = OLD.chain), 0) BEGIN SELECT RAISE(ABORT, 'audit_log is append-only (only archived records may be removed)'); END",
        )
        .execute(db);
    },
  };
}
