import type { Migration, MigrationProvider } from 'kysely';
import { initial } from './migrations/0001-initial.js';
import { audit } from './migrations/0002-audit.js';
import { admin } from './migrations/0003-admin.js';
import { quota } from './migrations/0004-quota.js';
import { aws } from './migrations/0007-aws.js';

/**
 * One migration set for every SQL dialect Keyhold supports. Types are kept to the common
 * subset (text, integer, blob/bytea) so SQLite and PostgreSQL share it. One file per
 * migration in migrations/, registered here in order; never edit a released migration.
 */
export function migrationProvider(binaryType: 'blob' | 'bytea'): MigrationProvider {
  const migrations: Record<string, Migration> = {
    '0001_initial': initial(binaryType),
    '0002_audit': audit(binaryType),
    '0003_admin': admin(binaryType),
    '0004_quota': quota(),
    '0007_aws': aws(binaryType),
  };
  return { getMigrations: async () => migrations };
}
