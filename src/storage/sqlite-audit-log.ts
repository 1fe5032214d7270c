import type { KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { KeyholdError } from '../base/index.js';
import { AUDIT_ROOT_CHAIN } from '../crypto/index.js';
import { AUDIT_KEY_META } from '../domain/audit-key.js';
import type { AuditEntry, AuditRecord } from '../domain/audit-model.js';
import type { AuditKeyRepo, AuditMaintenance, AuditReader, StoredAuditAnchor, StoredAuditHead } from '../domain/audit-ports.js';
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
import { createSqliteAuditAppender, openAuditConnection, sqliteArchive, sqliteInitKey, sqliteReplaceUsage, sqliteStartChain } from './sqlite-audit-append.js';
import type { AuditWorkerReply, AuditWorkerRequest } from './sqlite-audit-worker.js';

export type SqliteAuditLog = AuditStore;

interface AnchorDbRow {
  chain: string;
  seq: number;
  mac: Buffer;
  at: string;
  usage: string;
  anchor_mac: Buffer;
}

const toAnchor = (a: AnchorDbRow): StoredAuditAnchor => ({ chain: a.chain, seq: a.seq, mac: a.mac, at: a.at, usage: a.usage, anchorMac: a.anchor_mac });

const CHAINS_SQL = 'SELECT chain FROM audit_head UNION SELECT chain FROM audit_anchor UNION SELECT DISTINCT chain FROM audit_log ORDER BY chain';

/**
 * The audit log in the SQLite database (tables from migrations 0002 and 0005; the storage
 * must have been opened, and so migrated, first). It uses its own connections: one here for
 * reads, the key and maintenance, one on the writer thread, and a short-lived one per
 * verification snapshot.
 */
export function openSqliteAuditLog(opts: { path: string }): SqliteAuditLog {
  const db = openAuditConnection(opts.path);
  const sinks = new Set<AuditStoreSink>();

  const getKey = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE name = ?');
  const usage = db.prepare<[string], AuditUsageDbRow>('SELECT * FROM audit_key_usage WHERE key_id = ?');
  const seqBefore = db.prepare<[string, string], { seq: number }>('SELECT seq FROM audit_log INDEXED BY audit_log_at WHERE chain = ? AND at < ? ORDER BY at DESC LIMIT 1');
  const seqFrom = db.prepare<[string, string], { seq: number }>('SELECT seq FROM audit_log INDEXED BY audit_log_at WHERE chain = ? AND at >= ? ORDER BY at LIMIT 1');
  const rowsStmt = db.prepare<[string, number, number, number], AuditLogRow>(`SELECT ${AUDIT_ROW_COLUMNS} FROM audit_log WHERE chain = ? AND seq > ? AND seq < ? ORDER BY seq LIMIT ?`);
  const chainsStmt = db.prepare<[], { chain: string }>(CHAINS_SQL);
  const anchorStmt = db.prepare<[string], AnchorDbRow>('SELECT * FROM audit_anchor WHERE chain = ?');

  const keys: AuditKeyRepo = {
    async getSealedAuditKey() {
      const r = getKey.get(AUDIT_KEY_META);
      return r ? Buffer.from(r.value, 'base64') : undefined;
    },
    async initSealedAuditKey(candidate, start) {
      sqliteInitKey(db, AUDIT_KEY_META, candidate, start.key, start.genesis);
      return Buffer.from(getKey.get(AUDIT_KEY_META)!.value, 'base64');
    },
  };

  const maintenance: AuditMaintenance = {
    async startChain(key, start) {
      return sqliteStartChain(db, key, start);
    },
    async replaceUsage(key, chain, rows, atSeq) {
      return sqliteReplaceUsage(db, key, chain, rows, atSeq);
    },
    async archive(cut) {
      return sqliteArchive(db, cut);
    },
  };

  const reader: AuditReader = {
    async snapshot(fn) {
      // A connection of its own: the read transaction spans awaits, and nothing else may
      // use the connection meanwhile.
      const snap = openAuditConnection(opts.path, { readonly: true });
      try {
        const headStmt = snap.prepare<[string], { chain: string; seq: number; mac: Buffer; head_mac: Buffer }>('SELECT chain, seq, mac, head_mac FROM audit_head WHERE chain = ?');
        const snapRows = snap.prepare<[string, number, number], AuditLogRow>(`SELECT ${AUDIT_ROW_COLUMNS} FROM audit_log WHERE chain = ? AND seq > ? ORDER BY seq LIMIT ?`);
        const snapChains = snap.prepare<[], { chain: string }>(CHAINS_SQL);
        const snapAnchor = snap.prepare<[string], AnchorDbRow>('SELECT * FROM audit_anchor WHERE chain = ?');
        const snapUsage = snap.prepare<[string], AuditUsageDbRow>('SELECT * FROM audit_key_usage WHERE chain = ?');
        snap.exec('BEGIN');
        try {
          return await fn({
            async chains() {
              return snapChains.all().map((r) => r.chain);
            },
            async head(chain): Promise<StoredAuditHead | undefined> {
              const h = headStmt.get(chain);
              return h && { chain: h.chain, seq: h.seq, mac: h.mac, headMac: h.head_mac };
            },
            async anchor(chain) {
              const a = snapAnchor.get(chain);
              return a && toAnchor(a);
            },
            async rows(chain, afterSeq, limit) {
              const rows = snapRows.all(chain, afterSeq, limit).map(toStoredAuditRow);
              // Yield between pages so a long verification does not monopolise the event loop.
              await new Promise((r) => setImmediate(r));
              return rows;
            },
            async usage(chain) {
              return snapUsage.all(chain).map(toKeyUsageRow);
            },
          });
        } finally {
          snap.exec('COMMIT');
        }
      } finally {
        snap.close();
      }
    },

    async chains() {
      return chainsStmt.all().map((r) => r.chain);
    },

    async anchor(chain) {
      const a = anchorStmt.get(chain);
      return a && toAnchor(a);
    },

    async seqRange(chain, since, until) {
      const lo = since ? (seqBefore.get(chain, shiftIso(since, -AUDIT_TIME_SLACK_MS))?.seq ?? 0) : 0;
      const hi = until ? (seqFrom.get(chain, shiftIso(until, AUDIT_TIME_SLACK_MS))?.seq ?? Number.MAX_SAFE_INTEGER) : Number.MAX_SAFE_INTEGER;
      return { lo, hi };
    },

    async rows(chain, afterSeq, beforeSeq, limit) {
      const rows = rowsStmt.all(chain, afterSeq, beforeSeq, limit).map(toStoredAuditRow);
      await new Promise((r) => setImmediate(r));
      return rows;
    },

    async usage(keyId) {
      return usage.all(keyId).map(toKeyUsageRow);
    },

    async chainsWithUnprotectedUsage() {
      return db.prepare<[], { chain: string }>('SELECT DISTINCT chain FROM audit_key_usage WHERE mac IS NULL').all().map((r) => r.chain);
    },
  };

  function inlineCommit(key: KeyObject, chain: string): (batch: AuditRecord[]) => Promise<AuditEntry[]> {
    const append = createSqliteAuditAppender(db, key, chain);
    return async (batch) => {
      const r = append(prepareAuditBatch(batch));
      return entriesOf(batch, { firstSeq: r.firstSeq, prev: r.prev, macs: Buffer.concat(r.macs) }, chain);
    };
  }

  function threadCommit(key: KeyObject, chain: string): { commit: (batch: AuditRecord[]) => Promise<AuditEntry[]>; close(): Promise<void> } {
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
      const w = new Worker(new URL('./sqlite-audit-worker.js', import.meta.url), { workerData: { path: opts.path, key: raw, chain }, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
      raw.fill(0);
      w.on('message', (r: AuditWorkerReply) => {
        const p = pending.get(r.id);
        if (!p) return;
        pending.delete(r.id);
        if (r.ok) p.resolve(entriesOf(p.batch, r, chain));
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
    maintenance,
    openSink(o: AuditSinkOptions) {
      const chain = o.chain ?? AUDIT_ROOT_CHAIN;
      const thread = o.mode === 'thread' ? threadCommit(o.key, chain) : undefined;
      return groupCommitSink(thread ? thread.commit : inlineCommit(o.key, chain), o, sinks, thread?.close);
    },
    async close() {
      for (const s of [...sinks]) await s.close();
      db.close();
    },
  };
}

