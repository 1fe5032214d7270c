import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { openSqliteAuditLog, openSqliteStorage } from '../src/storage/index.js';
import { auditStoreConformance } from './audit-store-conformance.js';

let dir: string;
let n = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'keyhold-audit-sqlite-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The audit store suite on SQLite, committing on the writer thread as the server does. */
auditStoreConformance('sqlite', async () => {
  const path = join(dir, `log-${n++}.db`);
  const storage = await openSqliteStorage({ path });
  return {
    sinkMode: 'thread',
    openStore: () => openSqliteAuditLog({ path }),
    async sql(text) {
      const db = new BetterSqlite3(path);
      // Someone editing the file drops the append-only triggers first.
      db.exec('DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete;');
      db.exec(text);
      db.close();
    },
    dispose: () => storage.close(),
  };
});
