/**
 * Ports of the audit log. storage/ implements the sink (durable, hash-chained appends with
 * group commit) and the reader; audit/ implements forwarders (syslog).
 */
import type { AuditEntry, AuditIndexColumns, AuditRecord, KeyUsageRow } from './audit-model.js';

/** Appends records to the chain. Resolves only once they are durable (committed). */
export interface AuditSink {
  append(records: readonly AuditRecord[]): Promise<AuditEntry[]>;
  /** Waits for queued appends, then releases resources. */
  close(): Promise<void>;
}

/** A stored row as it is, unparsed, for verification and export. */
export interface StoredAuditRow {
  seq: number;
  prev: Buffer;
  mac: Buffer;
  /** The canonical JSON the MAC covers, exactly as stored. */
  body: string;
  columns: AuditIndexColumns;
}

export interface StoredAuditHead {
  seq: number;
  mac: Buffer;
  headMac: Buffer;
}

export interface AuditQuery {
  /** Inclusive lower bound on the record time (ISO-8601). */
  since?: string | undefined;
  /** Exclusive upper bound on the record time (ISO-8601). */
  until?: string | undefined;
  keyId?: string | undefined;
  keyStore?: string | undefined;
}

/** A consistent view of the whole log (a read transaction), for verification. */
export interface AuditSnapshot {
  head(): Promise<StoredAuditHead | undefined>;
  /** Rows with seq > afterSeq in seq order, at most `limit`. */
  rows(afterSeq: number, limit: number): Promise<StoredAuditRow[]>;
}

export interface AuditReader {
  snapshot<T>(fn: (s: AuditSnapshot) => Promise<T>): Promise<T>;
  /** Rows matching the query with seq > afterSeq, in seq order, at most `limit`. */
  query(q: AuditQuery, afterSeq: number, limit: number): Promise<StoredAuditRow[]>;
  usage(keyId: string): Promise<KeyUsageRow[]>;
}

/** Where the audit key lives, sealed (meta 'audit.key'). */
export interface AuditKeyRepo {
  getSealedAuditKey(): Promise<Buffer | undefined>;
  /** Stores the candidate unless a key exists already; returns whichever key is stored. */
  initSealedAuditKey(candidate: Buffer): Promise<Buffer>;
}

/** A copy of committed records sent elsewhere (syslog). Best effort: never blocks, never throws. */
export interface AuditForwarder {
  forward(entries: readonly AuditEntry[]): void;
  close(): Promise<void>;
}
