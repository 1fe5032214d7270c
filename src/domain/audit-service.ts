import type { KeyObject } from 'node:crypto';
import { fail, isoNow, KeyholdError, type Clock } from '../base/index.js';
import {
  AUDIT_ROOT_CHAIN,
  AuditChainVerifier,
  auditAnchorMac,
  auditRecordMac,
  auditUsageMac,
  canonicalJson,
  deriveAuditSigningKey,
  sameMac,
  signAuditDocument,
  verifyAuditDocument,
  type AuditSigningKey,
  type ChainProblemKind,
} from '../crypto/index.js';
import { usageKeyOf, type AdminAuditRecord, type AuditEntry, type AuditRecord, type KeyUsageRow, type XksAuditRecord } from './audit-model.js';
import type { AuditForwarder, AuditMaintenance, AuditQuery, AuditReader, AuditSink, AuditSnapshot, StoredAuditAnchor, StoredAuditRow, StoredUsageRow } from './audit-ports.js';
import { redactSecrets } from './redact.js';
import { createSegmentHash, verifyAuditSegment, type SegmentReport } from './audit-segment.js';
import { xksAuditRecord, type XksCall } from './xks-call.js';

/**
 * - wiped: a chain that has started has no records and no head (or was never started by Keyhold);
 * - column: the at column disagrees with the signed record;
 * - usage: the key usage aggregate disagrees with the signed records, or a row's MAC fails;
 * - anchor: an archive anchor was altered;
 * - checkpoint: the log no longer holds what a signed checkpoint names.
 */
export interface AuditProblem {
  chain: string;
  seq: number;
  kind: ChainProblemKind | 'column' | 'wiped' | 'usage' | 'anchor' | 'checkpoint';
  detail: string;
}

export interface AuditChainReport {
  chain: string;
  /** Records verified in this chain (those still in the log). */
  count: number;
  /** The head's seq (the last record written to the chain). */
  seq: number;
  /** Records 1..archived were archived (0: none). */
  archived: number;
}

export interface AuditVerifyReport {
  ok: boolean;
  /** Records proven intact (all of them when ok), over every chain. */
  count: number;
  chains: AuditChainReport[];
  /** The first bad record, when not ok. */
  problem?: AuditProblem;
  /** When a checkpoint was given: its time, and that everything up to it is still there. */
  checkpoint?: { time: string; chains: number } | undefined;
}

/** One exported line: the record's fields, its chain, its place in the chain and its MACs. */
export type ExportedAuditRecord = { chain: string; seq: number; prev: string; mac: string } & AuditRecord;

/** A signed head checkpoint (see docs/security.md). */
export interface AuditCheckpoint {
  type: 'keyhold-audit-checkpoint';
  version: 1;
  time: string;
  node: string;
  chains: { chain: string; seq: number; mac: string }[];
  publicKey: string;
  signature: string;
}

/** Where a page of records starts: after seq `after` of chain `chain`. */
export interface AuditCursor {
  chain: string;
  after: number;
}

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
/** Rows a filtered page reads at most before it answers (with a cursor to go on). */
const SCAN_PER_PAGE = 20 * PAGE;

const usageId = (u: Omit<KeyUsageRow, 'count' | 'firstAt' | 'lastAt'>) => [u.keyId, u.keyStore, u.kmsKeyArn, u.principal, u.operation, u.kmsOperation, u.outcome].join('\0');

/** The usage aggregate recomputed from records (and an anchor's carried rows). */
class UsageTally {
  readonly rows = new Map<string, KeyUsageRow>();
  addRow(r: KeyUsageRow): void {
    const id = usageId(r);
    const t = this.rows.get(id);
    if (!t) this.rows.set(id, { ...r });
    else {
      t.count += r.count;
      if (r.firstAt < t.firstAt) t.firstAt = r.firstAt;
      if (r.lastAt > t.lastAt) t.lastAt = r.lastAt;
    }
  }
  addRecord(r: AuditRecord): void {
    const k = usageKeyOf(r);
    if (k) this.addRow({ ...k, count: 1, firstAt: r.time, lastAt: r.time });
  }
  sorted(): KeyUsageRow[] {
    return [...this.rows.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, r]) => r);
  }
}

function parseAnchorUsage(text: string): KeyUsageRow[] {
  const v = JSON.parse(text) as unknown;
  return Array.isArray(v) ? (v as KeyUsageRow[]) : [];
}

const describeUsageRow = (u: Omit<KeyUsageRow, 'count' | 'firstAt' | 'lastAt'>) =>
  `key '${u.keyId}', principal '${u.principal || '-'}', ${u.operation}/${u.kmsOperation || '-'} ${u.outcome}`;

/** Raised when what a read would hand out fails verification (exports, the usage view). */
export function auditTamperError(what: string): KeyholdError {
  return Object.assign(new KeyholdError('InvalidState', `${what}: tampering suspected; run 'keyhold audit verify'`), { auditInvalid: true });
}

export function isAuditTamperError(e: unknown): e is KeyholdError {
  return e instanceof KeyholdError && (e as { auditInvalid?: boolean }).auditInvalid === true;
}

interface ChainWalk {
  chain: string;
  count: number;
  last: { seq: number; mac: Buffer };
  headSeq: number;
  anchor: StoredAuditAnchor | undefined;
  tally: UsageTally;
  problem?: AuditProblem | undefined;
}

/**
 * The audit log as the rest of Keyhold sees it: record XKS calls and admin actions (each
 * call resolves once the record is durable), verify every chain, export what verifies,
 * signed checkpoints and archives, and the key usage view. Forwarders (syslog) get a copy of
 * every committed record, best effort.
 */
export function createAuditService(deps: {
  sink: AuditSink;
  reader: AuditReader;
  key: KeyObject;
  node: string;
  clock: Clock;
  forwarders?: AuditForwarder[];
  maintenance?: AuditMaintenance | undefined;
}) {
  const { sink, reader, key, node, clock } = deps;
  const forwarders = deps.forwarders ?? [];
  let signer: AuditSigningKey | undefined;
  const signing = () => (signer ??= deriveAuditSigningKey(key));

  async function append(records: AuditRecord[]): Promise<AuditEntry[]> {
    const entries = await sink.append(records);
    for (const f of forwarders) f.forward(entries);
    return entries;
  }

  function exported(row: StoredAuditRow, record: AuditRecord): ExportedAuditRecord {
    return { chain: row.chain, seq: row.seq, ...record, prev: row.prev.toString('hex'), mac: row.mac.toString('hex') };
  }

  function parse(row: StoredAuditRow): AuditRecord | AuditProblem {
    try {
      const r = JSON.parse(row.body) as AuditRecord;
      if (typeof r !== 'object' || r === null || typeof r.time !== 'string') throw new Error('not a record');
      if (r.time !== row.at) return { chain: row.chain, seq: row.seq, kind: 'column', detail: `its at column was changed (the signed record says ${JSON.stringify(r.time)})` };
      return r;
    } catch {
      return { chain: row.chain, seq: row.seq, kind: 'column', detail: 'its body is not a record' };
    }
  }

  const isProblem = (v: AuditRecord | AuditProblem): v is AuditProblem => 'detail' in v && 'seq' in v && !('time' in v);

  function anchorProblem(a: StoredAuditAnchor): AuditProblem | undefined {
    if (a.mac.length !== 32 || !sameMac(auditAnchorMac(key, a.chain, a.seq, a.mac, a.usage, a.at), a.anchorMac)) {
      return { chain: a.chain, seq: a.seq, kind: 'anchor', detail: 'the archive anchor (where the records left after an archive continue from) was altered' };
    }
    return undefined;
  }

  /** Walks one chain in the snapshot: chain, columns, head, and the usage its records add up to. */
  async function walkChain(s: AuditSnapshot, chain: string, onRow?: (row: StoredAuditRow, r: AuditRecord) => AuditProblem | undefined): Promise<ChainWalk> {
    const anchor = await s.anchor(chain);
    const head = await s.head(chain);
    const tally = new UsageTally();
    const w: ChainWalk = { chain, count: 0, last: { seq: anchor?.seq ?? 0, mac: Buffer.alloc(0) }, headSeq: head?.seq ?? 0, anchor, tally };
    if (anchor) {
      w.problem = anchorProblem(anchor);
      if (w.problem) return w;
      for (const u of parseAnchorUsage(anchor.usage)) tally.addRow(u);
    }
    const v = new AuditChainVerifier(key, head, { chain, start: anchor });
    let rows = await s.rows(chain, anchor?.seq ?? 0, PAGE);
    while (rows.length > 0) {
      const more = rows.length === PAGE ? await s.rows(chain, rows[rows.length - 1]!.seq, PAGE) : [];
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
        const cp = v.push(row, rows[i + 1] ?? more[0]);
        if (cp) {
          w.count = v.count;
          w.problem = { chain, ...cp };
          return w;
        }
        const r = parse(row);
        const p = isProblem(r) ? r : onRow?.(row, r);
        if (p) {
          w.count = v.count - 1;
          w.problem = p;
          return w;
        }
        tally.addRecord(r as AuditRecord);
      }
      rows = more;
    }
    w.count = v.count;
    w.last = v.last;
    const p = v.finish(head);
    if (p) w.problem = { chain, ...p };
    else if (v.last.seq === 0 && !head) {
      w.problem = { chain, seq: 1, kind: 'wiped', detail: `the chain '${chain}' has no records and no head although the audit log has started: its records were deleted (tampering suspected)` };
    }
    return w;
  }

  function usageProblem(chain: string, tally: UsageTally, stored: StoredUsageRow[], seq: number): AuditProblem | undefined {
    const problem = (detail: string): AuditProblem => ({ chain, seq, kind: 'usage', detail });
    const seen = new Set<string>();
    for (const u of stored) {
      const id = usageId(u);
      seen.add(id);
      if (!u.mac) return problem(`the key usage row for ${describeUsageRow(u)} has no MAC (written before usage rows were protected; opening the log rebuilds them)`);
      if (!sameMac(auditUsageMac(key, { ...u, chain }), u.mac)) return problem(`the key usage row for ${describeUsageRow(u)} was edited`);
      const t = tally.rows.get(id);
      if (!t) return problem(`the key usage row for ${describeUsageRow(u)} matches no record (it was added, or its records were deleted)`);
      if (t.count !== u.count || t.firstAt !== u.firstAt || t.lastAt !== u.lastAt) {
        return problem(`the key usage row for ${describeUsageRow(u)} says ${u.count} call(s), the records ${t.count} (an older copy of the row was put back)`);
      }
    }
    for (const [id, t] of tally.rows) if (!seen.has(id)) return problem(`the key usage row for ${describeUsageRow(t)} (${t.count} call(s)) was deleted`);
    return undefined;
  }

  /** The root chain first, then the others by name. */
  function ordered(chains: string[]): string[] {
    return [AUDIT_ROOT_CHAIN, ...chains.filter((c) => c !== AUDIT_ROOT_CHAIN).sort()];
  }

  function checkpointOf(doc: unknown): AuditCheckpoint {
    const d = doc as Partial<AuditCheckpoint> | null;
    if (typeof d !== 'object' || d === null || d.type !== 'keyhold-audit-checkpoint' || d.version !== 1 || !Array.isArray(d.chains)) {
      fail('ValidationFailed', 'not a Keyhold audit checkpoint (expected a JSON document with type "keyhold-audit-checkpoint")');
    }
    for (const c of d.chains) {
      if (typeof c?.chain !== 'string' || !Number.isSafeInteger(c.seq) || typeof c.mac !== 'string' || !/^[0-9a-f]{64}$/.test(c.mac)) fail('ValidationFailed', 'the checkpoint names a chain without chain, seq and mac');
    }
    return d as AuditCheckpoint;
  }

  async function verify(opts: { checkpoint?: unknown } = {}): Promise<AuditVerifyReport> {
    const cp = opts.checkpoint === undefined ? undefined : checkpointOf(opts.checkpoint);
    return reader.snapshot(async (s) => {
      const reports: AuditChainReport[] = [];
      let total = 0;
      const failed = (p: AuditProblem, count: number): AuditVerifyReport => ({ ok: false, count: total + count, chains: reports, problem: p });
      if (cp && !verifyAuditDocument(cp as unknown as Record<string, unknown>, signing().publicKeyHex)) {
        return failed({ chain: AUDIT_ROOT_CHAIN, seq: 0, kind: 'checkpoint', detail: "the checkpoint's signature does not verify with this log's key (it was altered, or is another log's)" }, 0);
      }
      const wanted = new Map((cp?.chains ?? []).map((c) => [c.chain, c]));
      const announced = new Set<string>();
      const present = await s.chains();
      const chains = ordered(present);
      for (let i = 0; i < chains.length; i++) {
        const chain = chains[i]!;
        const want = wanted.get(chain);
        const w = await walkChain(s, chain, (row, r) => {
          if (chain === AUDIT_ROOT_CHAIN && r.kind === 'admin' && r.action === 'audit.chain.start' && r.outcome === 'ok') {
            announced.add(r.target);
            if (!present.includes(r.target) && !chains.includes(r.target)) chains.push(r.target);
          }
          if (want && row.seq === want.seq && row.mac.toString('hex') !== want.mac) {
            return { chain, seq: row.seq, kind: 'checkpoint', detail: `it is not the record the checkpoint of ${cp!.time} names as the head of chain '${chain}'` };
          }
          return undefined;
        });
        if (w.problem) return failed(w.problem, w.count);
        if (chain !== AUDIT_ROOT_CHAIN && !announced.has(chain)) {
          return failed({ chain, seq: 1, kind: 'forged', detail: `the chain '${chain}' was not started by Keyhold (the root chain has no audit.chain.start record for it)` }, w.count);
        }
        const up = usageProblem(chain, w.tally, await s.usage(chain), w.last.seq);
        if (up) return failed(up, w.count);
        if (want) {
          const archived = w.anchor?.seq ?? 0;
          if (w.last.seq < want.seq) {
            return failed(
              { chain, seq: w.last.seq + 1, kind: 'checkpoint', detail: `records ${w.last.seq + 1} to ${want.seq} of chain '${chain}' were written before the checkpoint of ${cp!.time} and are missing` },
              w.count,
            );
          }
          if (archived === want.seq && w.anchor!.mac.toString('hex') !== want.mac) {
            return failed({ chain, seq: want.seq, kind: 'checkpoint', detail: `the archive anchor of chain '${chain}' is not at the record the checkpoint names` }, w.count);
          }
        }
        total += w.count;
        reports.push({ chain, count: w.count, seq: w.headSeq, archived: w.anchor?.seq ?? 0 });
      }
      for (const c of wanted.keys()) {
        if (!chains.includes(c)) return failed({ chain: c, seq: 1, kind: 'checkpoint', detail: `the chain '${c}' named by the checkpoint of ${cp!.time} is gone` }, 0);
      }
      return { ok: true, count: total, chains: reports, ...(cp && { checkpoint: { time: cp.time, chains: cp.chains.length } }) };
    });
  }

  /**
   * One page of one chain: rows after `after` (within the query's seq range), each verified
   * (MAC, link to the row before, at column) before the filter looks at its signed body.
   */
  async function scan(chain: string, q: AuditQuery, after: number, limit: number): Promise<{ records: ExportedAuditRecord[]; next: number | null; error?: KeyholdError }> {
    const { lo, hi } = await reader.seqRange(chain, q.since, q.until);
    const anchor = await reader.anchor(chain);
    if (anchor) {
      const p = anchorProblem(anchor);
      if (p) throw auditTamperError(`chain '${chain}': ${p.detail}`);
    }
    let from = Math.max(after, lo, anchor?.seq ?? 0);
    const fromStart = from === (anchor?.seq ?? 0);
    const records: ExportedAuditRecord[] = [];
    let v: AuditChainVerifier | undefined = fromStart ? new AuditChainVerifier(key, undefined, { chain, start: anchor }) : undefined;
    let scanned = 0;
    for (;;) {
      const rows = await reader.rows(chain, from, hi, PAGE + 1);
      if (rows.length === 0) return { records, next: null };
      if (!v) {
        const first = rows[0]!;
        if (first.seq !== from + 1) throw auditTamperError(`chain '${chain}': record ${from + 1} is missing (deleted)`);
        if (!sameMac(auditRecordMac(key, first.seq, first.prev, first.body), first.mac)) throw auditTamperError(`chain '${chain}': record ${first.seq} fails verification`);
        v = new AuditChainVerifier(key, undefined, { chain, start: { seq: from, mac: first.prev } });
      }
      const page = rows.slice(0, PAGE);
      for (let i = 0; i < page.length; i++) {
        const row = page[i]!;
        const p = v.push(row, rows[i + 1]);
        // What verified before it is handed out; then the reader is told, and nothing more.
        if (p) return { records, next: null, error: auditTamperError(`the export reached record ${p.seq} of chain '${chain}', which fails verification (${p.kind}: ${p.detail})`) };
        const r = parse(row);
        if (isProblem(r)) return { records, next: null, error: auditTamperError(`the export reached record ${r.seq} of chain '${chain}', which fails verification (${r.kind}: ${r.detail})`) };
        from = row.seq;
        scanned++;
        if (matches(r, q)) {
          records.push(exported(row, r));
          if (records.length >= limit) return { records, next: row.seq };
        }
      }
      if (rows.length <= PAGE) return { records, next: null };
      if (scanned >= SCAN_PER_PAGE) return { records, next: from };
    }
  }

  async function usageRows(keyId: string): Promise<KeyUsageRow[]> {
    const tally = new UsageTally();
    for (const u of await reader.usage(keyId)) {
      if (!u.mac || !sameMac(auditUsageMac(key, u), u.mac)) throw auditTamperError(`the key usage row for ${describeUsageRow(u)} fails verification (edited, or not yet rebuilt)`);
      const { chain: _c, mac: _m, ...row } = u;
      tally.addRow(row);
    }
    return tally.sorted();
  }

  /** Recomputes each chain's usage rows from its verified records (when rows lack MACs, or on demand). */
  async function rebuildUsage(only?: readonly string[]): Promise<{ chains: number; rows: number }> {
    let chains = 0;
    let rows = 0;
    const m = deps.maintenance;
    if (!m) fail('Unsupported', 'this audit service cannot rebuild the usage aggregate');
    for (const chain of ordered(await reader.chains())) {
      if (only && !only.includes(chain)) continue;
      for (let attempt = 0; ; attempt++) {
        const w = await reader.snapshot((s) => walkChain(s, chain));
        if (w.problem) throw auditTamperError(`cannot rebuild the key usage of chain '${chain}' from records that fail verification (record ${w.problem.seq}: ${w.problem.detail})`);
        const sorted = w.tally.sorted();
        if (await m.replaceUsage(key, chain, sorted, w.last.seq)) {
          chains++;
          rows += sorted.length;
          break;
        }
        if (attempt >= 5) fail('Conflict', `the chain '${chain}' kept moving while its usage was rebuilt; try again`);
      }
    }
    return { chains, rows };
  }

  async function checkpoint(): Promise<AuditCheckpoint> {
    const chains = await reader.snapshot(async (s) => {
      const out: AuditCheckpoint['chains'] = [];
      for (const chain of ordered(await s.chains())) {
        const head = await s.head(chain);
        if (!head) throw auditTamperError(`the chain '${chain}' has no head`);
        // The head MAC proves Keyhold wrote this head; verify walks the records under it.
        const v = new AuditChainVerifier(key, head, { chain, start: { seq: head.seq, mac: head.mac } });
        const p = v.finish(head);
        if (p) throw auditTamperError(`the head of chain '${chain}' fails verification (${p.detail})`);
        out.push({ chain, seq: head.seq, mac: head.mac.toString('hex') });
      }
      return out;
    });
    return signAuditDocument(signing(), { type: 'keyhold-audit-checkpoint' as const, version: 1 as const, time: isoNow(clock), node, chains });
  }

  /**
   * Writes the records before `before` (a prefix of each chain, never its last record) as a
   * signed segment through `write`, and returns what commit() will remove. Nothing is removed
   * until commit() (call it once the segment is safely stored); the whole log must verify.
   */
  /**
   * Size-based retention: when more than `max` records are live (not archived), the archive
   * cutoff (a record time) that leaves about `target`, taken from each chain in proportion
   * to its size; undefined at or under `max`. The chains' last records always stay.
   */
  async function sizeCutoff(max: number, target: number): Promise<string | undefined> {
    const live = await Promise.all(
      (await reader.chains()).map(async (chain) => {
        const from = (await reader.anchor(chain))?.seq ?? 0;
        const head = (await reader.snapshot((s) => s.head(chain)))?.seq ?? 0;
        return { chain, from, head, n: head - from };
      }),
    );
    const total = live.reduce((n, c) => n + c.n, 0);
    if (total <= max) return undefined;
    const excess = total - target;
    let cutoff: string | undefined;
    for (const c of live) {
      const k = Math.min(c.n - 1, Math.ceil((excess * c.n) / total));
      if (k <= 0) continue;
      // The first record that stays: everything before its time is archived.
      const row = (await reader.rows(c.chain, c.from + k, c.head + 1, 1))[0];
      if (!row) continue;
      const r = parse(row);
      if (isProblem(r)) throw auditTamperError(`record ${row.seq} of chain '${c.chain}' fails verification (${r.detail}); nothing was archived`);
      if (cutoff === undefined || r.time < cutoff) cutoff = r.time;
    }
    return cutoff;
  }

  /**
   * Refuses an archive that could not do anything: `before` not a time, in the future, or
   * no chain with a record before it (besides its last, which always stays). Returns the
   * cutoff as ISO-8601 UTC.
   */
  async function checkArchive(before: string): Promise<string> {
    const cutoff = normaliseQuery({ until: before }).until!;
    if (Date.parse(cutoff) > clock.now()) fail('ValidationFailed', `before ${cutoff} is in the future: only records already written can be archived`);
    for (const chain of await reader.chains()) {
      const from = (await reader.anchor(chain))?.seq ?? 0;
      const head = (await reader.snapshot((s) => s.head(chain)))?.seq ?? 0;
      // The chain's oldest live record, unless it is its last (records come in time order).
      const row = (await reader.rows(chain, from, head, 1))[0];
      if (!row) continue;
      const r = parse(row);
      if (!isProblem(r) && r.time < cutoff) return cutoff;
    }
    return fail('ValidationFailed', `no audit record before ${cutoff} can be archived (the last record of each chain always stays); nothing was archived`);
  }

  async function archive(before: string, write: (text: string) => Promise<void>): Promise<ArchivePlan> {
    const m = deps.maintenance;
    if (!m) fail('Unsupported', 'this audit service cannot archive');
    const cutoff = normaliseQuery({ until: before }).until!;
    const report = await verify();
    if (!report.ok) throw auditTamperError(`the audit log does not verify (record ${report.problem!.seq} of chain '${report.problem!.chain}': ${report.problem!.detail}); nothing was archived`);
    const hash = createSegmentHash();
    const emit = async (line: string) => {
      hash.update(line);
      await write(line);
    };
    await emit(JSON.stringify({ type: 'keyhold-audit-segment', version: 1, before: cutoff, node }) + '\n');
    const cuts: { chain: string; from: number; to: number; prev: string; last: string; count: number; anchor: StoredAuditAnchor }[] = [];
    for (const chain of ordered(await reader.chains())) {
      const anchor = await reader.anchor(chain);
      const tally = new UsageTally();
      if (anchor) for (const u of parseAnchorUsage(anchor.usage)) tally.addRow(u);
      let after = anchor?.seq ?? 0;
      let first: StoredAuditRow | undefined;
      let last: StoredAuditRow | undefined;
      let count = 0;
      const v = new AuditChainVerifier(key, undefined, { chain, start: anchor });
      // The chain's last record always stays (it carries the head), so stop before it.
      const headSeq = (await reader.snapshot((s) => s.head(chain)))?.seq ?? 0;
      outer: for (;;) {
        const rows = await reader.rows(chain, after, headSeq, PAGE);
        if (rows.length === 0) break;
        for (const row of rows) {
          const r = parse(row);
          if (isProblem(r) || v.push(row)) throw auditTamperError(`record ${row.seq} of chain '${chain}' changed while archiving`);
          if (r.time >= cutoff) break outer;
          first ??= row;
          last = row;
          count++;
          tally.addRecord(r);
          await emit(JSON.stringify({ chain, seq: row.seq, prev: row.prev.toString('hex'), mac: row.mac.toString('hex'), body: row.body }) + '\n');
        }
        after = rows[rows.length - 1]!.seq;
      }
      if (!first || !last) continue;
      const at = isoNow(clock);
      const usage = canonicalJson(tally.sorted() as unknown as Record<string, unknown>[]);
      const anchorMac = auditAnchorMac(key, chain, last.seq, last.mac, usage, at);
      cuts.push({
        chain,
        from: first.seq,
        to: last.seq,
        prev: first.prev.toString('hex'),
        last: last.mac.toString('hex'),
        count,
        anchor: { chain, seq: last.seq, mac: last.mac, at, usage, anchorMac },
      });
    }
    const trailer = signAuditDocument(signing(), {
      type: 'keyhold-audit-segment-end' as const,
      version: 1 as const,
      before: cutoff,
      time: isoNow(clock),
      node,
      sha256: hash.digest(),
      chains: cuts.map(({ anchor: _a, ...c }) => c),
    });
    await write(JSON.stringify(trailer) + '\n');
    return {
      chains: cuts.map(({ chain, from, to, count }) => ({ chain, from, to, count })),
      async commit() {
        let removed = 0;
        for (const c of cuts) removed += await m.archive({ chain: c.chain, anchor: c.anchor });
        return removed;
      },
    };
  }

  /** Checks a segment written by archive with this log's keys: signature, hash, and every record's MAC and link. */
  function verifySegment(text: string): SegmentReport {
    return verifyAuditSegment(text, { publicKeyHex: signing().publicKeyHex, recordMac: (seq, prev, body) => auditRecordMac(key, seq, prev, body) });
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

    /** Walks every chain in one read transaction; reports the first bad record. */
    verify,

    /** Records matching the query, chain by chain (the root chain first), in seq order; each verified before it is emitted. */
    async *export(q: AuditQuery = {}): AsyncGenerator<ExportedAuditRecord> {
      const query = normaliseQuery(q);
      for (const chain of ordered(await reader.chains())) {
        let after = 0;
        for (;;) {
          const r = await scan(chain, query, after, PAGE);
          yield* r.records;
          if (r.error) throw r.error;
          if (r.next === null) break;
          after = r.next;
        }
      }
    },

    /**
     * One page of matching records after the cursor; next/nextChain are the cursor for the
     * following page (next null: the last page). A page may hold fewer than `limit` records
     * when the filter matched few of the rows it read.
     */
    async page(q: AuditQuery, cursor: AuditCursor, limit: number): Promise<{ records: ExportedAuditRecord[]; next: number | null; nextChain: string | null }> {
      const n = Math.max(1, Math.min(PAGE, Math.floor(limit)));
      const chains = ordered(await reader.chains());
      if (!chains.includes(cursor.chain)) fail('NotFound', `no audit chain '${cursor.chain.slice(0, 64)}'`);
      const r = await scan(cursor.chain, normaliseQuery(q), Math.max(0, Math.floor(cursor.after)), n);
      if (r.error) throw r.error;
      if (r.next !== null) return { records: r.records, next: r.next, nextChain: cursor.chain };
      const following = chains[chains.indexOf(cursor.chain) + 1];
      return { records: r.records, next: following === undefined ? null : 0, nextChain: following ?? null };
    },

    async usage(keyId: string): Promise<KeyUsageView> {
      return usageView(keyId, await usageRows(keyId));
    },

    rebuildUsage,
    checkpoint,
    archive,
    checkArchive,
    sizeCutoff,
    verifySegment,

    /** The Ed25519 public key that verifies checkpoints and segments (hex). */
    publicKey: (): string => signing().publicKeyHex,

    async close(): Promise<void> {
      await sink.close();
      await Promise.all(forwarders.map((f) => f.close()));
    },
  };
}

export interface ArchivePlan {
  chains: { chain: string; from: number; to: number; count: number }[];
  /** Writes the anchors and removes the archived records; returns how many were removed. */
  commit(): Promise<number>;
}

function matches(r: AuditRecord, q: AuditQuery): boolean {
  if (q.since !== undefined && r.time < q.since) return false;
  if (q.until !== undefined && r.time >= q.until) return false;
  if (q.keyId !== undefined && r.keyId !== q.keyId) return false;
  if (q.keyStore !== undefined && r.keyStore !== q.keyStore) return false;
  return true;
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

/** An admin record's change, through the one redactor (redact.ts). */
export function sanitizeChange(change: Record<string, unknown>): Record<string, unknown> {
  return redactSecrets(change) as Record<string, unknown>;
}
