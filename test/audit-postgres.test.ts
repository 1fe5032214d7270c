import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openPostgresStorage } from '../src/storage/postgres.js';
import { openPostgresAuditLog } from '../src/storage/postgres-audit-log.js';
import { auditStoreConformance } from './audit-store-conformance.js';
import { startKeyhold } from './support/keyhold-harness.js';
import { startPostgres, type ThrowawayPostgres } from './support/postgres.js';
import { demoXksClient } from './support/xks-client.js';

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

test('a server on PostgreSQL records its XKS calls and CLI actions in one verifiable chain', async () => {
  const url = await server.createDatabase('audit_server');
  const h = await startKeyhold({ env: { KEYHOLD_STORAGE_TYPE: 'postgres', KEYHOLD_STORAGE_URL: url } });
  try {
    const c = demoXksClient(h);
    for (let i = 0; i < 20; i++) assert.equal((await c.encrypt('demo-key', { plaintext: Buffer.from(`pg ${i}`), md: { kmsRequestId: `pg-${i}` } })).status, 200);
    c.close();
    await h.json(['key', 'rotate', 'demo-key']);
    const v = await h.json<{ ok: boolean; count: number }>(['audit', 'verify']);
    assert.equal(v.ok, true);
    assert.ok(v.count >= 24, `init, demo key store and key, 20 calls and a rotation: ${v.count}`);
    const u = await h.json<{ calls: number }>(['key', 'usage', 'demo-key']);
    assert.equal(u.calls, 20);
    const out = await h.cli(['audit', 'export', '--key', 'demo-key']);
    assert.equal(out.code, 0, out.stderr);
    assert.ok(out.stdout.includes('"kmsRequestId":"pg-19"'));
    assert.ok(out.stdout.includes('"action":"keys.rotate"'));
  } finally {
    await h.dispose();
  }
});
