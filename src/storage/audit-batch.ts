import type { KeyObject } from 'node:crypto';
import { KeyholdError } from '../base/index.js';
import { auditGenesisPrev, auditHeadMac, auditRecordMac, auditUsageMac, canonicalJson } from '../crypto/index.js';
import { usageKeyOf, type AuditEntry, type AuditRecord, type KeyUsageRow, type UsageKey } from '../domain/audit-model.js';
import type { AuditKeyRepo, AuditMaintenance, AuditReader, AuditSink, StoredAuditRow, StoredUsageRow } from '../domain/audit-ports.js';
import type { AuditTelemetry } from '../domain/telemetry.js';
import { createGroupCommitter } from './audit-group-commit.js';

/** What every audit store (SQLite, PostgreSQL) offers the composition root. */
export interface AuditStore {
  keys: AuditKeyRepo;
  reader: AuditReader;
  /** Chain starts, usage rebuilds and archives: each in one transaction under the chain's lock. */
  maintenance: AuditMaintenance;
  openSink(opts: AuditSinkOptions): AuditStoreSink;
  close(): Promise<void>;
}

export interface AuditSinkOptions {
  key: KeyObject;
  /** The chain this writer appends to (default: the root chain). It must have started. */
  chain?: string | undefined;
  /**
   * SQLite only. thread: commits run on a worker thread with its own connection, so fsync
   * never blocks the event loop (the server). inline: on this thread (the CLI, tests).
   */
  mode?: 'thread' | 'inline';
  /** Most records per transaction. */
  maxBatch?: number;
  /** How long an idle writer waits for more records before committing, in ms. */
  delayMs?: number;
  /** Queue depth and commit time, for the metrics. */
  telemetry?: AuditTelemetry | undefined;
}

export type AuditStoreSink = AuditSink & { stats(): { batches: number; items: number; largestBatch: number }; backlog(): number };

/**
 * A sink over a group committer (both stores): registered in `open` until closed, so the
 * store's close() can close what is still open; `onClose` runs after the last commit (the
 * SQLite writer thread stops there).
 */
export function groupCommitSink(
  commit: (batch: AuditRecord[]) => Promise<AuditEntry[]>,
  o: AuditSinkOptions,
  open: Set<AuditStoreSink>,
  onClose?: () => Promise<void>,
): AuditStoreSink {
  const committer = createGroupCommitter<AuditRecord, AuditEntry>({ commit, maxBatch: o.maxBatch ?? 1000, delayMs: o.delayMs ?? 0, telemetry: o.telemetry });
  const sink: AuditStoreSink = {
    append: (records) => committer.append(records),
    async close() {
      await committer.close();
      await onClose?.();
      open.delete(sink);
    },
    stats: () => committer.stats(),
    backlog: () => committer.backlog(),
  };
  open.add(sink);
  return sink;
}

export interface UsageDelta {
  key: UsageKey;
  count: number;
  firstAt: string;
  lastAt: string;
}

/** The part of an append that does not need the tail: done before the write lock is taken. */
export interface PreparedBatch {
  bodies: string[];
  /** Each record's time (the at column, for time-bounded reads). */
  ats: string[];
  usage: UsageDelta[];
}

export function prepareAuditBatch(records: readonly AuditRecord[]): PreparedBatch {
  const usage = new Map<string, UsageDelta>();
  for (const r of records) {
    const k = usageKeyOf(r);
    if (!k) continue;
    const id = `${k.keyId}\0${k.keyStore}\0${k.kmsKeyArn}\0${k.principal}\0${k.operation}\0${k.kmsOperation}\0${k.outcome}`;
    const d = usage.get(id);
    if (d) {
      d.count++;
      if (r.time < d.firstAt) d.firstAt = r.time;
      if (r.time > d.lastAt) d.lastAt = r.time;
    } else usage.set(id, { key: k, count: 1, firstAt: r.time, lastAt: r.time });
  }
  return { bodies: records.map((r) => canonicalJson(r)), ats: records.map((r) => r.time), usage: [...usage.values()] };
}

/** A usage row after adding `d` to `old` (if any), with its new MAC. */
export function mergedUsageRow(key: KeyObject, chain: string, old: { count: number; first_at: string; last_at: string } | undefined, d: UsageDelta): AuditUsageDbRow {
  const k = d.key;
  const count = (old?.count ?? 0) + d.count;
  const firstAt = old && old.first_at < d.firstAt ? old.first_at : d.firstAt;
  const lastAt = old && old.last_at > d.lastAt ? old.last_at : d.lastAt;
  const mac = auditUsageMac(key, { chain, ...k, count, firstAt, lastAt });
  return {
    key_id: k.keyId,
    keystore: k.keyStore,
    kms_key_arn: k.kmsKeyArn,
    principal: k.principal,
    operation: k.operation,
    kms_operation: k.kmsOperation,
    outcome: k.outcome,
    chain,
    count,
    first_at: firstAt,
    last_at: lastAt,
    mac,
  };
}

/** A full usage row (a rebuild) with its MAC. */
export function usageDbRow(key: KeyObject, chain: string, u: KeyUsageRow): AuditUsageDbRow {
  return mergedUsageRow(key, chain, undefined, { key: u, count: u.count, firstAt: u.firstAt, lastAt: u.lastAt });
}

export const USAGE_COLUMNS = 'key_id, keystore, kms_key_arn, principal, operation, kms_operation, outcome, chain, count, first_at, last_at, mac';
export const usageParams = (u: AuditUsageDbRow): unknown[] => [u.key_id, u.keystore, u.kms_key_arn, u.principal, u.operation, u.kms_operation, u.outcome, u.chain, u.count, u.first_at, u.last_at, u.mac];

/** Thrown by an appender that finds its chain without a head or records: never starts a second genesis. */
export function wipedChainError(chain: string): KeyholdError {
  return new KeyholdError(
    'Internal',
    `the audit chain '${chain}' has no records and no head although the audit log has started: its records were deleted (tampering suspected). Keyhold will not start a new chain over it; restore the database from a backup (see docs/operations.md)`,
  );
}

export interface Tail {
  seq: number;
  mac: Buffer;
}

export interface ChainedBatch {
  firstSeq: number;
  /** The prev of the first record. */
  prev: Buffer;
  macs: Buffer[];
  last: Tail;
  headMac: Buffer;
}

/**
 * Links bodies onto the tail (see crypto/audit-chain.ts). Runs inside the transaction. No
 * tail: the chain's first records (only a chain start or the key's creation does that).
 */
export function chainBatch(key: KeyObject, chain: string, tail: Tail | undefined, bodies: readonly string[]): ChainedBatch {
  let seq = tail?.seq ?? 0;
  let prev: Buffer = tail ? Buffer.from(tail.mac) : auditGenesisPrev(key, chain);
  const out = { firstSeq: seq + 1, prev, macs: [] as Buffer[] };
  for (const body of bodies) {
    seq++;
    prev = auditRecordMac(key, seq, prev, body);
    out.macs.push(prev);
  }
  return { ...out, last: { seq, mac: prev }, headMac: auditHeadMac(key, seq, prev, chain) };
}

/** The larger of the head row and the last row: a damaged head never stops the log. */
export function tailOf(head: Tail | undefined, last: Tail | undefined): Tail | undefined {
  return head && (!last || head.seq >= last.seq) ? head : last;
}

export function entriesOf(records: readonly AuditRecord[], r: { firstSeq: number; prev: Uint8Array; macs: Uint8Array }, chain: string): AuditEntry[] {
  const macs = Buffer.from(r.macs.buffer, r.macs.byteOffset, r.macs.byteLength);
  let prev = Buffer.from(r.prev.buffer, r.prev.byteOffset, r.prev.byteLength).toString('hex');
  return records.map((record, i) => {
    const mac = macs.subarray(i * 32, i * 32 + 32).toString('hex');
    const e: AuditEntry = { chain, seq: r.firstSeq + i, record, prev, mac };
    prev = mac;
    return e;
  });
}

/**
 * How far a record's time may lag behind the order of commits (request time to commit, and
 * clock differences between processes and nodes). Time-bounded exports scan the seq range
 * this much wider than the bounds instead of the whole log; rows are still filtered on
 * their exact time.
 */
export const AUDIT_TIME_SLACK_MS = 5 * 60_000;

export function shiftIso(iso: string, ms: number): string {
  return new Date(Date.parse(iso) + ms).toISOString();
}

/** An audit_log row as both databases return it (column names as in migration 0005). */
export interface AuditLogRow {
  chain: string;
  seq: number;
  at: string;
  body: string;
  prev: Buffer;
  mac: Buffer;
}

export const AUDIT_ROW_COLUMNS = 'chain, seq, at, body, prev, mac';

export const toStoredAuditRow = (r: AuditLogRow): StoredAuditRow => ({ chain: r.chain, seq: r.seq, prev: r.prev, mac: r.mac, body: r.body, at: r.at });

/** An audit_key_usage row. */
export interface AuditUsageDbRow {
  key_id: string;
  keystore: string;
  kms_key_arn: string;
  principal: string;
  operation: string;
  kms_operation: string;
  outcome: string;
  chain: string;
  count: number;
  first_at: string;
  last_at: string;
  mac: Buffer | null;
}

export const toKeyUsageRow = (u: AuditUsageDbRow): StoredUsageRow => ({
  chain: u.chain,
  mac: u.mac,
  keyId: u.key_id,
  keyStore: u.keystore,
  kmsKeyArn: u.kms_key_arn,
  principal: u.principal,
  operation: u.operation,
  kmsOperation: u.kms_operation,
  outcome: u.outcome,
  count: u.count,
  firstAt: u.first_at,
  lastAt: u.last_at,
});
