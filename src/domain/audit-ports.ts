/**
 * Ports of the audit log. storage/ implements the sink (durable, hash-chained appends with
 * group commit) and the reader; audit/ implements forwarders (syslog).
 */
import type { KeyObject } from 'node:crypto';
import type { AuditEntry, AuditRecord, KeyUsageRow } from './audit-model.js';

/** Appends records to the chain. Resolves only once they are durable (committed). */
export interface AuditSink {
  append(records: readonly AuditRecord[]): Promise<AuditEntry[]>;
  /** Waits for queued appends, then releases resources. */
  close(): Promise<void>;
}

/** A stored row as it is, unparsed, for verification and export. */
export interface StoredAuditRow {
  chain: string;
  seq: number;
  prev: Buffer;
  mac: Buffer;
  /** The canonical JSON the MAC covers, exactly as stored. */
  body: string;
  /** The at column (a copy of the record's time, for time-bounded reads; verify checks it). */
  at: string;
}

export interface StoredAuditHead {
  chain: string;
  seq: number;
  mac: Buffer;
  headMac: Buffer;
}

/** Where a chain continues after its beginning was archived (see crypto auditAnchorMac). */
export interface StoredAuditAnchor {
  chain: string;
  /** Records 1..seq were archived; the first record left has seq + 1 and prev = mac. */
  seq: number;
  mac: Buffer;
  at: string;
  /** Canonical JSON: the usage rows the archived records added (KeyUsageRow[]). */
  usage: string;
  anchorMac: Buffer;
}

/** A row of the usage aggregate as stored: per chain, with its MAC (null: not yet rebuilt). */
export interface StoredUsageRow extends KeyUsageRow {
  chain: string;
  mac: Buffer | null;
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
  /** Every chain with a head, an anchor or records, sorted. */
  chains(): Promise<string[]>;
  head(chain: string): Promise<StoredAuditHead | undefined>;
  anchor(chain: string): Promise<StoredAuditAnchor | undefined>;
  /** Rows of the chain with seq > afterSeq in seq order, at most `limit`. */
  rows(chain: string, afterSeq: number, limit: number): Promise<StoredAuditRow[]>;
  usage(chain: string): Promise<StoredUsageRow[]>;
}

export interface AuditReader {
  snapshot<T>(fn: (s: AuditSnapshot) => Promise<T>): Promise<T>;
  chains(): Promise<string[]>;
  anchor(chain: string): Promise<StoredAuditAnchor | undefined>;
  /**
   * Bounds (both exclusive) of the seq range of `chain` that holds every record with
   * since <= time < until (found on the at index, widened by the allowed clock slack).
   */
  seqRange(chain: string, since: string | undefined, until: string | undefined): Promise<{ lo: number; hi: number }>;
  /** Rows of the chain with afterSeq < seq < beforeSeq, in seq order, at most `limit`. */
  rows(chain: string, afterSeq: number, beforeSeq: number, limit: number): Promise<StoredAuditRow[]>;
  usage(keyId: string): Promise<StoredUsageRow[]>;
  /** Chains with usage rows that have no MAC (copied by migration 0005, before rows were MAC'd). */
  chainsWithUnprotectedUsage(): Promise<string[]>;
}

/** A record that starts a chain, and the root chain's announcement of it. */
export interface ChainStart {
  chain: string;
  genesis: AuditRecord;
  /** Appended to the root chain in the same transaction (absent for the root chain itself). */
  announce?: AuditRecord | undefined;
}

/** What the archive removes and the anchor it leaves (MAC computed by the caller). */
export interface ArchiveCut {
  chain: string;
  anchor: StoredAuditAnchor;
}

export interface AuditMaintenance {
  /**
   * Starts a chain unless it has records, a head or an anchor ('exists'). Refuses (throws,
   * tampering suspected) when the root chain already announced it: its records were deleted.
   */
  startChain(key: KeyObject, start: ChainStart): Promise<'started' | 'exists'>;
  /** Replaces the chain's usage rows, unless the chain moved past seq meanwhile (false). */
  replaceUsage(key: KeyObject, chain: string, rows: readonly KeyUsageRow[], atSeq: number): Promise<boolean>;
  /**
   * Writes the anchor and deletes the chain's records up to anchor.seq, in one
   * transaction, if the record at anchor.seq still has anchor.mac. Returns the rows removed.
   */
  archive(cut: ArchiveCut): Promise<number>;
}

/** Where the audit key lives, sealed (meta 'audit.key'). */
export interface AuditKeyRepo {
  getSealedAuditKey(): Promise<Buffer | undefined>;
  /**
   * Stores the candidate unless a key exists already, and returns whichever key is stored.
   * When the candidate is stored, the root chain's first record (`start`) is written in the
   * same transaction: a data directory that has an audit key has a started log.
   */
  initSealedAuditKey(candidate: Buffer, start: { key: KeyObject; genesis: AuditRecord }): Promise<Buffer>;
}

/** A copy of committed records sent elsewhere (syslog). Best effort: never blocks, never throws. */
export interface AuditForwarder {
  forward(entries: readonly AuditEntry[]): void;
  close(): Promise<void>;
}
