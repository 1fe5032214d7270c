import type { KeyObject } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { chainBatch, tailOf, type PreparedBatch, type Tail } from './audit-batch.js';

/** Opens a connection for audit work: WAL (set by the storage), every commit synced. */
export function openAuditConnection(path: string, opts: { readonly?: boolean } = {}): BetterSqlite3.Database {
  const db = new BetterSqlite3(path, { readonly: opts.readonly ?? false, fileMustExist: true });
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 10000');
  // 4 MiB: the pages appends touch (the table's and the indexes' right edges, one key-index
  // leaf per active key) for a few hundred active keys. Pages written stay cached until the
  // limit, so a long-running writer holds all of it; 16 MiB measured the same CPU per request
  // with 100,000 keys (requests over 10,000 of them: 189-196 vs 196-203 us at 10 connections).
  db.pragma('cache_size = -4096');
  return db;
}

export interface AppendResult {
  firstSeq: number;
  /** The prev of the first record; each record's prev is the mac before it. */
  prev: Buffer;
  macs: Buffer[];
}

/**
 * Appends a batch of records (prepared by prepareAuditBatch) in one transaction. BEGIN
 * IMMEDIATE takes the write lock before the tail is read, so appenders in other processes
 * (the CLI, other workers) queue behind it and every process continues the chain from the
 * real tail. The tail is the head row (one primary-key lookup, however long the log); the
 * last row is read too, and the larger seq wins, so a damaged head never stops the log
 * (verify reports the damage). The key usage aggregate is updated in the same transaction.
 */
export function createSqliteAuditAppender(db: BetterSqlite3.Database, key: KeyObject): (batch: PreparedBatch) => AppendResult {
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const head = db.prepare<[], Tail>('SELECT seq, mac FROM audit_head WHERE id = 1');
  const last = db.prepare<[], Tail>('SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1');
  const insert = db.prepare('INSERT INTO audit_log (seq, at, kind, key_id, keystore, kms_request_id, body, prev, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const setHead = db.prepare(
    'INSERT INTO audit_head (id, seq, mac, head_mac) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac, head_mac = excluded.head_mac',
  );
  const addUsage = db.prepare(
    `INSERT INTO audit_key_usage (key_id, keystore, kms_key_arn, principal, operation, kms_operation, outcome, count, first_at, last_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (key_id, keystore, kms_key_arn, principal, operation, kms_operation, outcome)
     DO UPDATE SET count = count + excluded.count, first_at = min(first_at, excluded.first_at), last_at = max(last_at, excluded.last_at)`,
  );

  return (batch) => {
    begin.run();
    try {
      const chained = chainBatch(key, tailOf(head.get(), last.get()), batch.bodies);
      let prev = chained.prev;
      for (let i = 0; i < batch.bodies.length; i++) {
        const c = batch.columns[i]!;
        const mac = chained.macs[i]!;
        insert.run(chained.firstSeq + i, c.at, c.kind, c.keyId, c.keyStore, c.kmsRequestId, batch.bodies[i], prev, mac);
        prev = mac;
      }
      for (const d of batch.usage) {
        const k = d.key;
        addUsage.run(k.keyId, k.keyStore, k.kmsKeyArn, k.principal, k.operation, k.kmsOperation, k.outcome, d.count, d.firstAt, d.lastAt);
      }
      setHead.run(chained.last.seq, chained.last.mac, chained.headMac);
      commit.run();
      return { firstSeq: chained.firstSeq, prev: chained.prev, macs: chained.macs };
    } catch (e) {
      if (db.inTransaction) rollback.run();
      throw e;
    }
  };
}
