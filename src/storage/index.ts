export { openSqliteStorage, type SqliteOptions } from './sqlite.js';
export { createKyselyStorage, migrate, type DialectParts } from './kysely-storage.js';
export type { Database } from './schema.js';
export { openPostgresStorage, type PostgresOptions } from './postgres.js';
