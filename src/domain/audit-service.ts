import type { KeyObject } from 'node:crypto';
import { fail, isoNow, type Clock } from '../base/index.js';
import { AuditChainVerifier, type ChainProblemKind } from '../crypto/index.js';
import { xksAuditRecord, type XksCall } from './xks-call.js';
import { auditIndexColumns, type AdminAuditRecord, type AuditEntry, type AuditIndexColumns, type AuditRecord, type KeyUsageRow, type XksAuditRecord } from './audit-model.js';
import type { AuditForwarder, AuditQuery, AuditReader, AuditSink, StoredAuditRow } from './audit-ports.js';

export interface AuditProblem {
  seq: number;
  kind: ChainProblemKind | 'column';
  detail: string;
}

export interface AuditVerifyReport {
  ok: boolean;
  /** Records proven intact (all of them when ok). */
  count: number;
  /** The first bad record, when not ok. */
  problem?: AuditProblem;
}

/** One exported line: the record's fields, its place in the chain and its MACs. */
export type ExportedAuditRecord = { seq: number; prev: string; mac: string } & AuditRecord;

export interface UsageTotal {
  calls: number;
  lastUsedAt: string;
}

export interface KeyUsageView {
  keyId: string;
  keyStore: string | null;
  calls: number;
  firstUsedAt: string | null;
  lastUsedAt: string | null;
  kmsKeyArns: ({ kmsKeyArn: string } & UsageTotal)[];
  principals: ({ principal: string } & UsageTotal)[];
  operations: ({ operation: string; kmsOperation: string; outcome: string } & UsageTotal)[];
  /** Every combination of KMS key, principal, operation and outcome. */
  rows: KeyUsageRow[];
}

export type AdminEvent = Omit<AdminAuditRecord, 'kind' | 'node' | 'time'> & { time?: string };
export type XksEvent = Omit<XksAuditRecord, 'kind' | 'node'>;

export type AuditService = ReturnType<typeof createAuditService>;

/**
 * The stored XKS record, built with its members in sorted order: the writer serialises
 * records as canonical JSON (sorted keys) once per call, and skips the sort when the keys
 * already come in order. The type makes every member of XksAuditRecord appear here.
 */
function xksRecord(e: XksEvent, node: string): XksAuditRecord {
  const r: { [K in keyof Required<XksAuditRecord>]: XksAuditRecord[K] } = {
    accessKeyId: e.accessKeyId,
    authenticated: e.authenticated,
    awsPrincipalArn: e.awsPrincipalArn,
    awsSourceVpc: e.awsSourceVpc,
    awsSourceVpce: e.awsSourceVpce,
    errorName: e.errorName,
    keyId: e.keyId,
    keyStore: e.keyStore,
    keyStoreId: e.keyStoreId,
    keyVersion: e.keyVersion,
    kind: 'xks',
    kmsKeyArn: e.kmsKeyArn,
    kmsOperation: e.kmsOperation,
    kmsRequestId: e.kmsRequestId,
    kmsViaService: e.kmsViaService,
    latencyMs: e.latencyMs,
    node,
    operation: e.operation,
    outcome: e.outcome,
    policyRule: e.policyRule,
    remoteAddress: e.remoteAddress,
    status: e.status,
    time: e.time,
  };
  return r;
}

const PAGE = 1000;

/**
 * The audit log as the rest of Keyhold sees it: record XKS calls and admin actions (each
 * call resolves once the record is durable), verify the chain, export, and the key usage
 * view. Forwarders (syslog) get a copy of every committed record, best effort.
 */
export function createAuditService(deps: { sink: AuditSink; reader: AuditReader; key: KeyObject; node: string; clock: Clock; forwarders?: AuditForwarder[] }) {
  const { sink, reader, key, node, clock } = deps;
  const forwarders = deps.forwarders ?? [];

  async function append(records: AuditRecord[]): Promise<AuditEntry[]> {
    const entries = await sink.append(records);
    for (const f of forwarders) f.forward(entries);
    return entries;
  }

  function exported(row: StoredAuditRow): ExportedAuditRecord {
    const record = JSON.parse(row.body) as AuditRecord;
    return { seq: row.seq, ...record, prev: row.prev.toString('hex'), mac: row.mac.toString('hex') };
  }

  function columnProblem(row: StoredAuditRow): AuditProblem | undefined {
    let expected: AuditIndexColumns;
    try {
      expected = auditIndexColumns(JSON.parse(row.body) as AuditRecord);
    } catch {
      return { seq: row.seq, kind: 'column', detail: 'its body is not a record' };
    }
    for (const name of Object.keys(expected) as (keyof AuditIndexColumns)[]) {
      if (expected[name] !== row.columns[name]) {
        return { seq: row.seq, kind: 'column', detail: `its ${name} column was changed (the signed record says ${JSON.stringify(expected[name])})` };
      }
    }
    return undefined;
  }

  return {
    node,

    async xks(event: XksEvent): Promise<AuditEntry> {
      return (await append([xksRecord(event, node)]))[0]!;
    },

    /** The XKS plane's call record, stored as it is (see xks-call.ts). */
    async xksCall(call: XksCall): Promise<AuditEntry> {
      return (await append([xksAuditRecord(call, node)]))[0]!;
    },

    async admin(event: AdminEvent): Promise<AuditEntry> {
      const { time, change, ...rest } = event;
      const record: AdminAuditRecord = { kind: 'admin', time: time ?? isoNow(clock), node, ...rest, ...(change !== undefined && { change: sanitizeChange(change) }) };
      return (await append([record]))[0]!;
    },

    /** Walks the whole log in one read transaction; reports the first bad record. */
    async verify(): Promise<AuditVerifyReport> {
      return reader.snapshot(async (s) => {
        const head = await s.head();
        const v = new AuditChainVerifier(key, head);
        // One row of lookahead across pages, so an insertion can be told from an edit.
        let rows = await s.rows(0, PAGE);
        while (rows.length > 0) {
          const more = rows.length === PAGE ? await s.rows(rows[rows.length - 1]!.seq, PAGE) : [];
          for (let i = 0; i < rows.length; i++) {
            const row = rows[i]!;
            const p = v.push(row, rows[i + 1] ?? more[0]) ?? columnProblem(row);
            if (p) return { ok: false, count: v.count - (p.kind === 'column' ? 1 : 0), problem: p };
          }
          rows = more;
        }
        const p = v.finish(head);
        return p ? { ok: false, count: v.count, problem: p } : { ok: true, count: v.count };
      });
    },

    /** Records matching the query, in seq order, page by page. */
    async *export(q: AuditQuery = {}): AsyncGenerator<ExportedAuditRecord> {
      const query = normaliseQuery(q);
      let after = 0;
      for (;;) {
        const rows = await reader.query(query, after, PAGE);
        for (const row of rows) yield exported(row);
        if (rows.length < PAGE) return;
        after = rows[rows.length - 1]!.seq;
      }
    },

    /** One page of matching records after `afterSeq`; next is the cursor for the following page, or null. */
    async page(q: AuditQuery, afterSeq: number, limit: number): Promise<{ records: ExportedAuditRecord[]; next: number | null }> {
      const n = Math.max(1, Math.min(PAGE, Math.floor(limit)));
      const rows = await reader.query(normaliseQuery(q), Math.max(0, Math.floor(afterSeq)), n);
      return { records: rows.map(exported), next: rows.length === n ? rows[rows.length - 1]!.seq : null };
    },

    async usage(keyId: string): Promise<KeyUsageView> {
      return usageView(keyId, await reader.usage(keyId));
    },

    async close(): Promise<void> {
      await sink.close();
      await Promise.all(forwarders.map((f) => f.close()));
    },
  };
}

/** Time bounds as ISO-8601 UTC, so they compare correctly with the stored times. */
function normaliseQuery(q: AuditQuery): AuditQuery {
  const iso = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const t = Date.parse(v);
    if (Number.isNaN(t)) fail('ValidationFailed', `${name} '${v.slice(0, 64)}' is not a date or time (use ISO-8601, e.g. 2025-01-31T12:00:00Z)`);
    return new Date(t).toISOString();
  };
  return { ...q, since: iso('since', q.since), until: iso('until', q.until) };
}

export function usageView(keyId: string, rows: KeyUsageRow[]): KeyUsageView {
  const group = <K extends string>(keyOf: (r: KeyUsageRow) => K) => {
    const m = new Map<K, UsageTotal>();
    for (const r of rows) {
      const k = keyOf(r);
      const t = m.get(k) ?? { calls: 0, lastUsedAt: r.lastAt };
      t.calls += r.count;
      if (r.lastAt > t.lastUsedAt) t.lastUsedAt = r.lastAt;
      m.set(k, t);
    }
    return [...m].sort((a, b) => b[1].calls - a[1].calls);
  };
  const sorted = [...rows].sort((a, b) => b.count - a.count);
  return {
    keyId,
    keyStore: rows[0]?.keyStore ?? null,
    calls: rows.reduce((n, r) => n + r.count, 0),
    firstUsedAt: rows.reduce<string | null>((t, r) => (t === null || r.firstAt < t ? r.firstAt : t), null),
    lastUsedAt: rows.reduce<string | null>((t, r) => (t === null || r.lastAt > t ? r.lastAt : t), null),
    kmsKeyArns: group((r) => r.kmsKeyArn).map(([kmsKeyArn, t]) => ({ kmsKeyArn, ...t })),
    principals: group((r) => r.principal).map(([principal, t]) => ({ principal, ...t })),
    operations: group((r) => `${r.operation}\0${r.kmsOperation}\0${r.outcome}`).map(([k, t]) => {
      const [operation, kmsOperation, outcome] = k.split('\0') as [string, string, string];
      return { operation, kmsOperation, outcome, ...t };
    }),
    rows: sorted,
  };
}

const SECRET_WORDS = new Set(['secret', 'password', 'passphrase', 'pin', 'token', 'material', 'plaintext', 'cookie', 'authorization', 'sealed', 'private', 'otp']);
const MAX_CHANGE_STRING = 4096;
const MAX_CHANGE_DEPTH = 8;

function isSecretName(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/);
  return words.some((w) => SECRET_WORDS.has(w) || w.endsWith('secret') || w.endsWith('password') || w.endsWith('token'));
}

/**
 * A second line of defence for admin records: callers describe a change without secrets,
 * and anything that still looks like one (by property name, or binary data) is replaced.
 */
export function sanitizeChange(change: Record<string, unknown>): Record<string, unknown> {
  const clean = (v: unknown, depth: number): unknown => {
    if (v === null || typeof v === 'boolean') return v;
    if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
    if (typeof v === 'string') return v.length > MAX_CHANGE_STRING ? v.slice(0, MAX_CHANGE_STRING) + '…' : v;
    if (v instanceof Uint8Array || v instanceof ArrayBuffer) return '[binary]';
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
    if (depth >= MAX_CHANGE_DEPTH) return '[nested]';
    if (Array.isArray(v)) return v.slice(0, 1000).map((x) => clean(x, depth + 1) ?? null);
    if (typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (x === undefined || typeof x === 'function') continue;
        out[k] = isSecretName(k) ? '[redacted]' : clean(x, depth + 1);
      }
      return out;
    }
    return undefined;
  };
  return clean(change, 0) as Record<string, unknown>;
}
