import type { Kysely, Migration } from 'kysely';

/**
 * Bring your own key: local keys say whether their material may leave Keyhold (set at
 * creation, never turned on later) and where it came from; Keyhold's records of native AWS
 * KMS keys (never their material); and the copies of local material into AWS keys.
 */
export function byok(_binaryType: 'blob' | 'bytea'): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('keys').addColumn('exportable', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('keys').addColumn('origin', 'text', (c) => c.notNull().defaultTo('keyhold')).execute();
      await db.schema
        .createTable('aws_keys')
        .addColumn('arn', 'text', (c) => c.primaryKey())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('connection_id', 'text', (c) => c.notNull())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('region', 'text', (c) => c.notNull())
        .addColumn('key_spec', 'text', (c) => c.notNull())
        .addColumn('key_usage', 'text', (c) => c.notNull())
        .addColumn('origin', 'text', (c) => c.notNull())
        .addColumn('key_manager', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('aliases', 'text', (c) => c.notNull())
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('policy', 'text')
        .addColumn('rotation', 'text')
        .addColumn('expiration_model', 'text')
        .addColumn('valid_to', 'text')
        .addColumn('multi_region', 'integer', (c) => c.notNull())
        .addColumn('custom_key_store_id', 'text')
        .addColumn('xks_key_id', 'text')
        .addColumn('local_key_id', 'text')
        .addColumn('aws_created_at', 'text')
        .addColumn('deletion_date', 'text')
        .addColumn('sync_run', 'text', (c) => c.notNull())
        .addColumn('synced_at', 'text', (c) => c.notNull())
        .addColumn('gone_at', 'text')
        .execute();
      await db.schema.createIndex('aws_keys_by_connection').on('aws_keys').columns(['connection_id', 'region']).execute();
      await db.schema
        .createTable('aws_key_copies')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('local_key_id', 'text', (c) => c.notNull())
        .addColumn('local_version', 'integer', (c) => c.notNull())
        .addColumn('connection_id', 'text', (c) => c.notNull())
        .addColumn('region', 'text', (c) => c.notNull())
        .addColumn('aws_key_arn', 'text', (c) => c.notNull())
        .addColumn('expiration_model', 'text', (c) => c.notNull())
        .addColumn('valid_to', 'text')
        .addColumn('key_material_id', 'text')
        .addColumn('copied_by', 'text', (c) => c.notNull())
        .addColumn('copied_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('aws_key_copies_by_local_key').on('aws_key_copies').column('local_key_id').execute();
    },
  };
}
