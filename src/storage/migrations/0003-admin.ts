import { sql, type Kysely, type Migration } from 'kysely';
import { binary } from './types.js';

/**
 * The management plane: admin users, sessions and API keys (token digests only), approval
 * rules, requests and votes; and the key lifecycle columns (description, tags, rotation
 * schedule, expiry, pending deletion).
 */
export function admin(binaryType: 'blob' | 'bytea'): Migration {
  const bin = binary(binaryType);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('admin_users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('username', 'text', (c) => c.notNull().unique())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('must_change_password', 'integer', (c) => c.notNull())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('failed_logins', 'integer', (c) => c.notNull())
        .addColumn('locked_until', 'text')
        .addColumn('password_changed_at', 'text', (c) => c.notNull())
        .addColumn('last_login_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('admin_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('admin_users.id').onDelete('cascade'))
        .addColumn('token_digest', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('last_seen_at', 'text', (c) => c.notNull())
        .addColumn('source_ip', 'text')
        .execute();
      await db.schema.createIndex('admin_sessions_user').on('admin_sessions').column('user_id').execute();
      await db.schema
        .createTable('admin_api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('admin_users.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('hint', 'text', (c) => c.notNull())
        .addColumn('token_digest', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('last_used_at', 'text')
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema.createIndex('admin_api_keys_user').on('admin_api_keys').column('user_id').execute();
      await db.schema
        .createTable('approval_rules')
        .addColumn('action', 'text', (c) => c.primaryKey())
        .addColumn('required', 'integer', (c) => c.notNull())
        .addColumn('approvers', 'text')
        .addColumn('ttl_minutes', 'integer')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('updated_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('approval_requests')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('summary', 'text', (c) => c.notNull())
        .addColumn('requested_by_id', 'text', (c) => c.notNull())
        .addColumn('requested_by_name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('required', 'integer', (c) => c.notNull())
        .addColumn('approvers', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('decided_at', 'text')
        .addColumn('result', 'text')
        // Sealed with AAD (approval_requests, id, result): a secret result such as a new credential.
        .addColumn('result_sealed', bin)
        .addColumn('secret_result', 'text', (c) => c.notNull())
        .addColumn('error', 'text')
        .execute();
      await db.schema.createIndex('approval_requests_status').on('approval_requests').columns(['status', 'expires_at']).execute();
      await db.schema
        .createTable('approval_votes')
        .addColumn('request_id', 'text', (c) => c.notNull().references('approval_requests.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('username', 'text', (c) => c.notNull())
        .addColumn('decision', 'text', (c) => c.notNull())
        .addColumn('comment', 'text')
        .addColumn('at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('approval_votes_pk', ['request_id', 'user_id'])
        .execute();

      await db.schema.alterTable('keys').addColumn('description', 'text', (c) => c.notNull().defaultTo('')).execute();
      await db.schema.alterTable('keys').addColumn('tags', 'text', (c) => c.notNull().defaultTo(sql.lit('{}'))).execute();
      await db.schema.alterTable('keys').addColumn('rotation_period_days', 'integer').execute();
      await db.schema.alterTable('keys').addColumn('next_rotation_at', 'text').execute();
      await db.schema.alterTable('keys').addColumn('expires_at', 'text').execute();
      await db.schema.alterTable('keys').addColumn('deletion_date', 'text').execute();
      await db.schema.createIndex('keys_next_rotation').on('keys').column('next_rotation_at').execute();
      await db.schema.createIndex('keys_deletion_date').on('keys').column('deletion_date').execute();
    },
  };
}
