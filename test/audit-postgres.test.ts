import { after, before } from 'node:test';
import pg from 'pg';
import { openPostgresAuditLog, openPostgresStorage } from '../src/storage/index.js';
import { auditStoreConformance } from './audit-store-conformance.js';
import { startPostgres, type ThrowawayPostgres } from './support/postgres.js';

let server: ThrowawayPostgres;
let n = 0;

before(async () => {
  server = await startPostgres();
});

after(async () => {
  await server?.stop();
});

/** The audit store suite on a real PostgreSQL server, a database per test. */
auditStoreConformance('postgres', async () => {
  const url = await server.createDatabase(`audit_${n++}`);
  const storage = await openPostgresStorage({ url, poolSize: 2 });
  return {
    openStore: () => openPostgresAuditLog({ url, poolSize: 3 }),
    async sql(text) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(text);
      } finally {
        await c.end();
      }
    },
    dispose: () => storage.close(),
  };
});
