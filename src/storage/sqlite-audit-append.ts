import type { KeyObject } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { AUDIT_ROOT_CHAIN } from '../crypto/index.js';
import type { AuditRecord, KeyUsageRow } from '../domain/audit-model.js';
import type { ArchiveCut, ChainStart } from '../domain/audit-ports.js';
import {
  chainBatch,
  mergedUsageRow,
  prepareAuditBatch,
  tailOf,
  usageDbRow,
  usageParams,
  USAGE_COLUMNS,
  wipedChainError,
  type AuditUsageDbRow,
  type PreparedBatch,
  type Tail,
} from './audit-batch.js';

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

/** The statements of audit writes on one connection, for use inside a transaction. */
function auditStatements(db: BetterSqlite3.Database) {
  const s = {
    head: db.prepare<[string], Tail>('SELECT seq, mac FROM audit_head WHERE chain = ?'),
    last: db.prepare<[string], Tail>('SELECT seq, mac FROM audit_log WHERE chain = ? ORDER BY seq DESC LIMIT 1'),
    anchor: db.prepare<[string], Tail>('SELECT seq, mac FROM audit_anchor WHERE chain = ?'),
    insert: db.prepare('INSERT INTO audit_log (chain, seq, at, body, prev, mac) VALUES (?, ?, ?, ?, ?, ?)'),
    setHead: db.prepare(
      'INSERT INTO audit_head (chain, seq, mac, head_mac) VALUES (?, ?, ?, ?) ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, mac = excluded.mac, head_mac = excluded.head_mac',
    ),
    getUsage: db.prepare<unknown[], { count: number; first_at: string; last_at: string }>(
      'SELECT count, first_at, last_at FROM audit_key_usage WHERE key_id = ? AND keystore = ? AND kms_key_arn = ? AND principal = ? AND operation = ? AND kms_operation = ? AND outcome = ? AND chain = ?',
    ),
    putUsage: db.prepare(
      `INSERT INTO audit_key_usage (${USAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key_id, keystore, kms_key_arn, principal, operation, kms_operation, outcome, chain)
       DO UPDATE SET count = excluded.count, first_at = excluded.first_at, last_at = excluded.last_at, mac = excluded.mac`,
    ),
  };
  return s;
}

type Statements = ReturnType<typeof auditStatements>;

/** Appends inside an open transaction. No tail: only a chain start may write (genesis). */
function appendTx(s: Statements, key: KeyObject, chain: string, batch: PreparedBatch, genesis = false): AppendResult {
  const tail = tailOf(s.head.get(chain), s.last.get(chain)) ?? s.anchor.get(chain);
  if (!tail && !genesis) throw wipedChainError(chain);
  const chained = chainBatch(key, chain, tail, batch.bodies);
  let prev = chained.prev;
  for (let i = 0; i < batch.bodies.length; i++) {
    const mac = chained.macs[i]!;
    s.insert.run(chain, chained.firstSeq + i, batch.ats[i], batch.bodies[i], prev, mac);
    prev = mac;
  }
  for (const d of batch.usage) {
    const k = d.key;
    const old = s.getUsage.get(k.keyId, k.keyStore, k.kmsKeyArn, k.principal, k.operation, k.kmsOperation, k.outcome, chain);
    s.putUsage.run(...usageParams(mergedUsageRow(key, chain, old, d)));
  }
  s.setHead.run(chain, chained.last.seq, chained.last.mac, chained.headMac);
  return { firstSeq: chained.firstSeq, prev: chained.prev, macs: chained.macs };
}

function inImmediate<T>(db: BetterSqlite3.Database, fn: () => T): T {
  db.prepare('BEGIN IMMEDIATE').run();
  try {
    const r = fn();
    db.prepare('COMMIT').run();
    return r;
  } catch (e) {
    if (db.inTransaction) db.prepare('ROLLBACK').run();
    throw e;
  }
}

/**
 * Appends a batch of records (prepared by prepareAuditBatch) to one chain in one
 * transaction. BEGIN IMMEDIATE takes the write lock before the tail is read, so appenders in
 * other processes (the CLI, other workers) queue behind it and every process continues the
 * chain from the real tail. The tail is the head row (one primary-key lookup, however long
 * the log); the last row is read too, and the larger seq wins, so a damaged head never stops
 * the log (verify reports the damage). A chain with neither (and no archive anchor) was
 * wiped: the append fails rather than starting a new chain over it. The chain's key usage
 * rows are updated (with their MACs) in the same transaction.
 */
export function createSqliteAuditAppender(db: BetterSqlite3.Database, key: KeyObject, chain: string = AUDIT_ROOT_CHAIN): (batch: PreparedBatch) => AppendResult {
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const s = auditStatements(db);
  return (batch) => {
    begin.run();
    try {
      const r = appendTx(s, key, chain, batch);
      commit.run();
      return r;
    } catch (e) {
      if (db.inTransaction) rollback.run();
      throw e;
    }
  };
}

/** True when the chain has records, a head or an anchor. */
function chainExists(s: Statements, chain: string): boolean {
  return s.head.get(chain) !== undefined || s.last.get(chain) !== undefined || s.anchor.get(chain) !== undefined;
}

/** Whether the root chain announced `chain` (an audit.chain.start record naming it). */
function announced(db: BetterSqlite3.Database, chain: string): boolean {
  const rows = db
    .prepare<[string, string], { body: string }>('SELECT body FROM audit_log WHERE chain = ? AND body LIKE ?')
    .all(AUDIT_ROOT_CHAIN, `%"action":"audit.chain.start"%`);
  return rows.some((r) => (JSON.parse(r.body) as { target?: string }).target === chain);
}

/** Writes the key and the root chain's first record together (see AuditKeyRepo). */
export function sqliteInitKey(db: BetterSqlite3.Database, name: string, candidate: Buffer, key: KeyObject, genesis: AuditRecord): void {
  const s = auditStatements(db);
  inImmediate(db, () => {
    const r = db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING').run(name, candidate.toString('base64'));
    if (r.changes === 1 && !chainExists(s, AUDIT_ROOT_CHAIN)) appendTx(s, key, AUDIT_ROOT_CHAIN, prepareAuditBatch([genesis]), true);
  });
}

export function sqliteStartChain(db: BetterSqlite3.Database, key: KeyObject, start: ChainStart): 'started' | 'exists' {
  const s = auditStatements(db);
  return inImmediate(db, () => {
    if (chainExists(s, start.chain)) return 'exists';
    if (start.chain === AUDIT_ROOT_CHAIN || announced(db, start.chain)) throw wipedChainError(start.chain);
    if (start.announce) appendTx(s, key, AUDIT_ROOT_CHAIN, prepareAuditBatch([start.announce]));
    appendTx(s, key, start.chain, prepareAuditBatch([start.genesis]), true);
    return 'started';
  });
}

export function sqliteReplaceUsage(db: BetterSqlite3.Database, key: KeyObject, chain: string, rows: readonly KeyUsageRow[], atSeq: number): boolean {
  const s = auditStatements(db);
  return inImmediate(db, () => {
    const tail = tailOf(s.head.get(chain), s.last.get(chain)) ?? s.anchor.get(chain);
    if ((tail?.seq ?? 0) !== atSeq) return false;
    db.prepare('DELETE FROM audit_key_usage WHERE chain = ?').run(chain);
    for (const u of rows) s.putUsage.run(...usageParams(usageDbRow(key, chain, u)));
    return true;
  });
}

export function sqliteArchive(db: BetterSqlite3.Database, cut: ArchiveCut): number {
  return inImmediate(db, () => {
    const a = cut.anchor;
    const at = db.prepare<[string, number], { mac: Buffer }>('SELECT mac FROM audit_log WHERE chain = ? AND seq = ?').get(cut.chain, a.seq);
    if (!at || !at.mac.equals(a.mac)) throw new Error(`record ${a.seq} of chain '${cut.chain}' changed while archiving`);
    db.prepare(
      'INSERT INTO audit_anchor (chain, seq, mac, at, usage, anchor_mac) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, mac = excluded.mac, at = excluded.at, usage = excluded.usage, anchor_mac = excluded.anchor_mac',
    ).run(cut.chain, a.seq, a.mac, a.at, a.usage, a.anchorMac);
    return db.prepare('DELETE FROM audit_log WHERE chain = ? AND seq <= ?').run(cut.chain, a.seq).changes;
  });
}

export type { AuditUsageDbRow };
