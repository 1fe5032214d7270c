import type { Kysely, Migration } from 'kysely';

/**
 * The cluster registry: one row per running node (heartbeat by the database's clock, in ms
 * since the epoch) and named leases for work that one node at a time may do.
 */
export function cluster(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('cluster_nodes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('address', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('heartbeat_ms', 'bigint', (c) => c.notNull())
        // JSON: the node's EKM entries [{id, model, healthStatus}].
        .addColumn('ekm', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('cluster_leases')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('expires_ms', 'bigint', (c) => c.notNull())
        .addColumn('fence', 'bigint', (c) => c.notNull())
        .execute();
    },
  };
}
