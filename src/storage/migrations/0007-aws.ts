import type { Kysely, Migration } from 'kysely';
import { binary } from './types.js';

/**
 * The AWS plane: connections (the static secret sealed), and the links from key stores
 * and keys to the custom key store and KMS keys made for them in AWS.
 */
export function aws(binaryType: 'blob' | 'bytea'): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('aws_connections')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('region', 'text', (c) => c.notNull())
        .addColumn('regions', 'text', (c) => c.notNull())
        .addColumn('endpoint', 'text')
        .addColumn('sts_endpoint', 'text')
        .addColumn('ca_pem', 'text')
        .addColumn('account_id', 'text')
        .addColumn('credential_source', 'text', (c) => c.notNull())
        .addColumn('access_key_id', 'text')
        .addColumn('secret_sealed', binary(binaryType))
        .addColumn('role_arn', 'text')
        .addColumn('external_id', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('aws_keystore_links')
        .addColumn('keystore_id', 'text', (c) => c.primaryKey())
        .addColumn('connection_id', 'text', (c) => c.notNull())
        .addColumn('region', 'text', (c) => c.notNull())
        .addColumn('custom_key_store_id', 'text')
        .addColumn('custom_key_store_name', 'text', (c) => c.notNull())
        .addColumn('endpoint', 'text', (c) => c.notNull())
        .addColumn('connectivity', 'text', (c) => c.notNull())
        .addColumn('vpc_endpoint_service_name', 'text')
        .addColumn('aws_access_key_id', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('aws_key_links')
        .addColumn('key_id', 'text', (c) => c.primaryKey())
        .addColumn('connection_id', 'text', (c) => c.notNull())
        .addColumn('region', 'text', (c) => c.notNull())
        .addColumn('kms_key_arn', 'text', (c) => c.notNull().unique())
        .addColumn('alias', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  };
}
