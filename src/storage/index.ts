export { openSqliteStorage, type SqliteOptions } from './sqlite.js';
export { createKyselyStorage, migrate, type DialectParts } from './kysely-storage.js';
export type { Database } from './schema.js';
export { openSqliteAuditLog, type SqliteAuditLog, type SqliteAuditSink, type SqliteAuditSinkOptions } from './sqlite-audit-log.js';
export { createGroupCommitter, type GroupCommitter } from './audit-group-commit.js';
