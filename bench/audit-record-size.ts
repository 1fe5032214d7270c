/**
 * Bytes per audit record on disk: the same realistic XKS records stored in the row layout
 * of migration 0002 (seq, at, kind, key_id, keystore, kms_request_id, body, prev, mac, with
 * an at index and a (key_id, seq) index) and in that of migration 0005 (chain, seq, at,
 * body, prev, mac, with an at index), each in a fresh SQLite file after a WAL checkpoint;
 * then the real writer (store, sink, usage rows) for the 0005 figure end to end.
 *
 *   npm run build && node dist/bench/audit-record-size.js [--records 200000]
 */
import { createSecretKey, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import { canonicalJson } from '../src/crypto/index.js';
import type { AuditRecord, XksAuditRecord } from '../src/domain/index.js';
import { openSqliteAuditLog, openSqliteStorage } from '../src/storage/index.js';

const { values } = parseArgs({ options: { records: { type: 'string', default: '200000' } } });
const N = Number(values.records);

function record(i: number): XksAuditRecord {
  return {
    kind: 'xks',
    time: new Date(Date.UTC(2026, 0, 1) + i).toISOString(),
    node: 'keyhold-1',
    operation: i % 3 ? 'encrypt' : 'decrypt',
    kmsRequestId: `3f1c6a2e-8d4b-4c1a-9e2f-${String(i).padStart(12, '0')}`,
    kmsOperation: i % 3 ? 'GenerateDataKey' : 'Decrypt',
    keyStore: 'payments',
    keyStoreId: '5f0c7a9e-1d2b-4c3d-9e8f-0a1b2c3d4e5f',
    keyId: `key-${i % 50}`,
    keyVersion: 1,
    authenticated: true,
    accessKeyId: 'AKIAXKSEXAMPLE000001',
    awsPrincipalArn: `arn:aws:iam::111122223333:role/App${i % 7}`,
    kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
    remoteAddress: '10.0.3.17',
    status: 200,
    outcome: 'ok',
    latencyMs: 0.412,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'keyhold-bench-size-'));
const size = (path: string) => statSync(path).size + (statSync(path + '-wal', { throwIfNoEntry: false })?.size ?? 0);

function layout(name: string, ddl: string[], insert: string, row: (i: number, body: string, mac: Buffer) => unknown[]): number {
  const path = join(dir, `${name}.db`);
  const db = new BetterSqlite3(path);
  db.pragma('journal_mode = WAL');
  for (const d of ddl) db.exec(d);
  const empty = size(path);
  const st = db.prepare(insert);
  const mac = randomBytes(32);
  db.transaction(() => {
    for (let i = 0; i < N; i++) st.run(...row(i, canonicalJson(record(i)), mac));
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  const bytes = (size(path) - empty) / N;
  db.close();
  return bytes;
}

try {
  const body = canonicalJson(record(1));
  console.log(`${N} records; canonical JSON body ${Buffer.byteLength(body)} bytes`);
  const old = layout(
    '0002',
    [
      'CREATE TABLE audit_log (seq integer PRIMARY KEY, at text NOT NULL, kind text NOT NULL, key_id text, keystore text, kms_request_id text, body text NOT NULL, prev blob NOT NULL, mac blob NOT NULL)',
      'CREATE INDEX audit_log_at ON audit_log (at)',
      'CREATE INDEX audit_log_key ON audit_log (key_id, seq)',
    ],
    'INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    (i, b, mac) => {
      const r = record(i);
      return [i + 1, r.time, 'xks', r.keyId, r.keyStore, r.kmsRequestId, b, mac, mac];
    },
  );
  const now = layout(
    '0005',
    [
      'CREATE TABLE audit_log (chain text NOT NULL, seq integer NOT NULL, at text NOT NULL, body text NOT NULL, prev blob NOT NULL, mac blob NOT NULL, PRIMARY KEY (chain, seq))',
      'CREATE INDEX audit_log_at ON audit_log (at)',
    ],
    'INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?)',
    (i, b, mac) => ['main', i + 1, record(i).time, b, mac, mac],
  );
  console.log(`row layout of migration 0002: ${old.toFixed(0)} bytes/record`);
  console.log(`row layout of migration 0005: ${now.toFixed(0)} bytes/record (${((1 - now / old) * 100).toFixed(0)}% smaller)`);

  // End to end: the real store and sink (with the usage aggregate and its MACs).
  const path = join(dir, 'store.db');
  const storage = await openSqliteStorage({ path });
  const log = openSqliteAuditLog({ path });
  const key = createSecretKey(randomBytes(32));
  const genesis: AuditRecord = { kind: 'admin', time: new Date().toISOString(), node: 'bench', actor: 'keyhold', source: 'audit', action: 'audit.start', target: 'main', outcome: 'ok' };
  await log.keys.initSealedAuditKey(Buffer.from('bench'), { key, genesis });
  const before = size(path);
  const sink = log.openSink({ key, mode: 'inline', maxBatch: 10_000 });
  for (let i = 0; i < N; i += 1000) await sink.append(Array.from({ length: Math.min(1000, N - i) }, (_, j) => record(i + j)));
  await log.close();
  await storage.close();
  const db = new BetterSqlite3(path);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  console.log(`keyhold's writer (0005): ${((size(path) - before) / N).toFixed(0)} bytes/record, usage rows included`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
