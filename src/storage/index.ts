export { openSqliteStorage, type SqliteOptions } from './sqlite.js';
export { createKyselyStorage, migrate, type DialectParts } from './kysely-storage.js';
export type { Database } from './schema.js';
export { openSqliteAuditLog, type SqliteAuditLog } from './sqlite-audit-log.js';
export type { AuditStore, AuditStoreSink, AuditSinkOptions } from './audit-batch.js';
export { createGroupCommitter, type GroupCommitter } from './audit-group-commit.js';
// PostgreSQL: import './postgres.js' and './postgres-audit-log.js' directly (loaded only when configured).
export * from './run-lock.js';
export * from './lease-holder.js';
