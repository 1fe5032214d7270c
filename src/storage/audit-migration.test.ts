import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { systemClock } from '../base/index.js';
import { AUDIT_GENESIS_PREV, auditHeadMac, auditRecordMac, canonicalJson } from '../crypto/index.js';
import { createAuditService, openAuditChain, type XksAuditRecord } from '../domain/index.js';
import { migrationProvider } from './migrations.js';
import { openSqliteAuditLog } from './sqlite-audit-log.js';
import { openSqliteStorage } from './sqlite.js';

/**
 * A log written before migration 0005 (one chain, filter columns, usage rows without MACs)
 * is upgraded in place: its records verify as the root chain, its usage rows are rebuilt
 * from the verified records the first time the log is opened, and appends continue it.
 */
test('a log from before chains verifies after migration 0005, and its usage rows are rebuilt with MACs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keyhold-audit-mig-'));
  try {
    const path = join(dir, 'old.db');
    const raw = new BetterSqlite3(path);
    raw.pragma('journal_mode = WAL');
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: raw }) });
    const r = await new Migrator({ db, provider: migrationProvider('blob') }).migrateTo('0004_quota');
    assert.equal(r.error, undefined);
    // The old writer's rows, as it wrote them.
    const keyBytes = randomBytes(32);
    const key = createSecretKey(keyBytes);
    raw.prepare("INSERT INTO meta (name, value) VALUES ('audit.key', 'c2VhbGVk')").run();
    let prev: Buffer = AUDIT_GENESIS_PREV;
    const n = 12;
    for (let seq = 1; seq <= n; seq++) {
      const rec: XksAuditRecord = {
        kind: 'xks', time: `2025-05-01T00:00:${String(seq).padStart(2, '0')}.000Z`, node: 'old', operation: 'encrypt', kmsOperation: 'Encrypt', kmsRequestId: `m-${seq}`,
        keyStore: 'ks', keyId: 'k1', authenticated: true, awsPrincipalArn: 'arn:aws:iam::111122223333:role/App', kmsKeyArn: 'arn:k', status: 200, outcome: 'ok', latencyMs: 1,
      };
      const body = canonicalJson(rec);
      const mac = auditRecordMac(key, seq, prev, body);
      raw.prepare('INSERT INTO audit_log (seq, at, kind, key_id, keystore, kms_request_id, body, prev, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(seq, rec.time, 'xks', 'k1', 'ks', rec.kmsRequestId, body, prev, mac);
      prev = mac;
    }
    raw.prepare('INSERT INTO audit_head (id, seq, mac, head_mac) VALUES (1, ?, ?, ?)').run(n, prev, auditHeadMac(key, n, prev));
    raw
      .prepare("INSERT INTO audit_key_usage (key_id, keystore, kms_key_arn, principal, operation, kms_operation, outcome, count, first_at, last_at) VALUES ('k1', 'ks', 'arn:k', 'arn:aws:iam::111122223333:role/App', 'encrypt', 'Encrypt', 'ok', ?, ?, ?)")
      .run(n, '2025-05-01T00:00:01.000Z', `2025-05-01T00:00:${n}.000Z`);
    await db.destroy();

    const storage = await openSqliteStorage({ path }); // migrates to 0005
    const log = openSqliteAuditLog({ path });
    try {
      const svc = createAuditService({ sink: log.openSink({ key, mode: 'inline' }), reader: log.reader, key, node: 'new', clock: systemClock, maintenance: log.maintenance });
      const unprotected = await svc.verify();
      assert.equal(unprotected.problem?.kind, 'usage', 'before the first open, the copied usage rows have no MAC');
      assert.equal(await openAuditChain({ key, chain: 'main', node: 'new', clock: systemClock, maintenance: log.maintenance, reader: log.reader, rebuildUsage: (c) => svc.rebuildUsage(c) }), 'exists');
      const v = await svc.verify();
      assert.deepEqual({ ok: v.ok, count: v.count, chains: v.chains.map((c) => c.chain) }, { ok: true, count: n, chains: ['main'] });
      assert.equal((await svc.usage('k1')).calls, n);
      const e = await svc.admin({ actor: 'me', source: 'test', action: 'test.after-upgrade', target: 'x', outcome: 'ok' });
      assert.equal(e.seq, n + 1, 'appends continue the old chain');
      assert.equal((await svc.verify()).ok, true);
      const ids: string[] = [];
      for await (const x of svc.export({ keyId: 'k1' })) ids.push(x.kind === 'xks' ? x.kmsRequestId! : '');
      assert.equal(ids.length, n);
    } finally {
      await log.close();
      await storage.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
