import type { Kysely, Migration } from 'kysely';

/** Per key store request-rate quota: JSON {"rps":N,"burst":M}, or null for none. */
export function quota(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('keystores').addColumn('quota', 'text').execute();
    },
  };
}
