import type { KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import { KeyholdError } from '../base/index.js';
import { AUDIT_KEY_META } from '../domain/audit-key.js';
import type { AuditEntry, AuditRecord } from '../domain/audit-model.js';
import type { AuditKeyRepo, AuditQuery, AuditReader, StoredAuditHead } from '../domain/audit-ports.js';
import {
  AUDIT_ROW_COLUMNS,
  AUDIT_TIME_SLACK_MS,
  entriesOf,
  groupCommitSink,
  prepareAuditBatch,
  shiftIso,
  toKeyUsageRow,
  toStoredAuditRow,
  type AuditLogRow,
  type AuditSinkOptions,
  type AuditStore,
  type AuditStoreSink,
  type AuditUsageDbRow,
} from './audit-batch.js';
import { createSqliteAuditAppender, openAuditConnection } from './sqlite-audit-append.js';
import type { AuditWorkerReply, AuditWorkerRequest } from './sqlite-audit-worker.js';

export type SqliteAuditLog = AuditStore;


/**
 * The audit log in the SQLite database (tables from migration 0002; the storage must have
 * been opened, and so migrated, first). It uses its own connections: one here for reads
 * and the key, one on the writer thread, and a short-lived one per verification snapshot.
 */
export function openSqliteAuditLog(opts: { path: string }): SqliteAuditLog {
  const db = openAuditConnection(opts.path);
  const sinks = new Set<AuditStoreSink>();

  const getKey = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE name = ?');
  const initKey = db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING');
  const usage = db.prepare<[string], AuditUsageDbRow>('SELECT * FROM audit_key_usage WHERE key_id = ?');
  const seqBefore = db.prepare<[string], { seq: number }>('SELECT seq FROM audit_log INDEXED BY audit_log_at WHERE at < ? ORDER BY at DESC LIMIT 1');
  const seqFrom = db.prepare<[string], { seq: number }>('SELECT seq FROM audit_log INDEXED BY audit_log_at WHERE at >= ? ORDER BY at LIMIT 1');
  const queries = new Map<string, BetterSqlite3.Statement<unknown[], AuditLogRow>>();

  const keys: AuditKeyRepo = {
    async getSealedAuditKey() {
      const r = getKey.get(AUDIT_KEY_META);
      return r ? Buffer.from(r.value, 'base64') : undefined;
    },
    async initSealedAuditKey(candidate) {
      initKey.run(AUDIT_KEY_META, candidate.toString('base64'));
      return Buffer.from(getKey.get(AUDIT_KEY_META)!.value, 'base64');
    },
  };

  /** The seq range that holds every record with since <= time < until (see TIME_SLACK_MS). */
  function seqRange(q: AuditQuery): { lo: number; hi: number } {
    const lo = q.since ? (seqBefore.get(shiftIso(q.since, -AUDIT_TIME_SLACK_MS))?.seq ?? 0) : 0;
    const hi = q.until ? (seqFrom.get(shiftIso(q.until, AUDIT_TIME_SLACK_MS))?.seq ?? Number.MAX_SAFE_INTEGER) : Number.MAX_SAFE_INTEGER;
    return { lo, hi };
  }

  function statement(q: AuditQuery): BetterSqlite3.Statement<unknown[], AuditLogRow> {
    // The key index when a key is named; otherwise walk the primary key in seq order.
    const where = ['seq > ?', 'seq < ?'];
    if (q.since) where.push('at >= ?');
    if (q.until) where.push('at < ?');
    if (q.keyId !== undefined) where.push('key_id = ?');
    if (q.keyStore !== undefined) where.push('keystore = ?');
    const from = q.keyId !== undefined ? 'audit_log INDEXED BY audit_log_key' : 'audit_log NOT INDEXED';
    const text = `SELECT ${AUDIT_ROW_COLUMNS} FROM ${from} WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`;
    let s = queries.get(text);
    if (!s) {
      s = db.prepare<unknown[], AuditLogRow>(text);
      queries.set(text, s);
    }
    return s;
  }

  const reader: AuditReader = {
    async snapshot(fn) {
      // A connection of its own: the read transaction spans awaits, and nothing else may
      // use the connection meanwhile.
      const snap = openAuditConnection(opts.path, { readonly: true });
      try {
        const headStmt = snap.prepare<[], { seq: number; mac: Buffer; head_mac: Buffer }>('SELECT seq, mac, head_mac FROM audit_head WHERE id = 1');
        const rowsStmt = snap.prepare<[number, number], AuditLogRow>(`SELECT ${AUDIT_ROW_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`);
        snap.exec('BEGIN');
        try {
          return await fn({
            async head(): Promise<StoredAuditHead | undefined> {
              const h = headStmt.get();
              return h && { seq: h.seq, mac: h.mac, headMac: h.head_mac };
            },
            async rows(afterSeq, limit) {
              const rows = rowsStmt.all(afterSeq, limit).map(toStoredAuditRow);
              // Yield between pages so a long verification does not monopolise the event loop.
              await new Promise((r) => setImmediate(r));
              return rows;
            },
          });
        } finally {
          snap.exec('COMMIT');
        }
      } finally {
        snap.close();
      }
    },

    async query(q, afterSeq, limit) {
      const { lo, hi } = seqRange(q);
      const params: unknown[] = [Math.max(afterSeq, lo), hi];
      if (q.since) params.push(q.since);
      if (q.until) params.push(q.until);
      if (q.keyId !== undefined) params.push(q.keyId);
      if (q.keyStore !== undefined) params.push(q.keyStore);
      params.push(limit);
      const rows = statement(q).all(...params).map(toStoredAuditRow);
      await new Promise((r) => setImmediate(r));
      return rows;
    },

    async usage(keyId) {
      return usage.all(keyId).map(toKeyUsageRow);
    },
  };

  function inlineCommit(key: KeyObject): (batch: AuditRecord[]) => Promise<AuditEntry[]> {
    const append = createSqliteAuditAppender(db, key);
    return async (batch) => {
      const r = append(prepareAuditBatch(batch));
      return entriesOf(batch, { firstSeq: r.firstSeq, prev: r.prev, macs: Buffer.concat(r.macs) });
    };
  }

  function threadCommit(key: KeyObject): { commit: (batch: AuditRecord[]) => Promise<AuditEntry[]>; close(): Promise<void> } {
    const pending = new Map<number, { batch: AuditRecord[]; resolve(e: AuditEntry[]): void; reject(e: unknown): void }>();
    let nextId = 1;
    let worker: Worker | undefined;
    let exited: Promise<void> = Promise.resolve();

    function failAll(e: Error): void {
      for (const p of pending.values()) p.reject(new KeyholdError('Internal', `audit writer: ${e.message}`, { cause: e }));
      pending.clear();
    }

    function spawn(): Worker {
      const raw = key.export();
      // A small young generation: the writer makes short-lived rows only, and V8's default
      // (up to 48 MiB per isolate) would show up as resident memory of the server.
      const w = new Worker(new URL('./sqlite-audit-worker.js', import.meta.url), { workerData: { path: opts.path, key: raw }, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
      raw.fill(0);
      w.on('message', (r: AuditWorkerReply) => {
        const p = pending.get(r.id);
        if (!p) return;
        pending.delete(r.id);
        if (r.ok) p.resolve(entriesOf(p.batch, r));
        else p.reject(new KeyholdError('Internal', `could not append to the audit log: ${r.message}`));
      });
      w.on('error', (e) => failAll(e));
      exited = new Promise((done) =>
        w.once('exit', (code) => {
          if (worker === w) worker = undefined;
          failAll(new Error(`the writer thread exited with code ${code}`));
          done();
        }),
      );
      return w;
    }

    worker = spawn();
    return {
      commit(batch) {
        return new Promise((resolve, reject) => {
          // Prepared here: canonical JSON text and the few index columns cross to the writer
          // thread much more cheaply than the records (structured clone, member by member).
          // A record that cannot be written rejects here, before anything is pending.
          const prepared = prepareAuditBatch(batch);
          const id = nextId++;
          pending.set(id, { batch, resolve, reject });
          worker ??= spawn();
          worker.postMessage({ type: 'append', id, batch: prepared } satisfies AuditWorkerRequest);
        });
      },
      async close() {
        if (worker) worker.postMessage({ type: 'close' } satisfies AuditWorkerRequest);
        await exited;
      },
    };
  }

  return {
    keys,
    reader,
    openSink(o: AuditSinkOptions) {
      const thread = o.mode === 'thread' ? threadCommit(o.key) : undefined;
      return groupCommitSink(thread ? thread.commit : inlineCommit(o.key), o, sinks, thread?.close);
    },
    async close() {
      for (const s of [...sinks]) await s.close();
      db.close();
    },
  };
}

