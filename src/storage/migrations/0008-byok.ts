import type { Kysely, Migration } from 'kysely';

/**
 * Bring your own key: local keys say whether their material may leave Keyhold (set at
 * creation, never turned on later) and where it came from.
 */
export function byok(_binaryType: 'blob' | 'bytea'): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('keys').addColumn('exportable', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('keys').addColumn('origin', 'text', (c) => c.notNull().defaultTo('keyhold')).execute();
    },
  };
}
