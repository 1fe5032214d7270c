import { type Kysely, type Migration } from 'kysely';
import { binary } from './types.js';

/** Key stores, credentials, keys and key versions, and the meta table. */
export function initial(binaryType: 'blob' | 'bytea'): Migration {
  const bin = binary(binaryType);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('meta')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('keystores')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('prefix', 'text', (c) => c.notNull().unique())
        .addColumn('regions', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('policy', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('credentials')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('keystore_id', 'text', (c) => c.notNull().references('keystores.id').onDelete('cascade'))
        .addColumn('access_key_id', 'text', (c) => c.notNull().unique())
        .addColumn('secret_sealed', bin, (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema.createIndex('credentials_keystore').on('credentials').column('keystore_id').execute();
      await db.schema
        .createTable('keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('keystore_id', 'text', (c) => c.notNull().references('keystores.id'))
        .addColumn('external_id', 'text', (c) => c.notNull().unique())
        .addColumn('protection', 'text', (c) => c.notNull())
        .addColumn('usage', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('current_version', 'integer', (c) => c.notNull())
        .addColumn('aad_layout', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('keys_keystore').on('keys').column('keystore_id').execute();
      await db.schema
        .createTable('key_versions')
        .addColumn('key_id', 'text', (c) => c.notNull().references('keys.id').onDelete('cascade'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('protection', 'text', (c) => c.notNull())
        .addColumn('material_sealed', bin)
        .addColumn('hsm_label', 'text')
        .addColumn('hsm_id', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('key_versions_pk', ['key_id', 'version'])
        .execute();
  },
    };
}
